"""Never generate twice: predictions are stored apart from their scores, so a scoring change
re-scores them; what is in each key, and which code each key's fingerprint covers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.common import fingerprint
from harness.data.tasks import load_task
from harness.run.keys import cell_keys
from harness.run.predictions import predictions_folder
from harness.run.suite import load_suite

METRICS = "    metrics: [exact_match, token_f1, abstention_rate]\n"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def run(suite: Path, out: Path, *extra):
    r = invoke("run", suite, "--out", out, "--no-progress", *extra)
    assert r.exit_code == 0, r.output
    return r, json.loads((out / "results.json").read_text())["runs"]


def set_metrics(suite: Path, line: str) -> None:
    text = suite.read_text(encoding="utf-8").replace(METRICS, "")
    suite.write_text(text.replace("arms:\n", line + "arms:\n"), encoding="utf-8")


def samples(out: Path, record: dict) -> list[dict]:
    return [json.loads(x) for x in (out / record["samples"]).read_text().splitlines()]


def test_adding_a_metric_rescores_stored_predictions_and_generates_nothing(
    tiny_suite, tmp_path, fake_backend
):
    set_metrics(tiny_suite, METRICS)
    out = tmp_path / "out"
    _, first = run(tiny_suite, out)
    calls = dict(fake_backend.calls)
    assert calls["generate"] > 0 and all(not r.get("rescored") for r in first)

    set_metrics(tiny_suite, METRICS.replace("]", ", rouge_l]"))
    r, again = run(tiny_suite, out)
    assert fake_backend.calls == calls  # not one prompt generated or scored by the model
    for before, after in zip(first, again):
        label = f"{after['task']} / {after['arm']}"
        assert f"{label}: predictions unchanged, re-scored (metrics (+rouge_l) changed); " in (
            r.output
        )
        assert after["rescored"] and not after["cached"]
        assert after["prediction_key"] == before["prediction_key"]
        assert after["content_hash"] != before["content_hash"]
        assert "rouge_l" in after["metrics"] and after["metrics"]["rouge_l"]["n"] == 6
        for name, summary in before["metrics"].items():  # the old metrics score the same
            assert after["metrics"][name] == summary
        assert after["efficiency"] == before["efficiency"]  # predict-side parts come along
        assert after["started"] == before["started"]
        old_rows, new_rows = samples(out, before), samples(out, after)
        assert [x["output"] for x in new_rows] == [x["output"] for x in old_rows]
        assert all("rouge_l" in x["scores"] for x in new_rows)
    assert "running on" not in r.output and "generated nothing" in r.output

    # Unchanged since: the finished cells are reused as before, without re-scoring.
    r, third = run(tiny_suite, out)
    assert fake_backend.calls == calls and "unchanged, reusing the finished run" in r.output
    assert [x["metrics"] for x in third] == [x["metrics"] for x in again]


def test_a_scoring_code_edit_rescores_and_an_arm_edit_predicts_again(
    tiny_suite, tmp_path, fake_backend, monkeypatch
):
    out = tmp_path / "out"
    run(tiny_suite, out, "--arms", "few_shot")
    calls = fake_backend.calls["generate"]

    monkeypatch.setitem(fingerprint._CODE_FP, "scoring", "edited-metric-code")
    r, _ = run(tiny_suite, out, "--arms", "few_shot")
    assert fake_backend.calls["generate"] == calls
    assert "qa / few_shot: predictions unchanged, re-scored (scoring code changed)" in r.output

    # A prediction-relevant field (the arm's params) still generates again.
    text = tiny_suite.read_text(encoding="utf-8")
    tiny_suite.write_text(text.replace("{k: 2}", "{k: 1}"), encoding="utf-8")
    r, (record,) = run(tiny_suite, out, "--arms", "few_shot")
    assert fake_backend.calls["generate"] > calls
    assert "qa / few_shot: running on 6 eval items" in r.output and not record.get("rescored")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "predictions.jsonl").write_text('{"output": '), "checksum"),
        (lambda f: (f / "predictions.jsonl").unlink(), "predictions file is missing"),
        (lambda f: (f / "meta.json").write_text("{"), "meta.json does not parse"),
    ],
)
def test_damaged_stored_predictions_are_reported_and_predicted_again(
    tiny_suite, tmp_path, fake_backend, damage, message
):
    out = tmp_path / "out"
    _, (record,) = run(tiny_suite, out, "--arms", "base")
    folder = predictions_folder(record["prediction_key"])
    damage(folder)
    set_metrics(tiny_suite, METRICS)  # the full key misses, so stored predictions are looked up
    calls = fake_backend.calls["generate"]
    r, (again,) = run(tiny_suite, out, "--arms", "base")
    assert f"damaged stored predictions {folder}" in r.output and message in r.output
    assert fake_backend.calls["generate"] > calls and not again.get("rescored")
    assert again["metrics"]["exact_match"] == record["metrics"]["exact_match"]
    # The damaged entry was replaced by a whole one: the next scoring change re-scores it.
    set_metrics(tiny_suite, METRICS.replace("]", ", rouge_l]"))
    r, (third,) = run(tiny_suite, out, "--arms", "base")
    assert third["rescored"] and "generated nothing" in r.output


def test_a_failed_cell_stores_no_predictions(tiny_suite, tmp_path, fake_backend, monkeypatch):
    from harness.arms.zero_shot import ZeroShotArm

    def broken(self, task, items):
        raise RuntimeError("arm broke")

    monkeypatch.setattr(ZeroShotArm, "predict", broken)
    out = tmp_path / "out"
    r = invoke("run", tiny_suite, "--arms", "base", "--out", out, "--no-progress")
    (record,) = json.loads((out / "results.json").read_text())["runs"]
    assert r.exit_code == 1 and record["status"] == "failed"
    assert not (predictions_folder(record["prediction_key"]) / "meta.json").exists()


def test_metrics_change_the_full_key_only(tiny_suite):
    suite = load_suite(tiny_suite)
    task = load_task(suite.tasks[0])
    pkey, key = cell_keys(suite, task, task.eval, suite.arms[0], "fp", "float32", "cpu")
    task.spec = task.spec.model_copy(update={"metrics": ["rouge_l"], "leakage_threshold": 0.5})
    pkey2, key2 = cell_keys(suite, task, task.eval, suite.arms[0], "fp", "float32", "cpu")
    assert pkey2 == pkey and key2 != key
    task.spec = task.spec.model_copy(update={"abstain_patterns": ["^nope"]})
    assert cell_keys(suite, task, task.eval, suite.arms[0], "fp", "float32", "cpu")[0] != pkey


def _scopes(root: Path, monkeypatch) -> dict[str, str]:
    monkeypatch.setattr(fingerprint, "PACKAGE_DIR", root)
    monkeypatch.setattr(fingerprint, "_CODE_FP", {})
    return {scope: fingerprint.code_fingerprint(scope) for scope in fingerprint.CODE_SCOPES}


def test_each_code_scope_covers_only_what_its_results_depend_on(tmp_path, monkeypatch):
    copy = tmp_path / "harness"
    shutil.copytree(fingerprint.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = _scopes(copy, monkeypatch)

    def edit(relpath: str) -> dict[str, str]:
        with (copy / relpath).open("a", encoding="utf-8") as fh:
            fh.write("\n# an edit\n")
        return _scopes(copy, monkeypatch)

    # Reports, gate, compare, the CLI and the runner change no key: everything is reused.
    for path in (
        "reports/markdown.py",
        "reports/gate.py",
        "reports/compare.py",
        "cli/__init__.py",
        "run/runner.py",
    ):
        assert edit(path) == before, f"an edit to {path} changes a key"
    changed = edit("metrics/accuracy.py")  # a metric: re-scored, not regenerated or retrained
    assert changed["scoring"] != before["scoring"]
    assert {s: changed[s] for s in ("prediction", "training")} == {
        s: before[s] for s in ("prediction", "training")
    }
    before = changed
    changed = edit("engine/training.py")  # training: retrained and predicted again
    assert changed["training"] != before["training"]
    assert changed["prediction"] != before["prediction"]
    assert changed["scoring"] == before["scoring"]
    before = changed
    changed = edit("arms/few_shot.py")  # a prompting arm: predicted again, nothing retrained
    assert changed["prediction"] != before["prediction"]
    assert changed["training"] == before["training"] and changed["scoring"] == before["scoring"]


def test_retention_scope_follows_the_definitions_it_names(tmp_path, monkeypatch):
    copy = tmp_path / "harness"
    shutil.copytree(fingerprint.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = _scopes(copy, monkeypatch)
    base = copy / "metrics" / "base.py"
    text = base.read_text(encoding="utf-8")
    # A METRICS_VERSION bump (how a metric definition changes) re-scores, but probes nothing.
    bumped = text.replace('METRICS_VERSION = "', 'METRICS_VERSION = "9', 1)
    assert bumped != text
    base.write_text(bumped, encoding="utf-8")
    after = _scopes(copy, monkeypatch)
    assert after["retention"] == before["retention"] and after["scoring"] != before["scoring"]
    # The normalisation the probes are scored with (and a constant it reads) is followed.
    base.write_text(bumped.replace("_ARTICLES = re.compile(r", "_ARTICLES = re.compile(r'' r"))
    assert _scopes(copy, monkeypatch)["retention"] != after["retention"]
    # A renamed definition is an error, not a silently empty fingerprint.
    stats = copy / "common" / "stats.py"
    stats.write_text(stats.read_text().replace("def paired_bootstrap(", "def paired_boot("))
    with pytest.raises(KeyError, match="paired_bootstrap"):
        _scopes(copy, monkeypatch)


def test_a_metric_added_to_a_trained_arm_neither_trains_nor_generates(
    tiny_suite, tmp_path, monkeypatch
):
    """On the tiny model: a lora cell re-scored after a metric is added builds no arm at all."""
    from harness.arms import trained
    from harness.models.hf import HFBackend

    text = tiny_suite.read_text(encoding="utf-8").replace(
        "arms:\n",
        "arms:\n  - arm: lora\n    params: {epochs: 1, r: 4, alpha: 8, learning_rate: 0.01, "
        "rows_per_step: 2, max_seq_len: 128}\n",
    )
    tiny_suite.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    _, (first,) = run(tiny_suite, out, "--arms", "lora")
    assert first["status"] == "ok" and first["efficiency"]["params_trainable"] > 0

    def forbidden(*args, **kwargs):
        raise AssertionError("trained or generated on a scoring-only change")

    monkeypatch.setattr(trained, "train", forbidden)
    monkeypatch.setattr(HFBackend, "generate", forbidden)
    set_metrics(tiny_suite, METRICS.replace("]", ", rouge_l]"))
    r, (again,) = run(tiny_suite, out, "--arms", "lora")
    assert "qa / lora: predictions unchanged, re-scored" in r.output, r.output
    assert again["status"] == "ok" and again["rescored"] and "rouge_l" in again["metrics"]
    assert again["efficiency"] == first["efficiency"]  # training stats come from the store


def test_reports_say_which_cells_were_re_scored():
    from harness.spec.record import RunRecord

    def label(**fields) -> str:
        return RunRecord(task="t", arm="a", kind="base", **fields).status_label()

    assert label(status="ok", rescored=True) == "ok (re-scored)"
    assert label(status="ok", cached=True, rescored=True) == "ok (cached)"
    assert label(status="oom") == "oom"


def test_a_stated_cluster_column_groups_items_and_rescores_without_predicting(
    tiny_suite, tmp_path, fake_backend
):
    data = tiny_suite.parent / "data" / "eval.jsonl"
    rows = [json.loads(x) for x in data.read_text().splitlines()]
    for i, row in enumerate(rows):
        row["policy"] = f"P{i % 2}"  # two groups of correlated items
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    _, first = run(tiny_suite, out)
    assert {row["cluster"] for row in samples(out, first[0])} == {f"item:{r['id']}" for r in rows}
    calls = dict(fake_backend.calls)

    text = tiny_suite.read_text(encoding="utf-8")
    tiny_suite.write_text(
        text.replace(
            "      eval: data/eval.jsonl\n",
            "      eval: data/eval.jsonl\n      fields: {cluster: policy}\n",
        ),
        encoding="utf-8",
    )
    _, again = run(tiny_suite, out)
    assert fake_backend.calls == calls  # grouping changes the statistics, not the answers
    assert all(r["rescored"] for r in again)
    assert {row["cluster"] for row in samples(out, again[0])} == {"group:P0", "group:P1"}

    del rows[0]["policy"]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    r = invoke("run", tiny_suite, "--out", tmp_path / "out2", "--no-progress")
    assert r.exit_code == 2
    assert "eval.jsonl:1: missing field 'policy' (cluster, data.fields.cluster) on 1 of" in r.output
