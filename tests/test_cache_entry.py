"""The one cache-entry mechanism (harness.common.cache_entry): whole or absent, damage reported."""

from __future__ import annotations

import json
import os

import pytest

from harness.common.cache_entry import CacheEntry, Damaged, read_json_entry


def _fill(text: str):
    def fill(folder):
        (folder / "rows.jsonl").write_text(text)
        (folder / "meta.json").write_text(json.dumps({"rows": text}))

    return fill


def _parse(folder):
    meta = json.loads((folder / "meta.json").read_text())
    if meta["rows"] != (folder / "rows.jsonl").read_text():
        raise Damaged("rows do not match", folder / "rows.jsonl")
    return meta["rows"]


def test_an_entry_is_written_whole_replaced_and_read(tmp_path):
    entry = CacheEntry.at(tmp_path, "things", "k1", marker="meta.json", lock="thing")
    assert entry.lock_file == tmp_path / "locks" / "thing-k1.lock"
    assert entry.read(_parse, pytest.fail) is None and not entry.is_whole()
    with entry.lock():
        entry.write(_fill("a"))
    assert entry.read(_parse, pytest.fail) == "a"
    entry.write(_fill("b"))  # a recompute replaces the entry
    assert entry.read(_parse, pytest.fail) == "b"
    entry.write(_fill("c"), replace=False)  # a whole entry there is kept
    assert entry.read(_parse, pytest.fail) == "b"
    assert sorted(p.name for p in (tmp_path / "things").iterdir()) == ["k1"]


def test_an_interrupted_write_leaves_nothing_and_orphans_are_removed(tmp_path, monkeypatch):
    entry = CacheEntry(tmp_path / "e" / "k", "meta.json")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(os, "replace", interrupted)
        with pytest.raises(KeyboardInterrupt):
            entry.write(_fill("a"))
    assert not list((tmp_path / "e").iterdir())
    with pytest.raises(RuntimeError, match="without meta.json"):
        entry.write(lambda folder: (folder / "rows.jsonl").write_text("x"))  # no marker
    assert not list((tmp_path / "e").iterdir())
    orphan = tmp_path / "e" / "k.tmp99999"
    orphan.mkdir()
    entry.remove_orphans()
    assert not orphan.exists()


def test_a_damaged_entry_is_reported_and_not_used(tmp_path):
    entry = CacheEntry(tmp_path / "k", "meta.json")
    entry.write(_fill("a"))
    (entry.folder / "rows.jsonl").write_text("truncated")
    seen: list[Exception] = []
    assert entry.read(_parse, seen.append) is None
    assert isinstance(seen[0], Damaged) and seen[0].path == entry.folder / "rows.jsonl"
    (entry.folder / "meta.json").write_text("{")
    assert entry.read(_parse, seen.append) is None and isinstance(seen[1], ValueError)


def test_a_file_entry_reads_an_object_or_says_why_not(tmp_path):
    problems: list[str] = []
    path = tmp_path / "x.json"
    assert read_json_entry(path, problems.append) is None and problems == []  # absent
    path.write_text('{"a": 1}')
    assert read_json_entry(path, problems.append) == {"a": 1}
    path.write_text("[1]")
    assert read_json_entry(path, problems.append) is None and "not an object" in problems[-1]
    path.write_text("{")
    assert read_json_entry(path, problems.append) is None and len(problems) == 2
