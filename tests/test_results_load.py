"""results.json read as objects: a file of the previous layout loads through the migration
step, a newer one or a damaged one is refused naming the file, the version or the key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.reports.runfiles import RunFolderError, check_reportable, load_results
from harness.reports.write import write_reports
from harness.spec.record import SCHEMA_VERSION, Results, RunRecord

RELEASE1 = Path(__file__).parent / "data" / "release1-run"


@pytest.fixture
def release1(tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(RELEASE1, run)
    return run


def _edit(run: Path, change) -> None:
    path = run / "results.json"
    payload = json.loads(path.read_text())
    change(payload)
    path.write_text(json.dumps(payload))


def test_a_release1_file_loads_with_the_roles_its_arms_have(release1):
    assert json.loads((release1 / "results.json").read_text())["schema_version"] == 1
    results = load_results(release1)
    assert isinstance(results, Results) and results.schema_version == SCHEMA_VERSION
    assert all(isinstance(r, RunRecord) for r in results.runs)
    roles = {(r.task, r.kind): r.role for r in results.runs}
    assert roles[("choose", "base")] == "baseline"
    assert roles[("choose", "retrieval_only")] == "contender"
    assert roles[("choose", "lora")] == "contender"
    lora = next(r for r in results.runs if r.kind == "lora" and r.task == "write")
    assert lora.changes_weights and lora.family == "lora"
    assert lora.value("exact_match") == lora.metrics["exact_match"].value
    # The reports render from it, the decision section included.
    write_reports(release1, check_reportable(results, release1 / "results.json"))
    report = (release1 / "report.md").read_text()
    assert "## Decision" in report and "`lora`" in report


def test_a_newer_layout_is_refused_naming_its_version(release1):
    _edit(release1, lambda p: p.update(schema_version=SCHEMA_VERSION + 1))
    with pytest.raises(RunFolderError) as exc:
        load_results(release1)
    message = str(exc.value)
    assert str(release1 / "results.json") in message
    assert f"schema_version) {SCHEMA_VERSION + 1}" in message and "upgrade" in message


def test_a_wrong_shape_names_the_file_and_the_key_path(release1):
    _edit(release1, lambda p: p["runs"][2].pop("kind"))
    with pytest.raises(RunFolderError, match=r"results.json: .*runs\[2\]: missing key 'kind'"):
        load_results(release1)
    shutil.rmtree(release1)
    shutil.copytree(RELEASE1, release1)
    _edit(release1, lambda p: p["runs"][0]["efficiency"].update(peak_memory_bytes="a lot"))
    with pytest.raises(
        RunFolderError, match=r"runs\[0\]\.efficiency\.peak_memory_bytes: must be an integer"
    ):
        load_results(release1)
    shutil.rmtree(release1)
    shutil.copytree(RELEASE1, release1)
    _edit(release1, lambda p: p["runs"][1].update(status="finished"))
    with pytest.raises(RunFolderError, match=r"runs\[1\]\.status: unknown status"):
        load_results(release1)


def test_unknown_keys_of_a_newer_writer_are_kept_not_read(release1):
    _edit(release1, lambda p: p["runs"][0].update(some_future_field={"x": 1}))
    results = load_results(release1)
    assert results.runs[0].model_extra["some_future_field"] == {"x": 1}
