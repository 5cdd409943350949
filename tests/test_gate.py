"""compare, baseline, gate and the decision, on synthetic run folders (no model needed)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.common.stats import summarize
from harness.metrics import METRICS
from harness.reports.compare import compare_runs
from harness.reports.decision import decide
from harness.reports.gate import load_baseline, write_baseline
from harness.reports.runfiles import load_results
from harness.spec.config import read_suite
from harness.spec.record import SCHEMA_VERSION, Baseline

GATES = [
    {"metric": "exact_match", "max_drop": 0.05},
    {"metric": "exact_match", "min": 0.2},
    {"efficiency": "latency_p95_s", "max_increase": 1.0},
]


def make_run(
    folder: Path,
    arms: dict[str, list[float]],
    latency: float = 1.0,
    gates=GATES,
    decision=None,
    suite: str = "s",
    task: str = "t",
    content: str = "c",
    model: str = "weights1",
    version: str = "1",
) -> Path:
    """A run folder with one task, one record per arm and per-item exact_match scores.

    `content` stands for the items' content: the same id with another content is another item.
    """
    runs = []
    for arm, scores in arms.items():
        rows = [
            {
                "id": f"q{i}",
                "item_hash": f"{content}{i}",
                "output": "<script>x</script>",
                "scores": {"exact_match": {"value": v, "reason": "r"}},
            }
            for i, v in enumerate(scores)
        ]
        (folder / "samples").mkdir(parents=True, exist_ok=True)
        (folder / "samples" / f"{task}__{arm}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows)
        )
        runs.append(
            {
                "task": task,
                "arm": arm,
                "kind": arm.split("-")[0],
                "status": "ok",
                "metrics": {"exact_match": summarize(scores) | {"higher_is_better": True}},
                "efficiency": {
                    "latency_p95_s": latency,
                    "peak_memory_bytes": 2**30,
                    "calibration": {"seconds": 1.0, "spread": 0.0},
                },
                "samples": f"samples/{task}__{arm}.jsonl",
            }
        )
    payload = {
        "schema_version": 1,
        "suite": suite,
        "environment": {"seed": 1},
        "model": {"name": "m", "source": "local", "fingerprint": model},
        "metric_definitions": {
            n: {"higher_is_better": m.higher_is_better, "version": version}
            for n, m in METRICS.items()
        },
        "suite_spec": {"gates": gates, "decision": decision or {}},
        "tasks": {task: {}},
        "runs": runs,
    }
    (folder / "results.json").write_text(json.dumps(payload))
    return folder


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


GOOD = [1.0] * 60 + [0.0] * 40  # 0.60
WORSE = [0.0] * 30 + [1.0] * 30 + [0.0] * 40  # 0.30, loses 30 items the good run had right
NOISE = [1.0] * 57 + [0.0] * 43  # 0.57: past a 0.05 tolerance? no (0.03); see the other case


def test_gate_fails_on_a_significant_drop_and_passes_on_a_rerun(tmp_path):
    base_dir = make_run(tmp_path / "base", {"few_shot": GOOD})
    r = invoke("baseline", base_dir, "--name", "demo", "--dir", tmp_path / "baselines")
    assert r.exit_code == 0, r.output
    baseline = tmp_path / "baselines" / "demo.json"
    data = json.loads(baseline.read_text())
    assert data["runs"][0]["item_scores"]["q0"] == {"exact_match": 1.0}

    same = make_run(tmp_path / "rerun", {"few_shot": GOOD})
    r = invoke("gate", same, "--baseline", baseline, "--junit", tmp_path / "ok.xml")
    assert r.exit_code == 0, r.output
    assert "PASSED" in r.output

    worse = make_run(tmp_path / "worse", {"few_shot": WORSE}, latency=3.5)
    r = invoke(
        "gate",
        worse,
        "--baseline",
        baseline,
        "--junit",
        tmp_path / "fail.xml",
        "--md",
        tmp_path / "g.md",
    )
    assert r.exit_code == 1
    assert "worse than the baseline by 0.300" in r.output and "mcnemar" in r.output
    assert "worse: normalised latency_p95_s +250% against the baseline" in r.output
    suite = ET.parse(tmp_path / "fail.xml").getroot().find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "2"
    assert "FAILED" in (tmp_path / "g.md").read_text()


def test_a_drop_past_tolerance_that_is_not_significant_passes(tmp_path):
    base_dir = make_run(
        tmp_path / "base", {"few_shot": GOOD}, gates=[{"metric": "exact_match", "max_drop": 0.01}]
    )
    invoke("baseline", base_dir, "--name", "b", "--dir", tmp_path)
    slightly = make_run(
        tmp_path / "run", {"few_shot": NOISE}, gates=[{"metric": "exact_match", "max_drop": 0.01}]
    )
    r = invoke("gate", slightly, "--baseline", tmp_path / "b.json")
    assert r.exit_code == 0, r.output
    assert "is not significant" in r.output


def test_gate_bad_inputs_exit_2(tmp_path):
    run = make_run(tmp_path / "run", {"few_shot": GOOD}, gates=[])
    assert invoke("gate", run, "--baseline", tmp_path / "missing.json").exit_code == 2
    invoke("baseline", run, "--name", "b", "--dir", tmp_path)
    r = invoke("gate", run, "--baseline", tmp_path / "b.json")
    assert r.exit_code == 2 and "no gates defined" in r.output
    assert invoke("gate", tmp_path / "nowhere", "--baseline", tmp_path / "b.json").exit_code == 2


def test_compare_reports_paired_deltas_and_flips(tmp_path):
    a = make_run(tmp_path / "a", {"few_shot": GOOD})
    b = make_run(tmp_path / "b", {"few_shot": WORSE})
    result = compare_runs(a, b)
    (c,) = result.comparisons
    assert c.result.test == "mcnemar" and c.result.delta == -0.3 and c.verdict == "worse"
    assert result.as_dict()["comparisons"][0]["a_only"] == 30  # the --json form
    flips = result.flips[0]
    assert len(flips.broken) == 30 and flips.fixed == []
    r = invoke("compare", a, b)
    assert r.exit_code == 0 and "30 broken" in r.output


def test_decision_calls_ties_and_respects_limits(tmp_path):
    run = make_run(tmp_path / "run", {"base": WORSE, "few_shot": GOOD, "rag": NOISE})
    (d,) = decide(load_results(run), run)
    # rag is 0.03 behind few_shot on the same items: not significant and, with no equivalence
    # margin set, not called equal either; equal latency keeps the best.
    assert d.recommended == "few_shot"
    assert any("`rag`" in r and "not shown different" in r for r in d.reasons)
    assert any("better than `base`" in r for r in d.reasons)
    limited = make_run(
        tmp_path / "lim", {"few_shot": GOOD, "rag": NOISE}, decision={"max_latency_p95_s": 0.5}
    )
    (d,) = decide(load_results(limited), limited)
    assert d.recommended is None and "every arm breaks a limit" in d.reasons[0]


def test_a_significant_change_on_a_directionless_metric_is_not_called_a_tie():
    from dataclasses import replace

    from harness.reports.compare import Comparison, PairedTest

    result = PairedTest("mcnemar", n=100, delta=0.3, ci_low=0.2, ci_high=0.4, p_value=1e-7)
    c = Comparison("t", "abstention_rate", "base", "lora", None, result, p_adjusted=1e-6)
    assert c.verdict == "higher"
    lower = replace(result, delta=-0.3)
    assert Comparison("t", "m", "a", "b", None, lower, 1e-6).verdict == "lower"
    assert Comparison("t", "m", "a", "b", None, result, p_adjusted=0.2).verdict == "tie"
    assert Comparison("t", "m", "a", "b", True, result, p_adjusted=1e-6).verdict == "better"


def _baseline(tmp_path: Path, **kw) -> Path:
    run = make_run(tmp_path / "base", {"few_shot": GOOD}, **kw)
    assert invoke("baseline", run, "--name", "b", "--dir", tmp_path).exit_code == 0
    return tmp_path / "b.json"


def test_a_baseline_of_another_suite_is_bad_input_not_a_failed_gate(tmp_path):
    baseline = _baseline(tmp_path, suite="other-suite", content="z")
    run = make_run(tmp_path / "run", {"few_shot": WORSE})
    r = invoke("gate", run, "--baseline", baseline)
    assert r.exit_code == 2 and "FAILED" not in r.output
    assert "suite 'other-suite' in baseline 'b', 's' in run" in r.output
    assert "--allow-mismatch suite" in r.output


@pytest.mark.parametrize(
    ("kw", "kind", "words"),
    [
        ({"model": "weights2"}, "model", "weights weights2"),
        ({"version": "2"}, "metrics", "METRICS_VERSION 2 in baseline 'b', 1 in run"),
        ({"task": "other"}, "task", "task(s) ['t'] of run"),
        ({"content": "z"}, "items", "100 item(s) have the same id but other content"),
    ],
)
def test_gate_mismatches_are_exit_2_unless_explicitly_allowed(tmp_path, kw, kind, words):
    baseline = _baseline(tmp_path, **kw)
    run = make_run(tmp_path / "run", {"few_shot": GOOD})
    r = invoke("gate", run, "--baseline", baseline)
    assert r.exit_code == 2 and words in r.output, r.output
    allowed = invoke("gate", run, "--baseline", baseline, "--allow-mismatch", kind)
    if kind in ("task", "items"):  # then no item is shared: still nothing to gate against
        assert allowed.exit_code == 2 and "shares no items" in allowed.output
    else:
        assert allowed.exit_code == 0, allowed.output
        assert f"{kind} mismatch allowed by --allow-mismatch {kind}" in allowed.output


def test_items_whose_content_changed_are_left_out_when_allowed(tmp_path):
    baseline = _baseline(tmp_path)
    data = json.loads(baseline.read_text())
    hashes = data["runs"][0]["item_hashes"]
    for i in range(30):  # the 30 items WORSE gets wrong changed content since the baseline
        hashes[f"q{i}"] = "changed"
    baseline.write_text(json.dumps(data))
    worse = make_run(tmp_path / "run", {"few_shot": WORSE})
    r = invoke("gate", worse, "--baseline", baseline)
    assert r.exit_code == 2 and "30 item(s) have the same id but other content" in r.output
    r = invoke("gate", worse, "--baseline", baseline, "--allow-mismatch", "items")
    assert r.exit_code == 0, r.output  # on the 70 unchanged items nothing got worse
    assert "change +0.000 on 70 shared items" in r.output and "items mismatch allowed" in r.output


def test_an_old_baseline_without_item_hashes_still_gates_and_says_so(tmp_path):
    baseline = _baseline(tmp_path)
    data = json.loads(baseline.read_text())
    for run in data["runs"]:
        del run["item_hashes"]
    baseline.write_text(json.dumps(data))
    r = invoke("gate", make_run(tmp_path / "run", {"few_shot": GOOD}), "--baseline", baseline)
    assert r.exit_code == 0 and "PASSED" in r.output
    assert "no per-item content hashes" in r.output and "matched by id alone" in r.output


def test_compare_of_runs_sharing_no_items_or_another_suite_is_exit_2(tmp_path):
    a = make_run(tmp_path / "a", {"few_shot": GOOD})
    other_items = make_run(tmp_path / "b", {"few_shot": GOOD}, content="z")
    r = invoke("compare", a, other_items)
    assert r.exit_code == 2 and "same id but other content" in r.output
    r = invoke("compare", a, other_items, "--allow-mismatch", "items")
    assert r.exit_code == 2 and "share no items" in r.output
    other_suite = make_run(tmp_path / "c", {"few_shot": GOOD}, suite="x")
    r = invoke("compare", a, other_suite)
    assert r.exit_code == 2 and "suite 's' in run A" in r.output
    r = invoke("compare", a, other_suite, "--allow-mismatch", "suite")
    assert r.exit_code == 0 and "suite mismatch allowed" in r.output
    other_arm = make_run(tmp_path / "d", {"lora": GOOD})
    r = invoke("compare", a, other_arm)
    assert r.exit_code == 2 and "share no items" in r.output


def test_a_run_gates_against_its_own_baseline_and_fails_a_floor(tiny_suite, tmp_path, fake_backend):
    """The same commands on what the runner really writes; the fake backend's canned answers."""
    tiny_suite.write_text(
        tiny_suite.read_text()
        + "gates:\n  - {metric: exact_match, max_drop: 0.05}\n  - {metric: exact_match, min: 0.5}\n"
    )

    def run(out: str) -> dict:
        r = invoke("run", tiny_suite, "--out", tmp_path / out, "--force", "--no-progress")
        assert r.exit_code == 0, r.output
        return {
            x["arm"]: x for x in json.loads((tmp_path / out / "results.json").read_text())["runs"]
        }

    runs = run("a")
    # Canned answers: 2 of 4 answerable right, 1 abstained, 1 wrong; 1 of 2 unanswerable answered.
    for arm in ("base", "few_shot"):
        values = {name: m["value"] for name, m in runs[arm]["metrics"].items()}
        assert values["exact_match"] == pytest.approx(3 / 6)
        assert values["false_answer_rate"] == pytest.approx(1 / 4)
        assert values["unanswerable_answered"] == pytest.approx(1 / 2)
        assert values["abstention_rate"] == pytest.approx(2 / 6)
    r = invoke("baseline", tmp_path / "a", "--name", "tiny", "--dir", tmp_path / "baselines")
    assert r.exit_code == 0, r.output
    baseline = tmp_path / "baselines" / "tiny.json"
    run("b")
    r = invoke("gate", tmp_path / "b", "--baseline", baseline)
    assert (
        r.exit_code == 0 and "PASSED" in r.output and "change +0.000 on 6 shared items" in r.output
    )
    r = invoke("compare", tmp_path / "a", tmp_path / "b")
    assert r.exit_code == 0 and "0 fixed, 0 broken" in r.output

    fake_backend.answers = {}  # abstains on everything: only the two unanswerable items are right
    assert run("c")["base"]["metrics"]["exact_match"]["value"] == pytest.approx(2 / 6)
    r = invoke("gate", tmp_path / "c", "--baseline", baseline)
    assert r.exit_code == 1 and "FAILED" in r.output
    assert "`qa/base: exact_match min=0.5` | exact_match 0.333" in r.output
    r = invoke("compare", tmp_path / "a", tmp_path / "c")
    # q1 and q2 lose their right answers; q6, unanswerable, is now rightly abstained on.
    assert r.exit_code == 0 and "1 fixed, 2 broken.\n- fixed: q6\n- broken: q1, q2" in r.output


def test_an_arm_the_baseline_lacks_is_new_and_skipped_unless_strict(tmp_path):
    baseline = _baseline(tmp_path)  # few_shot only
    run = make_run(tmp_path / "run", {"few_shot": GOOD, "rag": GOOD})
    md, xml = tmp_path / "g.md", tmp_path / "g.xml"
    r = invoke("gate", run, "--baseline", baseline, "--md", md, "--junit", xml)
    assert r.exit_code == 0, r.output
    assert "PASSED" in r.output
    assert "new, no baseline: t/rag is not in the baseline, so its max_drop was not checked" in (
        md.read_text()
    )
    assert "**New arms (new, no baseline):** `t/rag`" in md.read_text()
    # rag's floor is still checked; its max_drop and latency max_increase are skipped
    assert "| ✅ | `t/rag: exact_match min=0.2` | exact_match 0.600; new, no baseline" in r.output
    suite = ET.parse(xml).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("6", "0", "2")
    skipped = [c for c in suite.iter("testcase") if c.find("skipped") is not None]
    assert {c.get("classname") for c in skipped} == {"adaptbench.t.rag"}
    assert all("new, no baseline" in c.find("skipped").get("message") for c in skipped)

    r = invoke("gate", run, "--baseline", baseline, "--junit", xml, "--strict")
    assert r.exit_code == 1 and "FAILED" in r.output
    assert "--strict fails an arm without a baseline" in r.output
    suite = ET.parse(xml).getroot().find("testsuite")
    assert (suite.get("failures"), suite.get("skipped")) == ("2", "0")


def test_a_run_whose_every_arm_is_new_is_not_gated(tmp_path):
    baseline = _baseline(tmp_path)
    r = invoke("gate", make_run(tmp_path / "run", {"rag": GOOD}), "--baseline", baseline)
    assert r.exit_code == 2 and "none of its finished arms (t/rag)" in r.output


def test_a_baseline_has_results_json_shape_with_its_items_scores(tmp_path):
    run = make_run(tmp_path / "run", {"base": WORSE, "few_shot": GOOD})
    path = write_baseline(run, "b", tmp_path / "bl")
    data = json.loads(path.read_text())
    results = json.loads((run / "results.json").read_text())
    # results.json's fields under results.json's names, plus the baseline's own
    assert set(data) == set(results) | {"name", "created", "source_run"}
    assert data["schema_version"] == SCHEMA_VERSION and data["name"] == "b"
    for key in ("suite", "environment", "model", "metric_definitions", "tasks"):
        assert data[key] == results[key], key
    for frozen, record in zip(data["runs"], results["runs"], strict=True):
        # the record's fields as results.json holds them, the arm's role recorded (migrated)
        assert {k: frozen[k] for k in record} == record
        assert frozen["role"] == ("baseline" if record["kind"] == "base" else "contender")
        assert frozen["item_scores"]["q0"] == {"exact_match": record["arm"] != "base"}
        assert frozen["item_hashes"]["q0"] == "c0"
    baseline = load_baseline(path)
    assert isinstance(baseline, Baseline) and baseline.source_run == str(run)
    assert [r.arm for r in baseline.runs] == ["base", "few_shot"]
    assert baseline.runs[1].item_scores == Baseline.model_validate(data).runs[1].item_scores


OLD_BASELINE = Path(__file__).resolve().parents[1] / "baselines" / "insurance-policy-qa.json"


def test_a_baseline_the_previous_release_wrote_still_loads_and_gates(tmp_path):
    """baselines/insurance-policy-qa.json (schema_version 1, written before baselines took
    results.json's shape): its runs read in the current layout, and a run that reproduces its
    items and scores passes the shipped suite's gates against it."""
    data = json.loads(OLD_BASELINE.read_text())
    assert data["schema_version"] == 1
    baseline = load_baseline(OLD_BASELINE)
    assert baseline.name == "insurance-policy-qa" and baseline.suite == data["suite"]
    roles = {r.arm: r.role for r in baseline.runs}
    assert roles["base"] == "baseline" and roles["oracle_context"] == "reference"
    assert roles["rag"] == "contender" and not baseline.runs[0].item_clusters
    # The run the baseline froze, rebuilt from the file: every arm's items, hashes and scores.
    folder = tmp_path / "run"
    (folder / "samples").mkdir(parents=True)
    runs = []
    for r in data["runs"]:
        name = f"samples/{r['task']}__{r['arm']}.jsonl"
        rows = [
            {
                "id": item,
                "item_hash": r["item_hashes"][item],
                "scores": {m: {"value": v} for m, v in scores.items()},
            }
            for item, scores in r["item_scores"].items()
        ]
        (folder / name).write_text("".join(json.dumps(row) + "\n" for row in rows))
        drop = ("item_scores", "item_hashes")
        runs.append({k: v for k, v in r.items() if k not in drop} | {"samples": name})
    suite, _ = read_suite(OLD_BASELINE.parents[1] / "suites" / "insurance-policy-qa.yaml")
    gates = [g.model_dump(exclude_none=True) for g in suite.gates]
    payload = {
        "suite": data["suite"],
        "environment": data["environment"],
        "model": data["model"],
        "metric_definitions": data["metric_definitions"],
        "suite_spec": {"gates": gates},
        "tasks": {"policy-qa": {}},
        "runs": runs,
    }
    (folder / "results.json").write_text(json.dumps(payload))
    r = invoke("gate", folder, "--baseline", OLD_BASELINE)
    assert r.exit_code == 0, r.output
    assert "PASSED" in r.output and "change +0.000 on 60 shared items" in r.output
    assert (
        "`policy-qa/lora: efficiency.latency_p95_s max_increase=0.5` | normalised latency_p95_s +0%"
        in r.output
    )
