"""Items from .xlsx, .parquet and `datasets` folders; one items file split for you."""

from __future__ import annotations

import pytest

from harness.data.tasks import DataError, load_items, load_task
from harness.spec.config import DataSpec, FieldMap, SplitSpec, TaskSpec

from .conftest import write_jsonl

openpyxl = pytest.importorskip("openpyxl")


def write_xlsx(path, sheets: dict[str, list[list]]) -> None:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)


QA = [
    ["ID", "Question", "Answer", "Source"],
    [1, "What is the dental limit?", "$1,120", "pet.pdf"],
    [None, None, None, None],  # a blank row is skipped
    [2, "Which form do I send?", "N/A", ""],
]


def test_xlsx_sheet_by_name_and_index_with_mapping(tmp_path):
    p = tmp_path / "q.xlsx"
    write_xlsx(p, {"notes": [["nothing here"]], "questions": QA})
    fields = FieldMap(id="ID", question="Question", answers="Answer", doc_id="Source")
    data = DataSpec(eval=str(p), fields=fields, no_answer=["n/a"])
    for sheet in ("questions", 1):
        items = load_items(p, data, sheet=sheet)
        assert [i.id for i in items] == ["1", "2"]
        assert items[0].answers == ("$1,120",) and items[0].doc_ids == ("pet.pdf",)
        assert not items[1].answerable  # "N/A" is a no-answer marker, not a gold answer
        assert items[1].source == f"{p}[questions]:4"


def test_xlsx_bad_inputs_name_the_file(tmp_path):
    p = tmp_path / "q.xlsx"
    write_xlsx(p, {"questions": QA, "blank": []})
    data = DataSpec(eval=str(p))
    with pytest.raises(
        DataError, match=rf"{p}: no sheet named 'eval'; sheets: \['questions', 'blank'\]"
    ):
        load_items(p, data, sheet="eval")
    with pytest.raises(DataError, match=rf"{p}: sheet index 5 out of range"):
        load_items(p, data, sheet=5)
    with pytest.raises(DataError, match=rf"{p}\[blank\]: empty sheet"):
        load_items(p, data, sheet="blank")
    # No usable column: nothing maps to the question field; the error lists the columns.
    with pytest.raises(
        DataError,
        match=rf"{p}\[questions\]:2: missing field 'id'.*\['Answer', 'ID', 'Question', 'Source'\]",
    ):
        load_items(p, data, sheet="questions")
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a workbook")
    with pytest.raises(DataError, match=rf"{bad}: not a readable .xlsx workbook"):
        load_items(bad, data)


def test_sheet_per_split_in_a_task(tmp_path):
    p = tmp_path / "q.xlsx"
    rows = [["id", "question", "answers"]]
    write_xlsx(
        p,
        {
            "train": rows + [[f"t{i}", f"Train question number {i}?", "yes"] for i in range(3)],
            "eval": rows + [["e1", "Eval question?", "no"]],
        },
    )
    spec = TaskSpec(
        name="t",
        data=DataSpec(train=str(p), eval=str(p), sheet={"train": "train", "eval": "eval"}),
    )
    task = load_task(spec)
    assert len(task.train) == 3 and [i.id for i in task.eval] == ["e1"]
    src = {s["split"]: s for s in task.sources["items"]}
    assert src["train"]["sheet"] == "train" and src["eval"]["sheet"] == "eval"
    assert src["train"]["sha256"] == src["eval"]["sha256"]


def test_parquet_and_datasets_folder(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = {"qid": ["a", "b"], "question": ["Q1?", "Q2?"], "answers": [["x", "y"], []]}
    p = tmp_path / "q.parquet"
    pq.write_table(pa.table(rows), p)
    items = load_items(p, DataSpec(eval=str(p), fields=FieldMap(id="qid")))
    assert items[0].answers == ("x", "y") and not items[1].answerable
    assert items[1].source == f"{p}:row 2"
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "ds"
    features = datasets.Features(
        {
            "qid": datasets.Value("string"),
            "question": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["deny", "pay"]),
        }
    )
    datasets.Dataset.from_dict(
        {"qid": ["a", "b"], "question": ["Q1?", "Q2?"], "label": [1, 0]}, features=features
    ).save_to_disk(str(folder))
    items = load_items(
        folder, DataSpec(eval=str(folder), fields=FieldMap(id="qid", answers="label"))
    )
    assert [i.answers for i in items] == [("pay",), ("deny",)]  # ClassLabel ids to names
    dd = tmp_path / "dd"
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"q": ["x"]})}).save_to_disk(str(dd))
    with pytest.raises(DataError, match=rf"{dd}: a DatasetDict folder.*{dd / 'train'}"):
        load_items(dd, DataSpec(eval=str(dd)))
    with pytest.raises(DataError, match="not a `datasets` save_to_disk folder"):
        load_items(tmp_path, DataSpec(eval=str(tmp_path)))


def _qa_rows(n: int) -> list[dict]:
    topics = ["dental", "luggage", "storm", "theft", "fire", "flood", "glass", "towing"]
    rows = []
    for i in range(n):
        t = topics[i % len(topics)]
        rows.append(
            {
                "id": f"q{i:03d}",
                "question": f"Case {i}: what is the {t} limit for plan {i // len(topics)}?",
                "answers": [] if i % 3 == 0 else [f"${i}00"],
            }
        )
    return rows


def test_split_one_file_is_deterministic_and_keeps_near_duplicates_together(tmp_path):
    rows = _qa_rows(60)
    # Two near-identical copies of one question (only the id and punctuation differ).
    rows.append(
        {
            "id": "dup1",
            "question": "How long do I have to report a burst pipe?",
            "answers": ["30 days"],
        }
    )
    rows.append(
        {
            "id": "dup2",
            "question": "How long do I have to report a burst pipe ?!",
            "answers": ["30 days"],
        }
    )
    p = write_jsonl(tmp_path / "all.jsonl", rows)
    spec = TaskSpec(
        name="t", data=DataSpec(items=str(p), split=SplitSpec(eval=0.3, dev=0.1, seed=7))
    )
    task = load_task(spec)
    sizes = {k: len(v) for k, v in task.splits.items()}
    assert sum(sizes.values()) == 62 and 17 <= sizes["eval"] <= 20 and 5 <= sizes["dev"] <= 8
    side = {i.id: name for name, items in task.splits.items() for i in items}
    assert side["dup1"] == side["dup2"]
    assert task.split["near_duplicate_groups"] >= 1 and task.split["stratified_by"] == "answerable"
    # Stratified: eval holds unanswerable items in about the file's share (a third).
    unans = sum(not i.answerable for i in task.eval)
    assert abs(unans / len(task.eval) - 21 / 62) < 0.1
    assert task.split["ids"]["eval"] == [i.id for i in task.eval]
    assert task.leakage["total"] == 0
    again = load_task(spec)
    assert again.split["ids_sha256"] == task.split["ids_sha256"]
    other = load_task(
        spec.model_copy(update={"data": spec.data.model_copy(update={"split": SplitSpec(seed=8)})})
    )
    assert other.split["ids"]["eval"] != task.split["ids"]["eval"]


def test_split_stratifies_labels(tmp_path):
    rows = [
        {"id": f"c{i}", "question": f"Claim {i} about a {w} event {i * 7}", "answers": [lab]}
        for i, (w, lab) in enumerate(
            [("car", "motor")] * 40 + [("roof", "home")] * 20 + [("dog", "pet")] * 10
        )
    ]
    p = write_jsonl(tmp_path / "claims.jsonl", rows)
    task = load_task(
        TaskSpec(name="t", data=DataSpec(items=str(p), split=SplitSpec(eval=0.3, dev=0.0)))
    )
    assert task.split["stratified_by"] == "label"
    counts = {lab: sum(i.answers[0] == lab for i in task.eval) for lab in ("motor", "home", "pet")}
    assert counts == {"motor": 12, "home": 6, "pet": 3}
    assert "dev" not in task.splits


def test_split_layout_errors(tmp_path):
    with pytest.raises(ValueError, match="give `items`.*not both"):
        DataSpec(items="a.jsonl", eval="b.jsonl")
    with pytest.raises(ValueError, match="`split` splits the file of `items`"):
        DataSpec(eval="b.jsonl", split=SplitSpec())
    with pytest.raises(ValueError, match="must leave a train share"):
        SplitSpec(eval=0.6, dev=0.4)
    p = write_jsonl(tmp_path / "one.jsonl", [{"id": "a", "question": "Q?", "answers": ["x"]}])
    with pytest.raises(DataError, match=rf"{p}: 1 item\(s\) are too few to split"):
        load_task(TaskSpec(name="t", data=DataSpec(items=str(p))))
