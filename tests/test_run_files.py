"""Run files are checked, not trusted: a missing, damaged or hand-edited results.json, samples
file or baseline is exit 2 naming the file and key, and a report never changes silently."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from harness.reports import write as report_write
from harness.reports.runfiles import RunFolderError, load_results

from .test_cli_bad_input import assert_bad_input, invoke, reportable_run
from .test_gate import GOOD, WORSE, make_run

REPORTS = ("report.md", "report.html", "results.csv")


def _digest(folder: Path) -> dict[str, str]:
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in REPORTS}


def _edit_results(run: Path, edit) -> None:
    payload = json.loads((run / "results.json").read_text())
    edit(payload)
    (run / "results.json").write_text(json.dumps(payload))


def _with_checksums(run: Path) -> Path:
    """Record each samples file's sha256 in results.json, as the runner does."""

    def add(payload):
        for r in payload["runs"]:
            r["samples_sha256"] = hashlib.sha256((run / r["samples"]).read_bytes()).hexdigest()

    _edit_results(run, add)
    return run


# -- a report never changes its verdict silently ------------------------------------------------


def test_report_without_samples_refuses_and_leaves_the_reports_as_they_were(tmp_path):
    run = reportable_run(tmp_path / "run")
    assert invoke("report", run).exit_code == 0
    before = _digest(run)
    samples = run / "samples" / "t__few_shot.jsonl"
    samples.unlink()
    assert_bad_input(invoke("report", run), str(samples), "missing")
    assert _digest(run) == before
    (run / "samples").rmdir()  # the whole samples/ folder gone: the same
    assert_bad_input(invoke("report", run), str(samples))
    assert _digest(run) == before


def test_a_samples_file_that_does_not_match_its_checksum_is_refused(tmp_path):
    run = _with_checksums(reportable_run(tmp_path / "run"))
    assert invoke("report", run).exit_code == 0
    before = _digest(run)
    samples = run / "samples" / "t__few_shot.jsonl"
    rows = samples.read_text().splitlines()
    samples.write_text("\n".join(rows[:50]) + "\n")  # cut at a line end: every line parses
    assert_bad_input(invoke("report", run), str(samples), "samples_sha256")
    assert _digest(run) == before


def test_results_and_samples_must_agree_on_a_metric(tmp_path):
    run = reportable_run(tmp_path / "run")

    def better(payload):  # a consistent edit: value and interval moved together
        payload["runs"][0]["metrics"]["exact_match"] |= {"value": 0.9, "ci_low": 0.8, "ci_high": 1}

    _edit_results(run, better)
    assert_bad_input(
        invoke("report", run), "runs[0].metrics.exact_match.value", "average 0.6", "t__few_shot"
    )

    def fewer(payload):
        payload["runs"][0]["metrics"]["exact_match"] |= {"value": 0.6, "ci_low": 0.5, "n": 90}

    _edit_results(run, fewer)
    assert_bad_input(invoke("report", run), "runs[0].metrics.exact_match.n", "holds 100 scores")


@pytest.mark.parametrize("command", ["compare", "gate", "baseline"])
def test_compare_gate_and_baseline_name_a_missing_samples_file(tmp_path, command):
    good = make_run(tmp_path / "good", {"few_shot": GOOD})
    assert invoke("baseline", good, "--name", "b", "--dir", tmp_path).exit_code == 0
    run = make_run(tmp_path / "run", {"few_shot": GOOD})
    samples = run / "samples" / "t__few_shot.jsonl"
    samples.unlink()
    args = {
        "compare": [good, run],
        "gate": [run, "--baseline", tmp_path / "b.json"],
        "baseline": [run, "--name", "x", "--dir", tmp_path / "bl"],
    }[command]
    r = invoke(command, *args)
    assert_bad_input(r, str(samples), "missing")
    assert "share no items" not in r.output and "shares no items" not in r.output


def test_the_three_reports_are_replaced_together_or_not_at_all(tmp_path, monkeypatch):
    run = reportable_run(tmp_path / "run")
    assert invoke("report", run).exit_code == 0
    before = _digest(run)

    def broken(view):
        raise RuntimeError("cannot render")

    _edit_results(run, lambda p: p.update(suite="renamed"))  # report.md would change
    payload = load_results(run)
    monkeypatch.setattr(report_write, "render_html", broken)
    with pytest.raises(RuntimeError):
        report_write.write_reports(run, payload)
    assert _digest(run) == before
    monkeypatch.undo()

    (run / "results.csv").unlink()
    (run / "results.csv").mkdir()  # the last target cannot be replaced
    assert_bad_input(invoke("report", run), "results.csv", "cannot write the reports")
    for name in ("report.md", "report.html"):
        assert hashlib.sha256((run / name).read_bytes()).hexdigest() == before[name]
    assert not [p.name for p in run.iterdir() if ".tmp" in p.name]


# -- values in results.json --------------------------------------------------------------------


def _metric(payload):
    return payload["runs"][0]["metrics"]["exact_match"]


BAD_VALUES = [
    (lambda p: _metric(p).update(value=float("nan")), "runs[0].metrics.exact_match.value", "nan"),
    (lambda p: _metric(p).update(value="0.6"), "runs[0].metrics.exact_match.value", "string"),
    (lambda p: _metric(p).update(ci_high=1.5), "runs[0].metrics.exact_match.ci_high", "range"),
    (lambda p: _metric(p).update(ci_low=0.7), "runs[0].metrics.exact_match", "not ordered"),
    (lambda p: _metric(p).update(n=-3), "runs[0].metrics.exact_match.n", "count"),
    (lambda p: _metric(p).update(n="100"), "runs[0].metrics.exact_match.n", "count"),
    (lambda p: p["runs"][0].update(status="skipped"), "runs[0].status", "unknown status"),
    (
        lambda p: p["runs"][0]["efficiency"].update(latency_p95_s=float("inf")),
        "runs[0].efficiency.latency_p95_s",
        "finite",
    ),
    (
        lambda p: p["runs"][0]["efficiency"].update(peak_memory_bytes="1 GiB"),
        "runs[0].efficiency.peak_memory_bytes",
        "must be an integer",
    ),
    (
        lambda p: p["runs"][0].update(
            forgetting={"mean": {"value": float("nan"), "ci_low": 0, "ci_high": 0, "n": 5}}
        ),
        "runs[0].forgetting.mean.value",
        "finite",
    ),
    (
        lambda p: p["metric_definitions"]["exact_match"].update(higher_is_better="yes"),
        "metric_definitions.exact_match.higher_is_better",
        "true, false or null",
    ),
    (lambda p: p["environment"].update(seed="1"), "environment.seed", "count"),
]


@pytest.mark.parametrize("edit,key,words", BAD_VALUES)
@pytest.mark.parametrize("command", ["report", "compare", "gate", "baseline"])
def test_bad_values_in_results_json_are_exit_2_naming_the_key(tmp_path, edit, key, words, command):
    good = make_run(tmp_path / "good", {"few_shot": GOOD})
    assert invoke("baseline", good, "--name", "b", "--dir", tmp_path).exit_code == 0
    run = reportable_run(tmp_path / "run")
    _edit_results(run, edit)
    args = {
        "report": [run],
        "compare": [good, run],
        "gate": [run, "--baseline", tmp_path / "b.json"],
        "baseline": [run, "--name", "x", "--dir", tmp_path / "bl"],
    }[command]
    assert_bad_input(invoke(command, *args), str(run / "results.json"), key, words)


def test_a_bootstrap_interval_a_hair_off_its_mean_is_accepted(tmp_path):
    run = reportable_run(tmp_path / "run")
    _edit_results(run, lambda p: _metric(p).update(ci_low=0.6 + 1e-15, ci_high=0.7))
    assert invoke("report", run).exit_code == 0


# -- values in a baseline ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit,key,words",
    [
        (
            lambda b: b["runs"][0]["metrics"]["exact_match"].update(value=float("nan")),
            "runs[0].metrics.exact_match.value",
            "finite",
        ),
        (
            lambda b: b["runs"][0]["item_scores"]["q3"].update(exact_match="1"),
            "runs[0].item_scores.q3.exact_match",
            "string",
        ),
        (
            lambda b: b["runs"][0]["metrics"]["exact_match"].update(
                value=0.9, ci_low=0.8, ci_high=1.0
            ),
            "runs[0].metrics.exact_match.value",
            "average 0.6",
        ),
        (
            lambda b: b["runs"][0]["efficiency"].update(latency_p95_s=-1),
            "runs[0].efficiency.latency_p95_s",
            "range",
        ),
    ],
)
def test_bad_values_in_a_baseline_are_exit_2_naming_the_key(tmp_path, edit, key, words):
    good = make_run(tmp_path / "good", {"few_shot": GOOD})
    assert invoke("baseline", good, "--name", "b", "--dir", tmp_path).exit_code == 0
    path = tmp_path / "b.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    assert_bad_input(invoke("gate", good, "--baseline", path), str(path), key, words)


def test_nan_in_a_samples_score_is_exit_2_naming_the_line(tmp_path):
    run = make_run(tmp_path / "run", {"few_shot": WORSE})
    samples = run / "samples" / "t__few_shot.jsonl"
    rows = samples.read_text().splitlines()
    rows[4] = rows[4].replace('"value": 0.0', '"value": NaN')
    samples.write_text("\n".join(rows) + "\n")
    with pytest.raises(RunFolderError, match=r"t__few_shot.jsonl:5: scores.exact_match.value"):
        load_results(run)


def test_a_samples_row_field_of_the_wrong_type_is_exit_2_naming_the_line_and_key(tmp_path):
    run = make_run(tmp_path / "run", {"few_shot": WORSE})
    samples = run / "samples" / "t__few_shot.jsonl"
    rows = samples.read_text().splitlines()
    row = json.loads(rows[2])
    row["cluster"] = 7
    rows[2] = json.dumps(row)
    samples.write_text("\n".join(rows) + "\n")
    with pytest.raises(RunFolderError, match=r"t__few_shot.jsonl:3: cluster: must be a string"):
        load_results(run)
