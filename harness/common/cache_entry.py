"""Cache entries: what every cache under `ADAPTBENCH_CACHE` writes, reads and locks the same way.

A folder entry (`CacheEntry`: finished cells, stored predictions, trained artifacts, retrieval
indexes, converted models) is written into a temporary sibling folder, `<name>.tmp<pid>`, with
its marker file last, and renamed into place: a folder under the entry's name is whole, and a
killed writer leaves only a temporary folder, which the next writer removes under the entry's
lock. A reader parses the entry; a parse that fails (`Damaged`, or a file that does not read or
parse) means a damaged or hand-edited entry: it is reported, never reused, and computed again.

A file entry (`read_json_entry`: knowledge drills, probe measurements, extracted documents,
endpoint responses) is one JSON file, written atomically (harness.common.files).

The keys are the caches' own business: this module only places, locks and checks entries.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from harness.common.locks import file_lock, lock_path

T = TypeVar("T")


class Damaged(ValueError):
    """An entry that cannot be trusted; the message says why (and `path` which file)."""

    def __init__(self, problem: str, path: Path | None = None):
        super().__init__(problem)
        self.problem, self.path = problem, path


# What reading a damaged entry raises: a missing or unreadable file, JSON that does not parse,
# fields of the wrong type or missing, a library that refuses its own file.
DAMAGE_ERRORS = (OSError, ValueError, TypeError, KeyError, RuntimeError)


@dataclass(frozen=True)
class CacheEntry:
    """One entry `<cache>/<kind>/<key>/`, whole when its `marker` file is there."""

    folder: Path
    marker: str  # the file written last: its presence means a whole entry
    lock_file: Path | None = None  # held while the entry is computed (None: never locked)

    @classmethod
    def at(cls, cache: Path, kind: str, key: str, marker: str, lock: str | None = None):
        """`<cache>/<kind>/<key>/`, locked by `<cache>/locks/<lock>-<key>.lock` when `lock` names it."""
        return cls(cache / kind / key, marker, lock_path(cache, lock, key) if lock else None)

    @property
    def marker_path(self) -> Path:
        return self.folder / self.marker

    def is_whole(self) -> bool:
        return self.marker_path.is_file()

    def lock(self, on_wait: Callable[[], None] | None = None) -> AbstractContextManager:
        """One process computes the entry; another that needs it waits (`on_wait` is called once),
        then finds it whole."""
        if self.lock_file is None:
            return nullcontext()
        return file_lock(self.lock_file, on_wait=on_wait)

    def read(self, parse: Callable[[Path], T], on_damage: Callable[[Exception], None]) -> T | None:
        """`parse(folder)` of a whole entry; None when there is none, or when it is damaged
        (`parse` raised one of DAMAGE_ERRORS: `on_damage` is told, and the entry is not used)."""
        if not self.is_whole():
            return None
        try:
            return parse(self.folder)
        except DAMAGE_ERRORS as exc:
            on_damage(exc)
            return None

    def remove_orphans(self) -> None:
        """Temporary folders that killed writers left (call it holding the entry's lock)."""
        for orphan in self.folder.parent.glob(f"{self.folder.name}.tmp*"):
            shutil.rmtree(orphan, ignore_errors=True)

    def write(self, fill: Callable[[Path], None], replace: bool = True) -> None:
        """`fill(tmp)` writes the entry's files into a temporary folder (the marker last), which
        is then renamed to the entry's name. An entry already there is replaced (a damaged one,
        or a forced recompute), unless `replace` is False: then the one there is kept. Another
        process that placed a whole entry first wins, and ours is dropped."""
        tmp = self.folder.with_name(f"{self.folder.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tmp.mkdir(parents=True)
            fill(tmp)
            if not (tmp / self.marker).is_file():
                raise RuntimeError(f"{self.folder}: the entry was written without {self.marker}")
            if self.folder.exists():
                if self.is_whole() and not replace:
                    shutil.rmtree(tmp, ignore_errors=True)
                    return
                shutil.rmtree(self.folder, ignore_errors=True)
            try:
                os.replace(tmp, self.folder)
            except OSError:
                if not self.is_whole():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # another process placed it first
        except BaseException:  # interrupted or failed: leave no temporary folder behind
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def read_json_entry(path: Path, on_damage: Callable[[str], None]) -> dict[str, Any] | None:
    """The JSON object a file entry holds; None when absent, or damaged (`on_damage` says why)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        on_damage(str(exc))
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        on_damage(str(exc))
        return None
    if not isinstance(value, dict):
        on_damage(f"a JSON {type(value).__name__}, not an object")
        return None
    return value
