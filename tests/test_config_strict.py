"""Suite values are taken as written or rejected: no silent coercion, no silent last-key-wins."""

from __future__ import annotations

import pytest

from harness.run.suite import load_suite
from harness.spec.config import SpecError

from .test_config import GOOD, write


def test_duplicate_key_in_a_mapping_names_file_and_line(tmp_path):
    text = GOOD.replace(
        '    template: "Q: {question}"', '    template: "Q: {question}"\n    template: "x"'
    )
    path = write(tmp_path, text)
    with pytest.raises(
        SpecError, match=rf"{path}:7: .*duplicate key 'template' \(first given at line 6\)"
    ):
        load_suite(path)


def test_batch_size_true_is_not_one(tmp_path):
    path = write(tmp_path, GOOD + "model: {batch_size: true}\n")
    with pytest.raises(
        SpecError, match=rf"{path}:8: model.batch_size: Input should be a valid integer"
    ):
        load_suite(path)
    with pytest.raises(SpecError, match="model.batch_size"):
        load_suite(write(tmp_path, GOOD + 'model: {batch_size: "8"}\n'))


def test_scientific_notation_is_a_number(tmp_path):
    text = GOOD.replace("arms: [base]", "arms:\n  - arm: lora\n    params: {learning_rate: 5e-4}")
    spec = load_suite(write(tmp_path, text))
    assert spec.arms[0].params["learning_rate"] == 0.0005
    spec = load_suite(write(tmp_path, GOOD), ["tasks.0.leakage_threshold=9e-1"])
    assert spec.tasks[0].leakage_threshold == 0.9


@pytest.mark.parametrize(
    "placeholder", ["{question.__class__}", "{question[0]}", "{context.upper}"]
)
def test_attribute_or_index_access_in_a_template_is_an_error(tmp_path, placeholder):
    path = write(tmp_path, GOOD.replace("{question}", placeholder))
    with pytest.raises(
        SpecError, match=rf"{path}:6: tasks\[0\].template: .*attribute or index access"
    ):
        load_suite(path)


def test_non_utf8_suite_names_file_and_line(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_bytes(GOOD.encode() + b"description: caf\xe9\n")
    with pytest.raises(SpecError, match=rf"{path}:8: not UTF-8"):
        load_suite(path)


def test_yaml_1_2_booleans_on_off_are_text(tmp_path):
    text = GOOD.replace("arms: [base]", "arms:\n  - arm: lora\n    params: {share_prefix: on}")
    assert load_suite(write(tmp_path, text)).arms[0].params["share_prefix"] == "on"
    bad = GOOD.replace("arms: [base]", "arms:\n  - arm: lora\n    params: {packing: yes}")
    with pytest.raises(
        SpecError, match=r"arms\[0\].params.packing: Input should be a valid boolean"
    ):
        load_suite(write(tmp_path, bad))
