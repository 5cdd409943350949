"""Inter-process locks on cache entries, so two identical runs do the work once.

A lock is an advisory `flock` on a file under the cache. The operating system releases it when
the holding process ends in any way (exit, exception, kill -9), so a crashed holder never blocks
a later run; the lock file itself is left in place and carries no state. Where `fcntl` is not
available (Windows) locking is skipped: identical concurrent runs then both do the work, as
before, and still never read a half-written entry (entries are written atomically).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

POLL_S = 0.2


class LockTimeout(TimeoutError):
    """A lock still held by another process after the caller's timeout."""


@contextmanager
def file_lock(
    path: Path,
    on_wait: Callable[[], None] | None = None,
    timeout_s: float | None = None,
) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if needed) for the `with` block.

    When another process holds it, `on_wait` is called once and this waits (polling, so a
    timeout can apply); `timeout_s=None` waits as long as the holder lives.
    """
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        start = time.monotonic()
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited and on_wait is not None:
                    on_wait()
                waited = True
                if timeout_s is not None and time.monotonic() - start > timeout_s:
                    raise LockTimeout(f"{path}: still locked by another process") from None
                time.sleep(POLL_S)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def lock_path(cache: Path, kind: str, key: str) -> Path:
    """The lock file of one cache entry: `<cache>/locks/<kind>-<key>.lock`."""
    return cache / "locks" / f"{kind}-{key}.lock"
