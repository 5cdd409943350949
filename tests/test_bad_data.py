"""Bad or unusual data files: each gives a DataError naming file and line (or a documented warning)."""

from __future__ import annotations

import json

import pytest

from harness.arms.prompting import is_abstention
from harness.data.tasks import DataError, load_items, load_task
from harness.spec.config import DEFAULT_ABSTAIN_PATTERNS, CorpusSpec, DataSpec, TaskSpec

from .conftest import write_jsonl


def task(eval_path, **kw) -> TaskSpec:
    return TaskSpec(name="t", data=DataSpec(eval=str(eval_path)), **kw)


def test_non_utf8_data_file_names_file_and_line(tmp_path):
    p = tmp_path / "e.jsonl"
    p.write_bytes(b'{"id": "a", "question": "Q?", "answers": ["x"]}\n{"id": "b\xff"}\n')
    with pytest.raises(DataError, match=rf"{p}:2: not UTF-8"):
        load_items(p, DataSpec(eval=str(p)))
    c = tmp_path / "e.csv"
    c.write_bytes(b"id,question,answers\na,Caf\xe9?,x\n")
    with pytest.raises(DataError, match=rf"{c}:2: not UTF-8"):
        load_items(c, DataSpec(eval=str(c)))


@pytest.mark.parametrize(
    "payload,message",
    [
        ({"data": ["an article"]}, r"data\[0\]: a SQuAD article must be an object"),
        ({"data": [{"paragraphs": ["text"]}]}, r"paragraphs\[0\]: a SQuAD paragraph must be"),
        (
            {"data": [{"paragraphs": [{"context": "c", "qas": ["q"]}]}]},
            r"qas\[0\]: a SQuAD question must be an object",
        ),
        ({"data": [{"paragraphs": [{"context": "c", "qas": {}}]}]}, r"'qas' a list"),
        ([1, 2], r"not SQuAD format"),
    ],
)
def test_malformed_squad_shapes(tmp_path, payload, message):
    p = tmp_path / "e.json"
    p.write_text(json.dumps(payload))
    with pytest.raises(DataError, match=message):
        load_items(p, DataSpec(eval=str(p)))


def test_squad_is_impossible_must_be_a_boolean(tmp_path):
    p = tmp_path / "e.json"
    qa = {"id": "q1", "question": "Q?", "answers": [{"text": "x"}], "is_impossible": "false"}
    p.write_text(json.dumps({"data": [{"paragraphs": [{"context": "c", "qas": [qa]}]}]}))
    with pytest.raises(DataError, match=r"qas\[0\]: 'is_impossible' must be true or false"):
        load_items(p, DataSpec(eval=str(p)))


@pytest.mark.parametrize(
    "payload,message",
    [
        ({"docs": []}, r"not SQuAD format"),
        ("a string", r"must be a list of documents"),
        (["text"], r"\[0\]: a corpus document must be an object"),
        ([{"id": "d1"}], r"\[0\]: missing field 'text'"),
    ],
)
def test_json_corpus_that_is_not_a_list_of_documents(tmp_path, payload, message):
    e = write_jsonl(tmp_path / "e.jsonl", [{"id": "a", "question": "Q?", "answers": ["x"]}])
    c = tmp_path / "c.json"
    c.write_text(json.dumps(payload))
    with pytest.raises(DataError, match=message):
        load_task(task(e, corpus=CorpusSpec(path=str(c))))


def test_json_corpus_as_a_list_of_documents_loads(tmp_path):
    e = write_jsonl(tmp_path / "e.jsonl", [{"id": "a", "question": "Q?", "answers": ["x"]}])
    c = tmp_path / "c.json"
    c.write_text(json.dumps([{"id": "d1", "title": "T", "text": "Body."}]))
    data = load_task(task(e, corpus=CorpusSpec(path=str(c))))
    assert [(d.id, d.title, d.text) for d in data.corpus] == [("d1", "T", "Body.")]


def test_leakage_check_over_items_with_no_vocabulary(tmp_path):
    rows = [{"id": f"{i}", "question": q, "answers": ["x"]} for i, q in enumerate(["?", "a", "!"])]
    tr = write_jsonl(tmp_path / "tr.jsonl", rows)
    ev = write_jsonl(tmp_path / "ev.jsonl", [{"id": "e", "question": "?", "answers": ["y"]}])
    spec = TaskSpec(name="t", data=DataSpec(train=str(tr), eval=str(ev)))
    report = load_task(spec).leakage
    assert report["eval"] == {"identical": 1, "near_identical": 0, "n": 1}


def test_duplicate_choices_in_a_choice_item(tmp_path):
    p = write_jsonl(
        tmp_path / "e.jsonl",
        [{"id": "a", "question": "Q?", "choices": ["x", "y", "x"], "label": 1}],
    )
    with pytest.raises(DataError, match=rf"{p}:1: choice\(s\) \['x'\] appear more than once"):
        load_items(p, DataSpec(eval=str(p)), scoring="choice")


def test_excel_csv_bom_semicolon_and_blank_answerable(tmp_path):
    p = tmp_path / "e.csv"
    text = "id;question;answers;answerable\r\na;Deductible?;$640;\r\nb;Colour?;;false\r\n"
    p.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    items = load_items(p, DataSpec(eval=str(p)))
    assert [i.id for i in items] == ["a", "b"]
    assert items[0].answers == ("$640",) and items[0].answerable
    assert not items[1].answerable


def test_semicolon_csv_with_commas_in_cells_is_read_by_its_header(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("id;question;answers\na;Is it 1,780 or 1,790?;1,780\n")
    assert load_items(p, DataSpec(eval=str(p)))[0].answers == ("1,780",)


def test_gold_that_normalises_to_nothing_is_dropped_with_a_warning(tmp_path, capsys):
    p = write_jsonl(
        tmp_path / "e.jsonl", [{"id": "a", "question": "Q?", "answers": ["640", "The."]}]
    )
    assert load_task(task(p)).eval[0].answers == ("640",)
    assert f"{p}:1: gold answer(s) ['The.'] are ignored: empty after SQuAD normalisation" in (
        capsys.readouterr().err
    )
    q = write_jsonl(tmp_path / "f.jsonl", [{"id": "a", "question": "Q?", "answers": ["--"]}])
    with pytest.raises(DataError, match=rf"{q}:1: every gold answer"):
        load_task(task(q))


def test_gold_that_reads_as_an_abstention_is_dropped_or_a_data_error(tmp_path, capsys):
    # Among other aliases (TruthfulQA lists "I don't know for sure" beside real answers): left
    # out, said; as the item's only answer: an error, since saying it would score as abstaining.
    p = write_jsonl(
        tmp_path / "e.jsonl",
        [{"id": "a", "question": "Q?", "answers": ["Paris", "I don't know for sure"]}],
    )
    assert load_task(task(p)).eval[0].answers == ("Paris",)
    said = capsys.readouterr().err
    assert f'{p}:1: gold answer(s) ["I don\'t know for sure"] are ignored' in said
    q = write_jsonl(
        tmp_path / "f.jsonl", [{"id": "a", "question": "Q?", "answers": ["I don't know"]}]
    )
    with pytest.raises(DataError, match=rf"{q}:1: gold answer \"I don't know\" matches"):
        load_task(task(q))


@pytest.mark.parametrize(
    "text",
    [
        "I'm not sure.",
        "I am not certain",
        "I cannot answer that.",
        "I can’t answer",
        "I don’t know",
        "Sorry, I'm unable to determine that",
        "I have no idea",
        "Cannot determine from the passages.",
    ],
)
def test_common_abstentions_are_recognised_by_default(text):
    assert is_abstention(text, DEFAULT_ABSTAIN_PATTERNS)


@pytest.mark.parametrize(
    "text",
    [
        "$640",
        "19 days",
        "The insurer cannot refuse renewal.",
        "No.",
        'You cannot find peace by avoiding life, as Woolf says in "The Hours"',
    ],
)
def test_plain_answers_are_not_abstentions(text):
    assert not is_abstention(text, DEFAULT_ABSTAIN_PATTERNS)
