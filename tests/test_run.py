"""The runner and the CLI, end to end on the tiny model."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.spec.record import SCHEMA_VERSION

from .conftest import write_jsonl


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result


def test_run_writes_results_and_reuses_finished_arms(tiny_suite, tmp_path, fake_backend):
    out = tmp_path / "out"
    r = invoke("run", tiny_suite, "--out", out, "--no-progress")
    assert r.exit_code == 0, r.output
    results = json.loads((out / "results.json").read_text())
    assert results["schema_version"] == SCHEMA_VERSION
    assert {run["arm"] for run in results["runs"]} == {"base", "few_shot"}
    for run in results["runs"]:
        assert run["status"] == "ok" and not run["cached"]
        for name in (
            "exact_match",
            "token_f1",
            "false_answer_rate",
            "unanswerable_answered",
            "abstention_rate",
        ):
            m = run["metrics"][name]
            assert m["n"] > 0 and m["ci_low"] <= m["value"] <= m["ci_high"]
        assert run["metrics"]["false_answer_rate"]["n"] == 4  # answerable items
        assert run["metrics"]["unanswerable_answered"]["n"] == 2
        eff = run["efficiency"]
        for key in (
            "tokens_per_s",
            "latency_p50_s",
            "latency_p95_s",
            "peak_memory_bytes",
            "params_total",
        ):
            assert eff[key] is not None and eff[key] > 0
        if run["arm"] == "few_shot":
            assert (
                run["spec"]["params"]["k"] == 2 and run["spec"]["params"]["selection"] == "random"
            )
        samples = (out / run["samples"]).read_text().splitlines()
        assert len(samples) == 6
        row = json.loads(samples[0])
        assert {"prompt", "output", "gold", "scores"} <= set(row)
        assert "reason" in row["scores"]["exact_match"]
    assert results["environment"]["packages"]["torch"]
    # one row each in the metrics, efficiency and cost tables
    assert (out / "report.md").read_text().count("| `base` |") == 3
    assert "few_shot" in (out / "results.csv").read_text()

    again = invoke("run", tiny_suite, "--out", out, "--no-progress")
    assert again.exit_code == 0
    rerun = json.loads((out / "results.json").read_text())
    assert all(run["cached"] for run in rerun["runs"])
    assert [r["metrics"] for r in rerun["runs"]] == [r["metrics"] for r in results["runs"]]

    # A new output folder still reuses the cache; a changed parameter or --force recomputes.
    changed = invoke(
        "run", tiny_suite, "--out", tmp_path / "o2", "--set", "arms.1.params.k=1", "--no-progress"
    )
    runs = {r["arm"]: r for r in json.loads((tmp_path / "o2" / "results.json").read_text())["runs"]}
    assert changed.exit_code == 0 and runs["base"]["cached"] and not runs["few_shot"]["cached"]
    forced = invoke(
        "run", tiny_suite, "--out", tmp_path / "o3", "--force", "--arms", "base", "--no-progress"
    )
    runs = json.loads((tmp_path / "o3" / "results.json").read_text())["runs"]
    assert forced.exit_code == 0 and [r["arm"] for r in runs] == ["base"] and not runs[0]["cached"]


def test_limit_is_a_seeded_sample_shared_by_arms(tiny_suite, tmp_path, fake_backend):
    out = tmp_path / "out"
    assert invoke("run", tiny_suite, "--out", out, "--limit", "3", "--no-progress").exit_code == 0
    ids = []
    for arm in ("base", "few_shot"):
        rows = (out / "samples" / f"qa__{arm}.jsonl").read_text().splitlines()
        ids.append([json.loads(r)["id"] for r in rows])
    assert len(ids[0]) == 3 and ids[0] == ids[1]


def test_a_failing_arm_is_recorded_and_the_others_run(tiny_suite, tmp_path, fake_backend):
    out = tmp_path / "out"
    r = invoke("run", tiny_suite, "--out", out, "--set", "arms.1.params.k=50", "--no-progress")
    assert r.exit_code == 1
    runs = {x["arm"]: x for x in json.loads((out / "results.json").read_text())["runs"]}
    assert runs["base"]["status"] == "ok"
    assert runs["few_shot"]["status"] == "failed"
    assert "need more than k=50 train items" in runs["few_shot"]["reason"]
    assert "few_shot" in (out / "report.md").read_text()
    # The failure is not cached: fixing the parameter runs it, and base is reused.
    r = invoke("run", tiny_suite, "--out", out, "--no-progress")
    runs = {x["arm"]: x for x in json.loads((out / "results.json").read_text())["runs"]}
    assert r.exit_code == 0 and runs["few_shot"]["status"] == "ok" and runs["base"]["cached"]


def test_a_killed_run_keeps_finished_arms(tiny_suite, tmp_path, fake_backend, monkeypatch):
    import harness.arms.few_shot as few_shot

    def interrupted(self, task, items):
        raise KeyboardInterrupt

    monkeypatch.setattr(few_shot.FewShotArm, "predict", interrupted)
    out = tmp_path / "out"
    r = invoke("run", tiny_suite, "--out", out, "--no-progress")
    assert r.exit_code != 0
    assert (out / "records" / "qa__base.json").is_file()
    assert not (out / "records" / "qa__few_shot.json").exists()
    monkeypatch.undo()
    r = invoke("run", tiny_suite, "--out", out, "--no-progress")
    runs = {x["arm"]: x for x in json.loads((out / "results.json").read_text())["runs"]}
    assert r.exit_code == 0 and runs["base"]["cached"] and not runs["few_shot"]["cached"]


def test_bad_inputs_fail_with_file_and_line(tiny_suite, tmp_path):
    text = tiny_suite.read_text()
    tiny_suite.write_text(text.replace("    instruction:", "    instructoin:"))
    r = invoke("run", tiny_suite, "--no-progress")
    assert (
        r.exit_code == 2 and "instructoin" in r.output and "did you mean 'instruction'" in r.output
    )
    assert f"{tiny_suite}:" in r.output

    tiny_suite.write_text(text.replace("data/eval.jsonl", "data/missing.jsonl"))
    r = invoke("run", tiny_suite, "--no-progress")
    assert r.exit_code == 2 and "missing.jsonl: data file not found" in r.output

    tiny_suite.write_text(text)
    bad = tmp_path / "data" / "eval.jsonl"
    bad.write_text(bad.read_text() + '{"id": "x", "question": oops}\n')
    r = invoke("run", tiny_suite, "--no-progress")
    assert r.exit_code == 2 and f"{bad}:7: not valid JSON" in r.output

    r = invoke("run", tiny_suite, "--arms", "nope", "--no-progress")
    assert r.exit_code == 2 and "not in suite 'tiny'" in r.output


def test_unknown_model_is_a_clear_error(tiny_suite, tmp_path):
    tiny_suite.write_text(tiny_suite.read_text().replace("  name: /", "  name: no-such-model #/"))
    r = invoke("run", tiny_suite, "--no-progress")
    assert r.exit_code == 2 and "unknown model 'no-such-model'" in r.output
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"x")
    from harness.models.resolve import ModelError, resolve_model
    from harness.spec.config import ModelSpec

    with pytest.raises(ModelError, match="pickle-based weights are refused"):
        resolve_model(ModelSpec(name=str(folder)))


def test_validate_and_ls(tiny_suite, tmp_path):
    r = invoke("validate", tiny_suite.parent)
    assert r.exit_code == 0 and "ok" in r.output
    write_jsonl(tmp_path / "sub" / "x.jsonl", [])
    (tmp_path / "sub" / "broken.yaml").write_text("name: b\ntasks: []\narms: [base]\n")
    r = invoke("validate", tmp_path)
    assert r.exit_code == 2 and "broken.yaml" in r.output and "1 of 2 suite(s) invalid" in r.output
    r = invoke("ls", "arms")
    assert "few_shot" in r.output and "k=3" in r.output
    assert "unanswerable_answered" in invoke("ls", "metrics").output
    assert "insurance-policy-qa" in invoke("ls", "suites").output
    assert "--limit" in invoke("run", "--help").output


def test_structured_output_task_reports_field_metrics(tmp_path, tiny_model_dir, fake_backend):
    rows = [
        {
            "id": f"c{i}",
            "question": f"Claim number {i} about a car.",
            "answers": [f"line: motor; route: {r}"],
            "labels": {"line": "motor", "route": r},
        }
        for i, r in enumerate(
            ["adjuster", "decline", "fast_track", "adjuster", "decline", "adjuster"]
        )
    ]
    write_jsonl(tmp_path / "train.jsonl", [dict(r, id="t" + r["id"]) for r in rows])
    write_jsonl(tmp_path / "eval.jsonl", rows)
    suite = tmp_path / "s.yaml"
    suite.write_text(
        f"name: s\nmodel: {{name: {tiny_model_dir}, batch_size: 4}}\n"
        "tasks:\n  - name: t\n    data: {train: train.jsonl, eval: eval.jsonl}\n    output_fields: [line, route]\n"
        "    generation: {max_new_tokens: 4}\narms: [base, retrieval_only]\n"
    )
    r = invoke("run", suite, "--out", tmp_path / "out", "--no-progress")
    assert r.exit_code == 0, r.output
    runs = {
        x["arm"]: x for x in json.loads((tmp_path / "out" / "results.json").read_text())["runs"]
    }
    m = runs["base"]["metrics"]
    assert set(m) == {
        "fields_exact",
        "parse_failure_rate",
        "field_accuracy:line",
        "field_accuracy:route",
        "macro_f1:line",
        "macro_f1:route",
    }
    assert (
        m["macro_f1:route"]["n"] == 6 and m["parse_failure_rate"]["value"] == 1.0
    )  # the fake's "I don't know." never parses
    # kNN over train items answers with a train decision: it always parses, and every line is right.
    knn = runs["retrieval_only"]["metrics"]
    assert knn["parse_failure_rate"]["value"] == 0.0 and knn["field_accuracy:line"]["value"] == 1.0
    bad = tmp_path / "eval.jsonl"
    write_jsonl(bad, [dict(rows[0], labels={"line": "motor"})])
    r = invoke("run", suite, "--out", tmp_path / "o2", "--no-progress")
    assert r.exit_code == 2 and "labels lack output field(s) ['route']" in r.output
