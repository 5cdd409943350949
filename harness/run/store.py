"""The cell store: the cache of finished cells, under their full key (harness.run.keys).

A finished cell is one cache entry `<cache>/runs/<key>/` (harness.common.cache_entry): its samples,
then its record, written into a temporary folder and renamed into place, so a record there
always means a finished cell. A damaged entry (unparsable record, samples that do not match the
record's checksum or item count) is reported and recomputed, never reused. Identical cells
started together take the cell's lock (`cell_lock`), so the second reuses the first's result.
A cell's copy in the output folder (`records/`, `samples/`) is checked the same way before it
is reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from harness.common import distributed
from harness.common.cache_entry import CacheEntry
from harness.common.files import write_json_atomic, write_text_atomic
from harness.common.locks import file_lock, lock_path
from harness.common.log import log
from harness.models.resolve import cache_dir


def cell_entry(key: str) -> CacheEntry:
    """A finished cell's entry `<cache>/runs/<key>/`: its samples and, last, its record. It is
    written under `cell_lock`, which also covers the cell's stored predictions."""
    return CacheEntry.at(cache_dir(), "runs", key, marker="record.json")


def cell_lock(prediction_key: str, label: str) -> AbstractContextManager:
    """One process at a time computes a cell; an identical concurrent run waits, then reuses it.

    The lock is the prediction key's (`<cache>/locks/run-<prediction key>.lock`), so a run that
    differs only in what it scores waits too, then re-scores the stored predictions. Not in a
    multi-process (multi-GPU) run: its helper ranks decide on their own whether to join a
    cell's training, so rank 0 must not wait for a lock they know nothing about.
    """
    if distributed.active():
        return nullcontext()
    path = lock_path(cache_dir(), "run", prediction_key)
    return file_lock(
        path, on_wait=lambda: log(f"{label}: another run is computing this cell; waiting ({path})")
    )


def find_cached(out_dir: Path, task: str, arm: str, key: str, n_items: int) -> dict | None:
    """A finished record with this key: first in the shared cache, then in the output folder.

    The cache entry comes first: it is what the run stored, and placing it replaces an output
    folder's copy, so a record edited by hand there is not reused as it is. An entry whose
    record does not parse or whose samples are missing, truncated or altered is damaged: it is
    reported with its path and passed over (so the cell is recomputed).
    """
    cell = f"{task}__{arm}"
    entry = cell_entry(key)
    candidates = [
        (entry.marker_path, entry.folder / "samples.jsonl"),
        (out_dir / "records" / f"{cell}.json", out_dir / "samples" / f"{cell}.jsonl"),
    ]
    for rec_path, samples_path in candidates:
        try:
            text = rec_path.read_text(encoding="utf-8")
        except OSError:
            continue  # no entry here
        try:
            record = json.loads(text)
            if not isinstance(record, dict):
                raise ValueError(f"a JSON {type(record).__name__}, not an object")
        except ValueError as exc:
            _warn_damaged(rec_path, f"the record does not parse ({exc})")
            continue
        if record.get("content_hash") != key or record.get("status") != "ok":
            continue  # another cell's inputs, or a failure: not reusable, not damaged
        problem = samples_problem(samples_path, record, n_items)
        if problem:
            _warn_damaged(samples_path, problem)
            continue
        record.update(id=cell, task=task, arm=arm, cached=True, samples=f"samples/{cell}.jsonl")
        place_cell(out_dir, record, samples_path)
        return record
    return None


# Damaged entries already reported by this process, with the file's state then: a run looks a
# cell up when it plans it and again under the cell's lock, and says so once.
_REPORTED: set[tuple[str, str, tuple[int, int] | None]] = set()


def _warn_damaged(path: Path, problem: str) -> None:
    try:
        st = path.stat()
        state: tuple[int, int] | None = (st.st_size, st.st_mtime_ns)
    except OSError:
        state = None
    seen = (str(path), problem, state)
    if seen not in _REPORTED:
        _REPORTED.add(seen)
        log(f"warning: damaged cache entry {path}: {problem}; recomputing")


def samples_problem(path: Path, record: dict, n_items: int) -> str | None:
    """Why a finished cell's samples file cannot be trusted, or None when it is whole.

    Checked: it exists, matches the sha256 its record holds (records written before the checksum
    skip that), and holds one parseable JSON object per eval item.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return "the samples file is missing"
    if not data:
        return "the samples file is empty"
    expected = record.get("samples_sha256")
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        return "the samples file does not match its record's checksum (truncated or altered)"
    lines = data.decode("utf-8", errors="replace").splitlines()
    for lineno, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except ValueError:
            return f"line {lineno} of the samples file does not parse"
        if not isinstance(row, dict):
            return f"line {lineno} of the samples file is not a JSON object"
    if len(lines) != n_items:
        return f"the samples file has {len(lines)} rows for {n_items} eval items"
    return None


def store_cell(out_dir: Path, record: dict, rows: list[dict]) -> None:
    """A finished cell into the cache (samples, then its record: harness.common.cache_entry) and
    the output folder. The record holds the samples' checksum, so a damaged samples file is
    caught on reuse. Failed cells go to the output folder only; they are retried on the next run.
    """
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    record["samples_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if record["status"] != "ok":
        write_text_atomic(out_dir / "samples" / f"{record['id']}.jsonl", text)
        write_json_atomic(out_dir / "records" / f"{record['id']}.json", record)
        return

    def fill(folder: Path) -> None:
        (folder / "samples.jsonl").write_text(text, encoding="utf-8")
        (folder / "record.json").write_text(_record_text(record), encoding="utf-8")

    entry = cell_entry(record["content_hash"])
    entry.write(fill)
    place_cell(out_dir, record, entry.folder / "samples.jsonl")


def _record_text(record: dict) -> str:
    """A record as write_json_atomic writes it (the output folder's copy reads the same)."""
    return json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n"


def place_cell(out_dir: Path, record: dict, samples_src: Path) -> None:
    cell = record["id"]
    dst = out_dir / "samples" / f"{cell}.jsonl"
    dst.parent.mkdir(parents=True, exist_ok=True)
    if samples_src.resolve() != dst.resolve():
        tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
        try:
            shutil.copyfile(samples_src, tmp)
            os.replace(tmp, dst)
        except BaseException:  # interrupted or failed: leave no orphan temporary file
            tmp.unlink(missing_ok=True)
            raise
    write_json_atomic(out_dir / "records" / f"{cell}.json", record)
