"""The state of every unit of a run (training units and cell units), shown as they change.

On a terminal it is a live block, one line per unit (waiting, running on which node, done,
failed, retried), redrawn in place. Anywhere else (CI, `nohup`, a log file) it is one plain line
per change of state, so a log reads as a history: what started where, what ended how.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from harness.common.progress import duration_text, is_terminal

WAITING, RUNNING, DONE, FAILED, LOST, CACHED = (
    "waiting",
    "running",
    "done",
    "failed",
    "lost",
    "reused",
)
FINAL = (DONE, FAILED, LOST, CACHED)


@dataclass
class UnitState:
    label: str
    state: str = WAITING
    where: str = ""  # node and process of the latest attempt
    attempts: int = 0
    started: float | None = None
    seconds: float | None = None
    note: str = ""  # why it failed, or what it reused

    def line(self, now: float) -> str:
        parts = [f"{self.label}: {self.state}"]
        if self.state == RUNNING and self.where:
            parts[0] += f" on {self.where}"
        if self.attempts > 1:
            parts.append(f"attempt {self.attempts} (retried)")
        if self.state == RUNNING and self.started is not None:
            parts.append(duration_text(now - self.started))
        if self.state in (DONE, FAILED) and self.seconds is not None:
            parts.append(f"in {duration_text(self.seconds)}")
        if self.note:
            parts.append(self.note)
        return ", ".join(parts)


@dataclass
class Board:
    """Unit states by id; `update` records a change and shows it."""

    stream: TextIO = field(default_factory=lambda: sys.stderr)
    enabled: bool = True
    clock: Callable[[], float] = time.monotonic
    units: dict[str, UnitState] = field(default_factory=dict)
    _drawn: int = 0  # lines of the live block currently on the terminal

    @property
    def live(self) -> bool:
        return self.enabled and is_terminal(self.stream)

    def add(self, unit_id: str, label: str) -> None:
        self.units[unit_id] = UnitState(label)

    def update(
        self,
        unit_id: str,
        state: str,
        where: str = "",
        attempts: int | None = None,
        note: str = "",
    ) -> None:
        u = self.units[unit_id]
        now = self.clock()
        changed = state != u.state or (attempts is not None and attempts != u.attempts)
        if state == RUNNING and (u.state != RUNNING or changed):
            u.started = now
        if state in (DONE, FAILED) and u.started is not None:
            u.seconds = now - u.started
        u.state, u.note = state, note or u.note
        u.where = where or u.where
        if attempts is not None:
            u.attempts = attempts
        if not changed:
            return
        if self.live:
            self.draw()
        elif self.enabled:
            print(f"[adaptbench] {u.line(now)}", file=self.stream, flush=True)

    def draw(self) -> None:
        """Redraw the live block in place (a no-op off a terminal)."""
        if not self.live:
            return
        now = self.clock()
        lines = [u.line(now) for u in self.units.values()]
        up = f"\x1b[{self._drawn}F" if self._drawn else ""
        body = "".join(f"\x1b[2K{line}\n" for line in lines)
        self.stream.write(up + body)
        self.stream.flush()
        self._drawn = len(lines)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for u in self.units.values():
            out[u.state] = out.get(u.state, 0) + 1
        return out
