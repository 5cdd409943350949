from __future__ import annotations

import json

import pytest

from harness.data.tasks import DataError, load_items, load_task
from harness.spec.config import DataSpec, FieldMap, TaskSpec

from .conftest import write_jsonl


def spec_for(tmp_path, **data) -> TaskSpec:
    return TaskSpec(name="t", data=DataSpec(**data))


def test_jsonl_items_aliases_and_unanswerable(tmp_path):
    p = write_jsonl(
        tmp_path / "e.jsonl",
        [
            {"id": "a", "question": "Q1?", "answers": ["$640", "640", "640"]},
            {"id": "b", "question": "Q2?", "answers": "19 days"},
            {"id": "c", "question": "Q3?", "answers": [], "answerable": False},
            {"id": "d", "question": "Q4?", "answers": []},
        ],
    )
    items = load_items(p, DataSpec(eval=str(p)))
    assert items[0].answers == ("$640", "640")  # duplicates dropped, order kept
    assert items[1].answers == ("19 days",)
    assert not items[2].answerable and not items[3].answerable
    assert items[0].source == f"{p}:1"


def test_broken_jsonl_line_names_file_and_line(tmp_path):
    p = tmp_path / "e.jsonl"
    p.write_text('{"id": "a", "question": "Q?", "answers": ["x"]}\n\n{"id": "b", "question": \n')
    with pytest.raises(DataError, match=rf"{p}:3: not valid JSON"):
        load_items(p, DataSpec(eval=str(p)))


def test_missing_field_duplicate_id_and_missing_file(tmp_path):
    p = write_jsonl(tmp_path / "e.jsonl", [{"id": "a", "q": "Q?", "answers": ["x"]}])
    with pytest.raises(DataError, match=rf"{p}:1: missing field 'question'.*data.fields.question"):
        load_items(p, DataSpec(eval=str(p)))
    items = load_items(p, DataSpec(eval=str(p), fields=FieldMap(question="q")))
    assert items[0].question == "Q?"
    p2 = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "question": "Q", "answers": ["x"]}] * 2)
    with pytest.raises(DataError, match=rf"{p2}:2: duplicate id 'a' \(first seen at {p2}:1\)"):
        load_items(p2, DataSpec(eval=str(p2)))
    with pytest.raises(DataError, match="data file not found"):
        load_items(tmp_path / "nope.jsonl", DataSpec(eval="x"))
    bad = write_jsonl(
        tmp_path / "b.jsonl", [{"id": "a", "question": "Q", "answers": [], "answerable": True}]
    )
    with pytest.raises(DataError, match="marked answerable but has no gold answers"):
        load_items(bad, DataSpec(eval=str(bad)))


def test_empty_split_is_an_error(tmp_path):
    p = tmp_path / "e.jsonl"
    p.write_text("\n\n")
    with pytest.raises(DataError, match="split 'eval' of task 't' has no items"):
        load_task(spec_for(tmp_path, eval=str(p)))


def test_csv_with_json_lists_and_choice_labels(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text(
        "id,question,choices,label\n"
        'a,Sky colour?,"[""red"", ""blue""]",B\n'
        'b,Two plus two?,"[""3"", ""4"", ""5""]",1\n'
        'c,Capital of France?,"[""Paris"", ""Rome""]",Paris\n'
    )
    items = load_items(p, DataSpec(eval=str(p)), scoring="choice")
    assert [i.label for i in items] == [1, 1, 0]
    assert items[0].choices == ("red", "blue")
    p.write_text('id,question,choices,label\na,Q?,"[""x"", ""y""]",7\n')
    with pytest.raises(DataError, match=rf"{p}:2: label index 7 is out of range"):
        load_items(p, DataSpec(eval=str(p)), scoring="choice")


def test_squad_v2_format(tmp_path):
    payload = {
        "version": "v2.0",
        "data": [
            {
                "title": "Normans",
                "paragraphs": [
                    {
                        "context": "The Normans gave their name to Normandy.",
                        "qas": [
                            {
                                "id": "1",
                                "question": "Who named Normandy?",
                                "answers": [
                                    {"text": "The Normans", "answer_start": 0},
                                    {"text": "Normans", "answer_start": 4},
                                ],
                                "is_impossible": False,
                            },
                            {
                                "id": "2",
                                "question": "Who named Paris?",
                                "answers": [],
                                "is_impossible": True,
                            },
                        ],
                    }
                ],
            }
        ],
    }
    p = tmp_path / "s.json"
    p.write_text(json.dumps(payload))
    items = load_items(p, DataSpec(eval=str(p)))
    assert items[0].answers == ("The Normans", "Normans") and items[0].answerable
    assert items[0].context.startswith("The Normans") and items[0].doc_ids == ("Normans#0",)
    assert not items[1].answerable and items[1].answers == ()


def test_leakage_counts_identical_and_near_identical(tmp_path):
    train = write_jsonl(
        tmp_path / "train.jsonl",
        [
            {
                "id": "t1",
                "question": "What is the deductible for Hearthward Plus?",
                "answers": ["$640"],
            },
            {
                "id": "t2",
                "question": "How long is the waiting period for Pawsmith Lifetime pet cover?",
                "answers": ["19 days"],
            },
            {
                "id": "t3",
                "question": "Which form is used for Molar Meridian claims?",
                "answers": ["BM-1"],
            },
        ],
    )
    ev = write_jsonl(
        tmp_path / "eval.jsonl",
        [
            {
                "id": "e1",
                "question": "what is the deductible for hearthward plus",
                "answers": ["$640"],
            },
            {
                "id": "e2",
                "question": "How long is the waiting period for the Pawsmith Lifetime pet cover?",
                "answers": ["19 days"],
            },
            {
                "id": "e3",
                "question": "Tell me the claim form number under Molar Meridian.",
                "answers": ["BM-1"],
            },
        ],
    )
    task = load_task(spec_for(tmp_path, train=str(train), eval=str(ev)))
    assert task.leakage["eval"]["identical"] == 1
    assert task.leakage["eval"]["near_identical"] == 1
    assert task.leakage["total"] == 2
    with pytest.raises(DataError, match="identical or near-identical"):
        load_task(spec_for(tmp_path, train=str(train), eval=str(ev)), strict_leakage=True)


def test_shipped_policy_suite_has_no_leakage_and_enough_unanswerable():
    from pathlib import Path

    from harness.run.suite import load_suite

    spec = load_suite(
        Path(__file__).resolve().parent.parent / "suites" / "insurance-policy-qa.yaml"
    )
    task = load_task(spec.tasks[0])
    assert task.leakage["total"] == 0
    ev = task.eval
    assert sum(not i.answerable for i in ev) / len(ev) >= 0.25
    assert len(task.corpus) >= 40
    doc_ids = {d.id for d in task.corpus}
    assert all(set(i.doc_ids) <= doc_ids for i in ev)


def test_ids_without_an_id_column_are_numbered_per_split(tmp_path):
    rows = [{"question": f"Q{i}?", "answers": ["x"]} for i in range(3)]
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    ev = write_jsonl(tmp_path / "eval.jsonl", rows)
    fields = FieldMap(id=None)
    task = load_task(spec_for(tmp_path, train=str(train), eval=str(ev), fields=fields))
    assert [i.id for i in task.train] == ["train-1", "train-2", "train-3"]
    assert [i.id for i in task.eval] == ["eval-1", "eval-2", "eval-3"]
    assert [i.id for i in load_items(ev, DataSpec(eval=str(ev), fields=fields))][0] == "row-1"


def test_a_sheet_for_a_file_that_is_no_workbook_is_an_error(tmp_path):
    ev = write_jsonl(tmp_path / "eval.jsonl", [{"id": "a", "question": "Q?", "answers": ["x"]}])
    with pytest.raises(DataError, match=r"eval.jsonl: data.sheet is 'Asked', but this is a jsonl"):
        load_task(spec_for(tmp_path, eval=str(ev), sheet="Asked"))
    # one sheet per split: only the workbooks' splits may name one
    assert load_task(spec_for(tmp_path, eval=str(ev), sheet={"train": "Asked"})).eval


@pytest.mark.parametrize("context", [{"text": "Claims use Form BM-12."}, ["a", "b"], True])
def test_a_context_that_is_not_text_is_an_error(tmp_path, context):
    p = write_jsonl(
        tmp_path / "e.jsonl",
        [{"id": "a", "question": "Q?", "answers": ["x"], "context": context}],
    )
    with pytest.raises(DataError, match=r"e.jsonl:1: field 'context' \(context\) must be text"):
        load_items(p, DataSpec(eval=str(p)))


def test_answers_of_an_item_marked_unanswerable_are_ignored_with_a_warning(tmp_path, capsys):
    p = write_jsonl(
        tmp_path / "e.jsonl",
        [
            {"id": "a", "question": "Q1?", "answers": ["x"], "answerable": False},
            {"id": "b", "question": "Q2?", "answers": [], "answerable": False},
            {"id": "c", "question": "Q3?", "answers": ["y"], "answerable": False},
        ],
    )
    items = load_items(p, DataSpec(eval=str(p)))
    assert all(not i.answerable and not i.answers for i in items)
    err = capsys.readouterr().err
    assert err.count("warning") == 1
    assert f"{p}: 2 item(s) marked answerable: false have gold answers" in err
    assert f"e.g. {p}:1 ['x']" in err
