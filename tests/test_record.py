"""The typed run record: a real run's results.json validates against `adaptbench schema`."""

from __future__ import annotations

import json

import jsonschema
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.reports.runfiles import load_results
from harness.spec.record import (
    MetricDefinition,
    RunRecord,
    direction,
    metric_value,
    ok_runs,
    primary_metric,
)


def _schema() -> dict:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_runs_results_json_validates_against_the_printed_schema(
    tiny_suite, tmp_path, fake_backend
):
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(tiny_suite), "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    results = json.loads((out / "results.json").read_text())
    schema = _schema()
    jsonschema.validate(results, schema)
    # The arm class's flag and role are recorded, and the typed record reads them.
    assert {run["arm"]: (run["changes_weights"], run["role"]) for run in results["runs"]} == {
        "base": (False, "baseline"),
        "few_shot": (False, "contender"),
    }
    loaded = load_results(out)
    assert [r.arm for r in loaded.ok_runs("qa")] == ["base", "few_shot"]
    broken = json.loads(json.dumps(results))
    broken["runs"][0]["status"] = "finished"  # not a status the runner writes
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    del broken["runs"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_every_field_of_the_schema_is_described():
    schema = _schema()
    missing = [
        f"{name}.{field}"
        for name, definition in schema["$defs"].items()
        for field, prop in definition.get("properties", {}).items()
        if not prop.get("description")
    ]
    missing += [f for f, prop in schema["properties"].items() if not prop.get("description")]
    assert missing == []


def test_accessors_read_old_and_new_records():
    def record(**fields) -> RunRecord:
        return RunRecord.model_validate({"task": "t", "arm": "a", "status": "ok"} | fields)

    run = record(
        kind="rag",
        metrics={
            "token_f1": {"value": 0.4, "n": 3},
            "latency": {"value": 1.0, "higher_is_better": False},
        },
        forgetting={"mean": {"value": 0.02}},
    )
    failed = record(kind="my_adapter", changes_weights=True, status="failed")
    assert failed.changes_weights and not run.changes_weights and run.family == "a"
    assert run.value("token_f1") == 0.4 and metric_value(run, "token_f1") == 0.4
    assert run.value("forgetting") == 0.02
    assert run.value("exact_match") is None and metric_value(None, "x") is None
    assert direction("token_f1", {"token_f1": MetricDefinition(higher_is_better=True)}) is True
    assert direction("latency", {}, [run]) is False
    assert direction("token_f1", {}, [run]) is None  # the summary does not say: unknown
    assert direction("unknown", {}, [run]) is None
    assert primary_metric({"token_f1": 1, "exact_match": 2}) == "exact_match"
    assert primary_metric(["abstention_rate"]) is None
    assert ok_runs([run, failed]) == [run]


def test_a_training_that_left_items_out_is_said_in_both_reports(tmp_path):
    import shutil
    from pathlib import Path

    from harness.reports.runfiles import load_results
    from harness.reports.write import write_reports

    run_dir = tmp_path / "run"  # a run folder written by the previous release, two lora cells
    shutil.copytree(Path(__file__).parent / "data" / "release1-run", run_dir)
    results = load_results(run_dir)
    lora = [r for r in results.runs if r.arm == "lora"]
    assert lora[0].training_warning() is None
    lora[0].efficiency.training.examples = 40
    lora[0].efficiency.training.examples_too_long = 24
    said = "`lora` trained without 24 of 64 train items"
    assert lora[0].training_warning().startswith(said)
    write_reports(run_dir, results)
    assert f"**Training warning:** {said}" in (run_dir / "report.md").read_text()
    assert "Training warning:</b> lora trained without 24" in (run_dir / "report.html").read_text()
