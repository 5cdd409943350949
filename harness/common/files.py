"""Atomic file writes (a reader sees the old file or the whole new one, never a half-written
one), and folders that a failed step leaves as it found them."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:  # interrupted or failed: leave no orphan temporary file
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, payload: Any) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")


def missing_dirs(folder: Path) -> list[Path]:
    """`folder` and those of its parents that do not exist yet (what a mkdir would create)."""
    return [p for p in (folder, *folder.parents) if not p.exists()]


def remove_empty(folders: list[Path]) -> None:
    """Remove these folders, deepest first, where they are empty (a non-empty one is kept)."""
    for p in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # not empty (or gone): keep what is there
            p.rmdir()
