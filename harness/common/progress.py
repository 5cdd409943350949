"""Progress of long phases (generation, log-likelihoods, embedding, indexing) on stderr.

On a terminal it is a tqdm bar. Anywhere else (CI, `nohup`, Ray workers) a bar is unreadable
and tqdm's carriage returns pile up into one huge line, so it is a plain line about every
`interval` seconds instead: items done of total, tokens/s where tokens are counted, time left.
A phase shorter than the interval prints nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from tqdm.auto import tqdm

LINE_INTERVAL_S = 30.0


class Progress:
    """Counts items (and tokens) of one phase and reports them; a no-op when disabled."""

    def __init__(
        self,
        what: str,
        total: int,
        unit: str = "items",
        enabled: bool = True,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        interval: float = LINE_INTERVAL_S,
    ):
        self.what, self.total, self.unit = what, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.clock, self.interval = clock, interval
        self.done = 0
        self.tokens = 0
        self.lines = 0  # plain lines written so far
        self.enabled = enabled and total > 0
        self.bar = None
        self.start = self.last = clock()
        if self.enabled and is_terminal(self.stream):
            self.bar = tqdm(total=total, desc=what, unit=unit, leave=False, file=self.stream)

    def update(self, items: int = 0, tokens: int = 0) -> None:
        self.done += items
        self.tokens += tokens
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(items)
            return
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self._line(now)

    def close(self) -> None:
        """The last line, only where lines were written (a short phase stays silent)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.enabled and self.lines:
            self._line(self.clock())
        self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def message(self, now: float) -> str:
        elapsed = max(now - self.start, 1e-9)
        share = self.done / self.total if self.total else 1.0
        parts = [f"{self.what}: {self.done}/{self.total} {self.unit} ({share:.0%})"]
        if self.tokens:
            parts.append(f"{self.tokens / elapsed:.1f} tokens/s")
        if self.done >= self.total:
            parts.append(f"done in {duration_text(elapsed)}")
        elif self.done:
            left = elapsed * (self.total - self.done) / self.done
            parts.append(f"about {duration_text(left)} left")
        else:
            parts.append(f"{duration_text(elapsed)} so far")
        return ", ".join(parts)

    def _line(self, now: float) -> None:
        print(f"[adaptbench] {self.message(now)}", file=self.stream, flush=True)
        self.lines += 1


def is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):  # a closed or detached stream
        return False


def duration_text(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
