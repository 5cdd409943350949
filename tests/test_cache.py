"""The cache never serves a stale or damaged result: item hashes, damaged entries, temp files."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.common.files import write_text_atomic
from harness.common.itemhash import item_hash
from harness.data.tasks import Document, Item, load_task
from harness.run.keys import cell_keys
from harness.run.store import find_cached, samples_problem
from harness.run.suite import load_suite

from .conftest import QA_ROWS, write_jsonl

FULL_ITEM = Item(
    id="q1",
    question="Which form?",
    answers=("Form BM-12",),
    answerable=True,
    choices=("A form", "B form"),
    label=1,
    context="Claims use Form BM-12.",
    doc_ids=("molar-form",),
    labels=(("route", "fast"), ("severity", "low")),
    source="eval.jsonl:1",
)


def _mutations(value):
    """A different value of the same shape, for every field type an Item or Document has."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return ((value[0][0], value[0][1] + "x"),) + value[1:]
    if isinstance(value, tuple):
        return value[:-1] + (value[-1] + "x",)
    raise AssertionError(f"no mutation for {value!r}: extend the test with the new field type")


@pytest.mark.parametrize("obj", [FULL_ITEM, Document("d1", "text", "title", "c.jsonl:1")])
def test_item_hash_changes_with_every_content_field(obj):
    before = item_hash(obj)
    for f in dataclasses.fields(obj):
        changed = dataclasses.replace(obj, **{f.name: _mutations(getattr(obj, f.name))})
        if f.name in ("source", "cluster"):  # where it sits; how statistics group it
            assert item_hash(changed) == before
        else:
            assert item_hash(changed) != before, f"{type(obj).__name__}.{f.name} not in the hash"


EVAL_ROW = {
    "id": "q1",
    "question": "Which form starts a claim?",
    "answers": ["Form BM-12"],
    "answerable": True,
    "context": "Claims use Form BM-12.",
    "doc_id": ["molar-form"],
}
ROW_MUTATIONS = {
    "question": "Which form ends a claim?",
    "answers": ["Form BM-13"],
    "answerable": False,
    "context": "Claims use Form BM-13.",
    "doc_id": ["road-code"],
    "id": "q9",
}


def test_every_field_of_an_eval_or_train_row_changes_the_cell_key(tiny_suite, tmp_path):
    """Rewriting the eval (or train) file with one field changed gives a new cell key."""
    data = tmp_path / "data"
    suite = load_suite(tiny_suite)
    spec = suite.arms[0]

    def key_with(eval_row, train_rows=None) -> str:
        write_jsonl(data / "eval.jsonl", [eval_row, *QA_ROWS[1:]])
        if train_rows is not None:
            write_jsonl(data / "train.jsonl", train_rows)
        task = load_task(suite.tasks[0])
        return cell_keys(suite, task, task.eval, spec, "fp", "float32", "cpu")[1]

    base_key = key_with(EVAL_ROW)
    keys = {base_key}
    for name, value in ROW_MUTATIONS.items():
        key = key_with(EVAL_ROW | {name: value})
        assert key not in keys, f"changing {name!r} of an eval item did not change the key"
        keys.add(key)
    # The same items at other lines of the file are the same content.
    write_jsonl(data / "eval.jsonl", [*QA_ROWS[1:], EVAL_ROW])
    task = load_task(suite.tasks[0])
    moved = cell_keys(suite, task, task.eval, spec, "fp", "float32", "cpu")[1]
    assert moved != base_key  # item order is part of what the arm sees
    train = [dict(r, id="t" + r["id"]) for r in QA_ROWS]
    with_train = key_with(EVAL_ROW, train)
    assert key_with(EVAL_ROW, [dict(train[0], doc_id=["x"]), *train[1:]]) != with_train


def test_structured_labels_change_the_cell_key(tmp_path, tiny_model_dir):
    rows = [
        {"id": f"c{i}", "question": f"claim {i}", "answers": ["x"], "labels": {"route": "fast"}}
        for i in range(3)
    ]
    write_jsonl(tmp_path / "eval.jsonl", rows)
    suite_path = tmp_path / "s.yaml"
    suite_path.write_text(
        f"name: s\nmodel: {{name: {tiny_model_dir}}}\ntasks:\n  - name: t\n"
        "    data: {eval: eval.jsonl}\n    template: '{question}'\n"
        "    output_fields: [route]\narms:\n  - arm: base\n",
        encoding="utf-8",
    )
    suite = load_suite(suite_path)
    task = load_task(suite.tasks[0])
    before = cell_keys(suite, task, task.eval, suite.arms[0], "fp", "float32", "cpu")[1]
    rows[1]["labels"] = {"route": "slow"}
    write_jsonl(tmp_path / "eval.jsonl", rows)
    task = load_task(suite.tasks[0])
    assert cell_keys(suite, task, task.eval, suite.arms[0], "fp", "float32", "cpu")[1] != before


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_a_changed_doc_id_recomputes_and_a_damaged_entry_is_reported(
    tiny_suite, tmp_path, fake_backend
):
    out = tmp_path / "out"
    assert invoke("run", tiny_suite, "--arms", "base", "--out", out, "--no-progress").exit_code == 0
    eval_file = tmp_path / "data" / "eval.jsonl"
    write_jsonl(eval_file, [dict(QA_ROWS[0], doc_id=["d9"]), *QA_ROWS[1:]])
    r = invoke("run", tiny_suite, "--arms", "base", "--out", out, "--no-progress")
    (run,) = json.loads((out / "results.json").read_text())["runs"]
    assert r.exit_code == 0 and not run["cached"] and "unchanged" not in r.output
    rows = [json.loads(x) for x in (out / run["samples"]).read_text().splitlines()]
    assert all(len(row["item_hash"]) == 16 for row in rows)

    # Truncate both copies (output folder and cache): reported with their paths, recomputed.
    cache_samples = Path(os.environ["ADAPTBENCH_CACHE"]) / "runs" / run["content_hash"]
    for path in (out / run["samples"], cache_samples / "samples.jsonl"):
        text = path.read_text()
        path.write_text(text[: len(text) // 2])
    r = invoke("run", tiny_suite, "--arms", "base", "--out", out, "--no-progress")
    (again,) = json.loads((out / "results.json").read_text())["runs"]
    assert r.exit_code == 0 and not again["cached"]
    assert r.output.count(f"damaged cache entry {out / run['samples']}") == 1
    assert r.output.count(f"damaged cache entry {cache_samples / 'samples.jsonl'}") == 1
    assert samples_problem(out / again["samples"], again, 6) is None


def _entry(folder: Path, rows: int = 2, **record) -> dict:
    text = "".join(json.dumps({"id": f"q{i}", "scores": {}}) + "\n" for i in range(rows))
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    (folder / "records").mkdir(parents=True, exist_ok=True)
    (folder / "samples" / "t__a.jsonl").write_text(text)
    rec = {"content_hash": "k", "status": "ok"} | record
    (folder / "records" / "t__a.json").write_text(json.dumps(rec))
    return rec


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda out: (out / "samples" / "t__a.jsonl").write_text(""), "samples file is empty"),
        (lambda out: (out / "samples" / "t__a.jsonl").unlink(), "samples file is missing"),
        (
            lambda out: (out / "samples" / "t__a.jsonl").write_text('{"id": "q0"}\n{"id": '),
            "line 2 of the samples file does not parse",
        ),
        (
            lambda out: (out / "samples" / "t__a.jsonl").write_text('{"id": "q0"}\n'),
            "1 rows for 2 eval items",
        ),
        (lambda out: (out / "records" / "t__a.json").write_text('{"content_'), "does not parse"),
        (lambda out: (out / "records" / "t__a.json").write_text("[]"), "does not parse"),
    ],
)
def test_damaged_entries_are_reported_and_not_reused(tmp_path, capsys, damage, message):
    out = tmp_path / "out"
    _entry(out)
    assert find_cached(out, "t", "a", "k", 2) is not None  # whole: reused
    damage(out)
    assert find_cached(out, "t", "a", "k", 2) is None
    # A run looks a cell up when it plans it and again under its lock: one warning.
    assert find_cached(out, "t", "a", "k", 2) is None
    err = capsys.readouterr().err
    assert "damaged cache entry" in err and message in err and str(out) in err
    assert err.count("damaged cache entry") == 1


def test_a_samples_file_that_does_not_match_its_checksum_is_damaged(tmp_path):
    out = tmp_path / "out"
    rec = _entry(out, samples_sha256="0" * 64)
    problem = samples_problem(out / "samples" / "t__a.jsonl", rec, 2)
    assert problem and "checksum" in problem


def test_an_interrupted_atomic_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    write_text_atomic(target, "old")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(os, "replace", interrupted)
        with pytest.raises(KeyboardInterrupt):
            write_text_atomic(target, "new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_an_interrupted_index_write_leaves_no_orphan_and_a_damaged_index_is_rebuilt(
    isolated_cache, monkeypatch, capsys
):
    import faiss

    from harness.engine.retrieval import Embedder, RetrievalParams, Retriever

    from .test_retrieval import DOCS

    embedder = Embedder()
    real_write = faiss.write_index

    def write_then_die(index, path):
        real_write(index, path)
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(faiss, "write_index", write_then_die)
        with pytest.raises(KeyboardInterrupt):
            Retriever(RetrievalParams(), embedder).build(DOCS, "h")
    indexes = isolated_cache / "indexes"
    assert not list(indexes.iterdir())  # no half-written entry, no temporary folder
    built = Retriever(RetrievalParams(), embedder).build(DOCS, "h")
    assert built.stats["index_cached"] is False
    # An orphan left by a killed build (no chance to clean up) is removed by the next build.
    (folder,) = indexes.iterdir()
    orphan = folder.with_name(f"{folder.name}.tmp99999")
    orphan.mkdir()
    (orphan / "index.faiss").write_bytes(b"partial")
    again = Retriever(RetrievalParams(), embedder).build(DOCS, "h")
    assert again.stats["index_cached"] is True and list(indexes.iterdir()) == [folder]
    (folder / "chunks.jsonl").write_text('{"id": ')
    rebuilt = Retriever(RetrievalParams(), embedder).build(DOCS, "h")
    assert rebuilt.stats["index_cached"] is False and len(rebuilt.chunks) == len(built.chunks)
    assert f"damaged cached index {folder}" in capsys.readouterr().err


def test_a_hand_edited_record_in_the_output_folder_is_replaced_by_the_cached_one(
    tiny_suite, tmp_path, fake_backend
):
    from click.testing import CliRunner

    from harness.cli import main

    out = tmp_path / "out"
    assert (
        CliRunner()
        .invoke(main, ["run", str(tiny_suite), "--out", str(out), "--no-progress"])
        .exit_code
        == 0
    )
    path = out / "records" / "qa__base.json"
    record = json.loads(path.read_text())
    true_value = record["metrics"]["exact_match"]["value"]
    record["metrics"]["exact_match"]["value"] = 0.999  # a hand edit
    path.write_text(json.dumps(record))
    r = CliRunner().invoke(main, ["run", str(tiny_suite), "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert json.loads(path.read_text())["metrics"]["exact_match"]["value"] == true_value
    results = json.loads((out / "results.json").read_text())
    base = next(x for x in results["runs"] if x["arm"] == "base")
    assert base["metrics"]["exact_match"]["value"] == true_value
