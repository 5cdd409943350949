from __future__ import annotations

from pathlib import Path

import pytest

from harness.run.suite import load_suite
from harness.spec.config import SpecError, apply_override

ROOT = Path(__file__).resolve().parent.parent
GOOD = """
name: s
tasks:
  - name: t
    data: {eval: e.jsonl}
    template: "Q: {question}"
arms: [base]
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "suite.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_every_shipped_suite_validates_with_its_data():
    from harness.data.tasks import load_task

    suites = sorted((ROOT / "suites").rglob("*.yaml"))
    assert suites, "no shipped suites found"
    for path in suites:
        spec = load_suite(path)
        for task in spec.tasks:
            data = load_task(task)
            assert data.eval, f"{path}: task {task.name} has no eval items"


def test_unknown_key_names_file_line_path_and_suggestion(tmp_path):
    text = GOOD.replace("    template:", "    max_new_tokns: 5\n    template:")
    with pytest.raises(SpecError) as err:
        load_suite(write(tmp_path, text))
    msg = str(err.value)
    assert f"{tmp_path / 'suite.yaml'}:6" in msg
    assert "tasks[0].max_new_tokns" in msg
    assert "unknown key 'max_new_tokns'" in msg


def test_unknown_nested_key_suggests_the_close_one(tmp_path):
    text = GOOD.replace("data: {eval: e.jsonl}", "data: {eval: e.jsonl, trian: t.jsonl}")
    with pytest.raises(SpecError) as err:
        load_suite(write(tmp_path, text))
    assert "did you mean 'train'?" in str(err.value)
    assert "tasks[0].data.trian" in str(err.value)


def test_unknown_arm_and_bad_arm_params(tmp_path):
    with pytest.raises(SpecError, match=r"unknown arm 'few_shoot'.*did you mean 'few_shot'"):
        load_suite(write(tmp_path, GOOD.replace("arms: [base]", "arms: [few_shoot]")))
    bad = GOOD.replace("arms: [base]", "arms:\n  - arm: few_shot\n    params: {kk: 3}")
    with pytest.raises(SpecError) as err:
        load_suite(write(tmp_path, bad))
    assert "arms[0].params.kk" in str(err.value) and "did you mean 'k'" in str(err.value)
    with pytest.raises(SpecError, match="greater than or equal to 1"):
        load_suite(
            write(
                tmp_path,
                GOOD.replace("arms: [base]", "arms:\n  - arm: few_shot\n    params: {k: 0}"),
            )
        )


def test_template_placeholders_are_checked_at_load(tmp_path):
    with pytest.raises(
        SpecError, match=r"unknown placeholder '\{questoin\}'.*did you mean 'question'"
    ):
        load_suite(write(tmp_path, GOOD.replace("{question}", "{questoin}")))


def test_malformed_yaml_and_non_mapping(tmp_path):
    with pytest.raises(SpecError, match="not valid YAML"):
        load_suite(write(tmp_path, "name: [unclosed\n"))
    with pytest.raises(SpecError, match="must be a YAML mapping"):
        load_suite(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(SpecError, match="suite file not found"):
        load_suite(tmp_path / "missing.yaml")


def test_duplicate_arm_names_rejected(tmp_path):
    with pytest.raises(SpecError, match="duplicate arm name"):
        load_suite(write(tmp_path, GOOD.replace("arms: [base]", "arms: [base, base]")))


def test_overrides_and_relative_paths(tmp_path):
    spec = load_suite(
        write(tmp_path, GOOD), ["model.batch_size=8", "tasks.0.generation.max_new_tokens=5"]
    )
    assert spec.model.batch_size == 8
    assert spec.tasks[0].generation.max_new_tokens == 5
    assert spec.tasks[0].data.eval == str((tmp_path / "e.jsonl").resolve())
    raw = {"tasks": [{"a": 1}]}
    apply_override(raw, "tasks.0.a=[1, 2]")
    assert raw["tasks"][0]["a"] == [1, 2]
    # free text YAML cannot read (a colon followed by a space) stays the string the user typed
    apply_override(raw, "tasks.0.b=If unsure, reply: I don't know")
    assert raw["tasks"][0]["b"] == "If unsure, reply: I don't know"
    apply_override(raw, "tasks.0.c=Answer from {context} only: {question}")
    assert raw["tasks"][0]["c"] == "Answer from {context} only: {question}"
    apply_override(raw, "tasks.0.d={k: 3}")
    assert raw["tasks"][0]["d"] == {"k": 3}
    apply_override(raw, "tasks.0.e=0.5")
    assert raw["tasks"][0]["e"] == 0.5
    with pytest.raises(SpecError, match="not a YAML list or mapping"):
        apply_override(raw, "tasks.0.a=[1, 2")
    with pytest.raises(SpecError, match="not an index"):
        apply_override(raw, "tasks.3.a=1")
    with pytest.raises(SpecError, match="KEY.PATH=VALUE"):
        apply_override(raw, "nothing")


def test_structured_answers_need_their_output_fields(tmp_path):
    text = GOOD.replace("    template:", "    answer_style: structured\n    template:")
    with pytest.raises(SpecError) as err:
        load_suite(write(tmp_path, text))
    msg = str(err.value)
    assert f"{tmp_path / 'suite.yaml'}:6" in msg
    assert "answer_style: structured but no output_fields" in msg
    with_fields = text.replace("    template:", "    output_fields: [route]\n    template:")
    assert load_suite(write(tmp_path, with_fields)).tasks[0].output_fields == ["route"]


def test_yaml_1_1_integers_read_as_yaml_1_2(tmp_path):
    def suite(value):
        return write(tmp_path, GOOD.replace("arms: [base]", f"seed: {value}\narms: [base]"))

    assert load_suite(suite("010")).seed == 10  # YAML 1.1 reads octal 8
    for value in ("1:30", "0b101", "1_000"):  # YAML 1.1 numbers, YAML 1.2 text
        with pytest.raises(SpecError, match="seed"):
            load_suite(suite(value))
