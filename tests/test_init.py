"""`adaptbench init`: guesses from columns and content, a suite that validates, no silent overwrite."""

from __future__ import annotations

import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.data.tasks import load_task
from harness.run.suite import load_suite

from .conftest import write_jsonl
from .test_tables import openpyxl, write_xlsx  # noqa: F401  (skips without openpyxl)


def _questions(n: int = 40) -> list[list]:
    rows = [["Ref", "Customer question", "Answer", "Source"]]
    for i in range(n):
        if i % 4 == 0:
            rows.append([f"r{i}", f"Is flood number {i} covered for boats?", "N/A", ""])
        else:
            rows.append(
                [f"r{i}", f"What is the limit for item {i} under plan {i % 5}?", f"${i}0", "pet.md"]
            )
    return rows


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_init_from_a_workbook_and_a_folder(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pet.md").write_text("# Pet cover\n\nItem limits are listed per plan.")
    (docs / "home.html").write_text(
        "<html><body><nav>Menu</nav><h1>Home</h1><p>Roofs.</p></body></html>"
    )
    book = tmp_path / "qa.xlsx"
    write_xlsx(book, {"Read me": [["Notes for staff only"]], "Asked": _questions()})
    out = tmp_path / "suite.yaml"
    res = _invoke("init", "--items", str(book), "--docs", str(docs), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "question <- 'Customer question'" in res.output
    assert "doc_id <- 'Source'" in res.output
    assert "uncertain: question: column 'Customer question'" in res.output
    assert "data.fields.question" in res.output and "data.sheet" in res.output
    assert "training: Training budget:" in res.output or "CUDA" in res.output
    assert f"next: adaptbench run {out}" in res.output
    raw = yaml.safe_load(out.read_text())
    data = raw["tasks"][0]["data"]
    assert data["items"] == "qa.xlsx" and data["sheet"] == "Asked"
    assert data["fields"] == {
        "question": "Customer question",
        "answers": "Answer",
        "id": "Ref",
        "doc_id": "Source",
    }
    assert data["no_answer"] == ["N/A"]
    labels = [a.get("name") or a["arm"] for a in raw["arms"]]
    assert labels[:4] == ["base", "few_shot", "rag", "retrieval_only"]
    assert {"lora", "full", "lora+rag"} <= set(labels)
    spec = load_suite(out)
    task = load_task(spec.tasks[0])
    assert sum(not i.answerable for i in task.eval) > 0 and task.split["sizes"]["eval"] == 12
    assert "# Training budget: 10 min per arm" in out.read_text() or "CUDA" in res.output
    # An existing suite is never overwritten without --force.
    before = out.read_text()
    res = _invoke("init", "--items", str(book), "--docs", str(docs), "--out", str(out))
    assert res.exit_code == 2 and "exists; pass --force" in res.output
    assert out.read_text() == before
    res = _invoke("init", "--items", str(book), "--out", str(out), "--force")
    assert res.exit_code == 0 and "corpus" not in yaml.safe_load(out.read_text())["tasks"][0]


def test_init_train_eval_files_long_answers_and_labels(tmp_path):
    long = (
        "The policy pays for the repair of the roof and the ceiling after a storm, up to the limit"
    )
    train = write_jsonl(
        tmp_path / "train.jsonl",
        [
            {"qid": f"t{i}", "query": f"What happens after storm {i}?", "answer": f"{long} {i}."}
            for i in range(6)
        ],
    )
    ev = write_jsonl(
        tmp_path / "eval.jsonl",
        [
            {"qid": f"e{i}", "query": f"What is paid for storm {i}?", "answer": f"{long} {i}."}
            for i in range(3)
        ],
    )
    out = tmp_path / "s.yaml"
    res = _invoke("init", "--train", str(train), "--eval", str(ev), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "answers are paragraphs" in res.output
    task = yaml.safe_load(out.read_text())["tasks"][0]
    assert "exact_match" not in task["metrics"] and "token_f1" in task["metrics"]
    assert task.get("answer_style", "long") == "long"
    assert [a.get("name") or a["arm"] for a in yaml.safe_load(out.read_text())["arms"]][:4] == [
        "base",
        "few_shot",
        "rag",
        "retrieval_only",
    ]  # rag over the train items when there are no documents
    claims = write_jsonl(
        tmp_path / "claims.jsonl",
        [
            {
                "id": f"c{i}",
                "narrative": f"Claim {i}: water in the kitchen",
                "decision": ["pay", "deny"][i % 2],
            }
            for i in range(30)
        ],
    )
    res = _invoke("init", "--items", str(claims), "--out", str(tmp_path / "c.yaml"))
    assert res.exit_code == 0, res.output
    assert "a label task" in res.output
    assert (
        yaml.safe_load((tmp_path / "c.yaml").read_text())["tasks"][0]["data"]["fields"]["answers"]
        == "decision"
    )


def test_init_bad_inputs_exit_2_naming_the_file(tmp_path):
    book = tmp_path / "nums.xlsx"
    write_xlsx(book, {"Sheet1": [["a", "b"], [1, 2], [3, 4]]})
    res = _invoke("init", "--items", str(book), "--out", str(tmp_path / "s.yaml"))
    assert res.exit_code == 2
    assert f"{book} [sheet 'Sheet1']: no usable column for the questions" in res.output
    res = _invoke(
        "init", "--items", str(book), "--sheet", "Claims", "--out", str(tmp_path / "s.yaml")
    )
    assert (
        res.exit_code == 2 and f"{book}: no sheet named 'Claims'; sheets: ['Sheet1']" in res.output
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    q = write_jsonl(tmp_path / "q.jsonl", [{"id": "a", "question": "Q?", "answer": "x"}])
    res = _invoke(
        "init", "--items", str(q), "--docs", str(empty), "--out", str(tmp_path / "s.yaml")
    )
    assert res.exit_code == 2 and f"{empty}: no files found" in res.output
    assert not (tmp_path / "s.yaml").exists()


def test_init_out_under_a_file_is_a_clear_error(tmp_path):
    q = write_jsonl(tmp_path / "q.jsonl", [{"id": "a", "question": "Q?", "answer": "x"}])
    (tmp_path / "afile").write_text("x")
    res = _invoke("init", "--items", str(q), "--out", str(tmp_path / "afile" / "s.yaml"))
    assert res.exit_code == 2, res.output
    assert f"{tmp_path / 'afile'} is a file, not a folder" in res.output


def test_init_sheet_on_a_file_that_is_no_workbook(tmp_path):
    q = write_jsonl(tmp_path / "q.jsonl", [{"id": "a", "question": "Q?", "answer": "x"}])
    res = _invoke("init", "--items", str(q), "--sheet", "Asked", "--out", str(tmp_path / "s.yaml"))
    assert (
        res.exit_code == 2 and "--sheet is for .xlsx workbooks; this is a jsonl file" in res.output
    )


def _long_rows(prefix: str, n: int, with_id: bool = True) -> list[dict]:
    long = "The policy pays for the roof and the ceiling after a storm, up to the limit of cover"
    rows = [
        {
            "id": f"{prefix}{i}",
            "question": f"What is paid after storm {prefix}{i}?",
            "answer": f"{long} {i}.",
        }
        for i in range(n)
    ]
    return rows if with_id else [{k: v for k, v in r.items() if k != "id"} for r in rows]


def test_init_long_answers_get_the_graded_metrics_and_a_meaningful_name(tmp_path):
    data = tmp_path / "storm-claims"
    train = write_jsonl(data / "train.jsonl", _long_rows("t", 6))
    ev = write_jsonl(data / "eval.jsonl", _long_rows("e", 3))
    out = tmp_path / "suite.yaml"
    res = _invoke("init", "--train", str(train), "--eval", str(ev), "--out", str(out))
    assert res.exit_code == 0, res.output
    raw = yaml.safe_load(out.read_text())
    metrics = raw["tasks"][0]["metrics"]
    assert "unsupported_by_context" not in metrics and "false_answer_rate" not in metrics
    assert {"token_f1", "rouge_l", "answer_similarity", "abstention_rate"} <= set(metrics)
    # named after the data's folder, not `eval` (the file) or `suite` (the default --out)
    assert raw["name"] == "storm-claims" and raw["tasks"][0]["name"] == "storm-claims"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "storm.md").write_text("# Storms\n\nThe roof and the ceiling are paid.")
    res = _invoke(
        "init", "--train", str(train), "--eval", str(ev), "--docs", str(docs),
        "--out", str(tmp_path / "storm.yaml"),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    raw = yaml.safe_load((tmp_path / "storm.yaml").read_text())
    assert raw["name"] == "storm"
    assert {"unsupported_share", "recall@k"} <= set(raw["tasks"][0]["metrics"])
    assert "unsupported_by_context" not in raw["tasks"][0]["metrics"]


def test_init_numbers_train_and_eval_apart_and_warns_on_shared_ids(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", _long_rows("t", 6, with_id=False))
    ev = write_jsonl(tmp_path / "eval.jsonl", _long_rows("e", 3, with_id=False))
    out = tmp_path / "s.yaml"
    res = _invoke("init", "--train", str(train), "--eval", str(ev), "--out", str(out))
    assert res.exit_code == 0, res.output
    task = load_task(load_suite(out).tasks[0])
    assert [i.id for i in task.eval] == ["eval-1", "eval-2", "eval-3"]
    assert {i.id for i in task.train}.isdisjoint(i.id for i in task.eval)
    assert "warning" not in res.output
    # Files that bring their own ids, shared across them: warned about.
    write_jsonl(train, _long_rows("x", 6))
    write_jsonl(ev, _long_rows("x", 3))
    res = _invoke("init", "--train", str(train), "--eval", str(ev), "--out", str(out), "--force")
    assert res.exit_code == 0, res.output
    assert (
        "warning: 3 id(s) are used by both train and eval items (e.g. ['x0', 'x1', 'x2'])"
        in res.output
    )


def test_init_warns_when_every_answer_is_empty(tmp_path):
    rows = [
        {"id": f"r{i}", "question": f"Is thing {i} covered?", "answer": "N/A"} for i in range(20)
    ]
    q = write_jsonl(tmp_path / "q.jsonl", rows)
    res = _invoke("init", "--items", str(q), "--out", str(tmp_path / "s.yaml"))
    assert res.exit_code == 0, res.output
    assert "warning: every one of the 20 items has an empty answer" in res.output


def test_init_adds_oracle_context_only_with_documents_it_points_at(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pet.md").write_text("# Pet cover\n\nItem limits are listed per plan.")
    book = tmp_path / "qa.xlsx"
    write_xlsx(book, {"Asked": _questions()})
    arms = lambda path: [a["arm"] for a in yaml.safe_load(path.read_text())["arms"]]  # noqa: E731
    out = tmp_path / "with-docs.yaml"
    assert (
        _invoke("init", "--items", str(book), "--docs", str(docs), "--out", str(out)).exit_code == 0
    )
    assert "oracle_context" in arms(out)
    # Items name their source, but no documents are given: no oracle row, and init says why.
    out = tmp_path / "no-docs.yaml"
    res = _invoke("init", "--items", str(book), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "oracle_context" not in arms(out) and "oracle_context (which reads" in res.output
    # Documents whose ids the items do not name (`pet.md` against `pet.txt`): left out, with why.
    (docs / "pet.md").rename(docs / "pet.txt")
    out = tmp_path / "mismatch.yaml"
    res = _invoke("init", "--items", str(book), "--docs", str(docs), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "oracle_context" not in arms(out)
    assert "warning: oracle_context is left out" in res.output
    assert "doc_id 'pet.md'; nearest document ids: ['pet.txt']" in res.output


def test_init_reads_several_accepted_answers_in_one_cell(tmp_path):
    # A spreadsheet habit (TruthfulQA's "Correct Answers"): aliases in one cell, "; " apart.
    q = tmp_path / "q.csv"
    rows = ["id,question,correct answers"] + [
        f'r{i},What is the capital of country {i}?,"City {i}; the city of City {i}"'
        for i in range(40)
    ]
    q.write_text("\n".join(rows) + "\n")
    out = tmp_path / "s.yaml"
    res = _invoke("init", "--items", str(q), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "separated by '; '" in res.output
    task = load_task(load_suite(out).tasks[0])
    item = next(i for split in task.splits.values() for i in split if i.id == "r3")
    assert item.answers == ("City 3", "the city of City 3")
    assert yaml.safe_load(out.read_text())["tasks"][0]["data"]["answer_separator"] == "; "
