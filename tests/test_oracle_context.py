"""The oracle row is the oracle or nothing: when no eval item's doc_id names a document it
retrieves from, `oracle_context` fails (and `validate` says so) with an item and the nearest ids."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harness.arms.core import ArmError
from harness.arms.oracle_context import OracleContextArm, oracle_problem
from harness.cli import main
from harness.data.tasks import Document, Item, TaskData
from harness.spec.config import DataSpec, TaskSpec

from .conftest import write_jsonl


def _task(doc_ids: list[tuple[str, ...]], corpus: list[str]) -> TaskData:
    items = [
        Item(id=f"q{n}", question=f"Question {n}?", answers=("x",), doc_ids=d, source=f"e:{n}")
        for n, d in enumerate(doc_ids, 1)
    ]
    spec = TaskSpec(name="t", data=DataSpec(eval="e.jsonl"))
    docs = [Document(id=d, text=f"text of {d}") for d in corpus]
    return TaskData(spec=spec, splits={"eval": items}, corpus=docs)


def test_doc_ids_that_name_no_document_fail_with_an_item_and_the_nearest_ids():
    task = _task([(), ("d1.md",), ("d2.md",)], ["d1", "d2", "d10", "handbook"])
    problem = oracle_problem(task)
    assert problem is not None
    assert "item 'q2' (e:2) has doc_id 'd1.md'" in problem
    assert "nearest document ids: ['d1'," in problem and "'handbook'" not in problem
    with pytest.raises(ArmError, match="nearest document ids"):
        OracleContextArm(OracleContextArm.Params(), ctx=None, seed=1).prepare(task)


def test_one_matching_doc_id_or_a_page_of_a_named_file_is_enough():
    assert oracle_problem(_task([("d1.md",), ("d2",)], ["d1", "d2"])) is None
    assert oracle_problem(_task([("manual.pdf",)], ["manual.pdf#p1", "manual.pdf#p2"])) is None
    assert "none do" in oracle_problem(_task([(), ()], ["d1"]))


def test_validate_names_the_mismatch(tmp_path):
    write_jsonl(
        tmp_path / "e.jsonl", [{"id": "a", "question": "Q?", "answers": ["x"], "doc_id": "d1.md"}]
    )
    (tmp_path / "c.jsonl").write_text(
        "".join(json.dumps({"id": d, "text": f"Text {d}."}) + "\n" for d in ("d1", "d2"))
    )
    path = tmp_path / "suite.yaml"
    path.write_text(
        "name: s\ntasks:\n  - name: t\n    data: {eval: e.jsonl}\n    corpus: {path: c.jsonl}\n"
        "arms:\n  - arm: oracle_context\n    params: {k: 1}\n"
    )
    r = CliRunner().invoke(main, ["validate", str(path)])
    assert r.exit_code == 2, r.output
    assert "arm 'oracle_context': oracle_context: no eval item" in r.output
    assert "has doc_id 'd1.md'; nearest document ids: ['d1', 'd2']" in r.output
