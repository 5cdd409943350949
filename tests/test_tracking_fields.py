"""What a run record becomes in MLflow (harness/reports/mlflow_fields.py) and the `tracking:`
block's checks: no MLflow needed. The logging itself is tested against a real server in
tests/test_mlflow.py."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.reports import mlflow_fields as fields
from harness.spec.config import SpecError, read_suite
from harness.spec.record import Results, RunRecord
from harness.spec.tracking import redact_uri, tracking_uri_problem

# A trained cell's record, cut to the parts the mapping reads.
TRAINED_FIELDS = {
    "id": "qa__lora",
    "task": "qa",
    "arm": "lora",
    "kind": "lora",
    "family": "lora",
    "variant": None,
    "status": "ok",
    "reason": None,
    "cached": True,
    "content_hash": "abc123",
    "metrics": {
        "token_f1": {"value": 0.5, "ci_low": 0.25, "ci_high": 0.75, "n": 12},
        "recall@k": {"value": None, "ci_low": None, "ci_high": None, "n": 0},
    },
    "efficiency": {
        "latency_p95_s": 0.8,
        "memory_kind": "rss",
        "server_usage": None,
        "calibration": {"seconds": 0.35, "spread": 0.1},
        "phases": {"prepare": {"seconds": 80.0}, "predict": {"seconds": 6.5}},
        "training": {
            "steps": 2,
            "mfu": 0.45,
            "bf16_autocast": False,
            "loss_curve": [{"step": 1, "loss": 2.5}, {"step": 2, "loss": 1.5}],
            "dev_loss_curve": [{"step": 2, "dev_loss": 1.7}],
        },
    },
    "forgetting": {
        "mean": {"value": 0.05, "ci_low": -0.1, "ci_high": 0.2, "n": 60},
        "probes": {
            "general_mc": {
                "value": 0.1,
                "ci_low": 0,
                "ci_high": 0.2,
                "n": 30,
                "base": 0.6,
                "arm": 0.5,
            }
        },
        "perplexity": {"base": 22.7, "arm": 22.5},
    },
    "spec": {
        "seed": 7,
        "params": {"r": 16, "target_modules": ["q_proj", "v_proj"], "dropout": None},
        "arm": {"retrieval": {"k": 3}, "model": None},
    },
}
TRAINED = RunRecord.model_validate(TRAINED_FIELDS)


def test_a_cells_metrics_carry_their_intervals_costs_and_forgetting():
    metrics = fields.cell_metrics(TRAINED)
    assert {k: metrics[k] for k in ("token_f1", "token_f1.ci_low", "token_f1.ci_high")} == {
        "token_f1": 0.5,
        "token_f1.ci_low": 0.25,
        "token_f1.ci_high": 0.75,
    }
    assert metrics["token_f1.n"] == 12.0
    # A metric scored on no item has only its count; MLflow names take no `@`.
    assert metrics["recall_at_k.n"] == 0.0 and "recall_at_k" not in metrics
    assert metrics["efficiency.latency_p95_s"] == 0.8
    assert metrics["efficiency.calibration_seconds"] == 0.35
    assert metrics["efficiency.prepare_seconds"] == 80.0
    assert metrics["training.steps"] == 2.0 and "training.bf16_autocast" not in metrics
    assert metrics["forgetting"] == 0.05 and metrics["forgetting.ci_low"] == -0.1
    assert metrics["forgetting.general_mc.n"] == 30.0
    assert metrics["retention.general_mc.base"] == 0.6
    assert metrics["perplexity.arm"] == 22.5
    assert fields.loss_curves(TRAINED) == {
        "training.loss": [(1, 2.5), (2, 1.5)],
        "training.dev_loss": [(2, 1.7)],
    }


def test_a_cells_params_and_tags_say_what_ran_and_whether_it_was_reused():
    params = fields.cell_params(TRAINED)
    assert params == {
        "arm": "lora",
        "seed": "7",
        "r": "16",
        "target_modules": '["q_proj", "v_proj"]',
        "retrieval.k": "3",
    }
    tags = fields.cell_tags(TRAINED, reused_from="run0")
    assert tags["adaptbench.reused"] == "true"
    assert tags["adaptbench.reused_from"] == "run0"
    assert tags["adaptbench.status_label"] == "ok (cached)"
    assert "adaptbench.variant" not in tags  # null fields are left out


def test_reused_cells_are_not_counted_as_this_runs_work():
    computed = dict(TRAINED_FIELDS, cached=False, id="qa__base")
    results = Results.model_validate(
        {"suite": "s", "environment": {}, "tasks": {}, "runs": [TRAINED_FIELDS, computed]}
    )
    counts = fields.suite_metrics(results)
    assert counts["cells_reused"] == 1.0 and counts["cells_computed"] == 1.0
    assert counts["work_seconds"] == 86.5  # the computed cell's phases only


@pytest.mark.parametrize(
    "uri, problem",
    [
        ("http://127.0.0.1:5000", None),
        ("sqlite:///tmp/mlflow.db", None),
        ("mlruns", None),
        ("ftp://host/x", "has scheme 'ftp'"),
        ("http://", "names no host"),
        ("http://bob:hunter2@host:5000", "carries credentials"),
    ],
)
def test_tracking_uris(uri, problem):
    found = tracking_uri_problem(uri)
    assert (found is None) if problem is None else problem in found


def test_a_tracking_block_is_checked_with_file_line_and_key(tmp_path):
    suite = tmp_path / "suite.yaml"
    base = "name: t\ntasks: [{name: qa, data: {eval: e.jsonl}}]\narms: [base]\n"
    suite.write_text(base + "tracking:\n  mlflow: http://bob:hunter2@host:5000\n")
    with pytest.raises(SpecError) as bad:
        read_suite(suite)
    assert f"{suite}:5: tracking.mlflow" in str(bad.value)
    assert "hunter2" not in str(bad.value) and "MLFLOW_TRACKING_TOKEN" in str(bad.value)
    suite.write_text(base + "tracking: {mlflow: http://host:5000, experimnt: x}\n")
    with pytest.raises(SpecError, match="did you mean 'experiment'"):
        read_suite(suite)
    assert redact_uri("https://bob:hunter2@host/x") == "https://***@host/x"


def test_run_refuses_a_bad_tracking_uri_before_any_work(tiny_suite, tmp_path):
    out = tmp_path / "out"
    for uri, says in (("ftp://host", "has scheme 'ftp'"), ("http://a:pw@h:1", "credentials")):
        r = CliRunner().invoke(main, ["run", str(tiny_suite), "--out", str(out), "--mlflow", uri])
        assert r.exit_code == 2 and says in r.output, r.output
        assert ":pw@" not in r.output
        assert not out.exists()  # nothing ran, not even the folder was left behind


def test_run_without_mlflow_installed_names_the_extra(tiny_suite, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "mlflow", None)  # `import mlflow` fails
    out = tmp_path / "out"
    args = ["run", str(tiny_suite), "--out", str(out), "--mlflow", "http://127.0.0.1:9"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    assert 'pip install "adaptbench[mlflow]"' in r.output and not out.exists()
