"""Training budgets (issue 28): `init --train-budget` sizes trained arms by time from a rate,
label tasks get their scoring chosen with a reason, and a trained arm that saw part of its split
is reported as a lower bound, never counted alone against fine-tuning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.cli.train_budget import BudgetError, parse_budget, size_training, stored_rate
from harness.reports.label_notes import annotate, full_training_text, lower_bound_text
from harness.reports.verdict import Verdict
from harness.spec.record import Results, RunRecord

from .conftest import write_jsonl


def test_budgets_read_as_times():
    assert parse_budget("20m") == 1200 and parse_budget("1.5h") == 5400
    assert parse_budget("90s") == 90 and parse_budget("15") == 900  # a bare number: minutes
    for bad in ("", "soon", "-5m", "0m", "5 days"):
        with pytest.raises(BudgetError, match="--train-budget"):
            parse_budget(bad)


def test_sizing_follows_the_rate_and_the_budget():
    # 1,000 items of 100 tokens: 100k tokens an epoch.
    roomy = size_training(1000, 100, rate=1000, budget_s=600)  # 600k tokens: 3 epochs fit
    assert (roomy.max_train_items, roomy.epochs) == (None, 3.0) and roomy.minutes == 5
    some = size_training(1000, 100, rate=200, budget_s=900)  # 180k tokens: 1.8 epochs
    assert (some.max_train_items, some.epochs) == (None, 1.8)
    tight = size_training(1000, 100, rate=100, budget_s=300)  # 30k tokens: 300 items, 1 epoch
    assert (tight.max_train_items, tight.epochs, tight.items) == (300, 1.0, 300)
    assert tight.text() == "300 of 1,000 train items, 1 epoch, about 5 minutes"
    assert tight.params() == {"max_train_items": 300, "epochs": 1.0}


def test_the_rate_is_read_from_the_newest_matching_training(tmp_path):
    def artifact(name: str, **stats) -> None:
        folder = tmp_path / "artifacts" / name
        folder.mkdir(parents=True)
        (folder / "training.json").write_text(json.dumps(stats))

    artifact("a", arm_kind="lora", model="m", device="cpu", tokens_per_s=150.0)
    artifact("b", arm_kind="full", model="m", device="cpu", tokens_per_s=90.0)
    artifact("c", arm_kind="lora", model="other", device="cpu", tokens_per_s=999.0)
    artifact("d", arm_kind="lora", model="m", device="cuda:0", tokens_per_s=20000.0)
    (tmp_path / "artifacts" / "e").mkdir()
    (tmp_path / "artifacts" / "e" / "training.json").write_text("not json")
    assert stored_rate(tmp_path, "m", "cpu").tokens_per_s == 150.0
    assert stored_rate(tmp_path, "m", "cpu", "full").tokens_per_s == 90.0
    assert stored_rate(tmp_path, "m", "cuda").tokens_per_s == 20000.0
    assert stored_rate(tmp_path, "x", "cpu") is None


def _intents(tmp_path: Path, labels: list[str], per_label: int) -> tuple[Path, Path]:
    rows = [
        {"id": f"{label}-{k}", "question": f"Message {k} about {label.replace('_', ' ')}?",
         "intent": label}
        for label in labels
        for k in range(per_label)
    ]  # fmt: skip
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    ev = write_jsonl(
        tmp_path / "eval.jsonl", [r | {"id": "e" + r["id"]} for r in rows[: len(labels) * 3]]
    )
    return train, ev


def test_init_sizes_training_by_time_and_says_what_it_means(tmp_path):
    labels = [f"intent_{i:02d}" for i in range(40)]  # many labels, few examples each
    train, ev = _intents(tmp_path, labels, 5)
    out = tmp_path / "s.yaml"
    args = ["init", "--train", str(train), "--eval", str(ev), "--out", str(out)]
    res = CliRunner().invoke(main, [*args, "--train-budget", "1m", "--train-rate", "100"])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    raw = yaml.safe_load(text)
    arms = {a.get("name") or a["arm"]: a.get("params", {}) for a in raw["arms"]}
    # 100 tokens/s for 60 s: 6,000 tokens, a fraction of one epoch of 200 items.
    assert 8 <= arms["lora"]["max_train_items"] < 200 and arms["lora"]["epochs"] == 1
    assert arms["full"]["max_train_items"] < arms["lora"]["max_train_items"]  # 2/3 the rate
    assert "# Training budget: 1 min per arm (--train-budget)" in text
    assert f"lora: {arms['lora']['max_train_items']} of 200 train items, 1 epoch" in text
    assert "at 100 tokens/s (given with --train-rate)" in text
    assert "its score is a lower bound" in text
    assert arms["retrieval_only"] == {"k": 1}  # the nearest-neighbour reference
    # 40 short labels: scored over the labels, and init says why.
    task = raw["tasks"][0]
    assert task["scoring"] == "choice" and task["answer_style"] == "label"
    assert "invalid_label_rate" in task["metrics"]
    assert "scoring: choice (better here)" in res.output
    # A generous budget trains on everything, 3 epochs.
    res = CliRunner().invoke(
        main, [*args, "--force", "--train-budget", "2h", "--train-rate", "1e6"]
    )
    lora = next(a for a in yaml.safe_load(out.read_text())["arms"] if a["arm"] == "lora")
    assert "max_train_items" not in lora["params"] and lora["params"]["epochs"] == 3
    res = CliRunner().invoke(main, [*args, "--force", "--train-budget", "soon"])
    assert res.exit_code == 2 and "--train-budget 'soon'" in res.output


def test_init_generates_with_the_labels_listed_when_scoring_them_all_costs_too_much(tmp_path):
    labels = [f"a_rather_long_intent_name_number_{i:03d}" for i in range(60)]
    train, ev = _intents(tmp_path, labels, 3)
    out = tmp_path / "s.yaml"
    res = CliRunner().invoke(
        main, ["init", "--train", str(train), "--eval", str(ev), "--out", str(out),
               "--train-rate", "100"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    task = yaml.safe_load(out.read_text())["tasks"][0]
    assert task["scoring"] == "generate" and "invalid_label_rate" in task["metrics"]
    assert "scoring: generate (cheaper here)" in res.output


def _trained_run(arm: str, seen: int, split: int, epochs: float = 1) -> RunRecord:
    run = {
        "arm": arm,
        "kind": "lora",
        "task": "t",
        "status": "ok",
        "changes_weights": True,
        "metrics": {"exact_match": {"value": 0.2, "ci_low": 0.1, "ci_high": 0.3}},
        "efficiency": {
            "training": {
                "train_items": seen,
                "train_split_items": split,
                "epochs": epochs,
                "epochs_run": epochs,
                "real_tokens": seen * 100 * epochs,
                "tokens_per_s": 50.0,
                "device": "cpu",
            }
        },
    }
    return RunRecord.model_validate(run)


def test_a_partial_training_is_a_lower_bound_and_no_case_against_fine_tuning(tmp_path):
    lora = _trained_run("lora", 64, 1155)
    assert lower_bound_text(lora, {"seen": 64, "split": 1155, "epochs": 1}) == (
        "`lora` saw 64 of 1,155 training items (1 epoch): its score is a lower bound"
    )
    base = {"arm": "base", "kind": "base", "task": "t", "status": "ok", "changes_weights": False}
    base = RunRecord.model_validate(base)
    payload = {"tasks": {"t": {"style": {"answer_style": "short"}}}, "suite_path": "s.yaml"}
    payload |= {"suite": "s", "environment": {}, "runs": []}
    verdict = Verdict(task="t", recommended="base", metric="exact_match",
                      reasons=["`base` is the best"], would_change=[])  # fmt: skip
    out = annotate(Results.model_validate(payload), tmp_path, "t", [base, lora], verdict)
    assert out.reasons[0].startswith("`lora` saw 64 of 1,155 training items (1 epoch)")
    assert "this does not rule out fine-tuning" in out.reasons[1]
    assert out.reasons[-1] == "`base` is the best" and out.recommended == "base"
    # 100 tokens an item x 1,155 x 3 epochs at 50 tokens/s: 115.5 minutes.
    full = out.would_change[0]
    assert "full training of `lora` (1,155 items x 3 epochs, about 346,500 tokens)" in full
    assert "about 116 minutes at its measured 50 tokens/s on cpu" in full
    assert "adaptbench run s.yaml --arms lora" in full
    # A training on the whole split says nothing; on a label task the missing kNN row is named.
    whole = _trained_run("lora", 1155, 1155, epochs=3)
    labels = payload | {"tasks": {"t": {"style": {"answer_style": "label"}}}}
    out = annotate(Results.model_validate(labels), tmp_path, "t", [base, whole], verdict)
    assert not any("lower bound" in r for r in out.reasons)
    assert out.reasons[0].startswith("no nearest-neighbour reference")
    assert "no rate" not in full_training_text(whole, {"seen": 1, "split": 2, "epochs": 1,
        "tokens_per_s": None, "real_tokens": None, "epochs_run": None}, None)  # fmt: skip
