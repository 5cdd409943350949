"""Label tasks (issue 28): the matching rule, invalid_label_rate, the label set in every prompt,
choice scoring over the labels, and a tiny label suite run end to end on the tiny model."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from harness.arms.prompting import conversation, fit_to_budget, name_label, wording_for
from harness.common import calibrate
from harness.data.tasks import DataError, Item, load_task
from harness.metrics import default_metrics
from harness.metrics.base import Prediction
from harness.metrics.labels import colliding_labels, invalid_label_rate, label_key, match_label
from harness.run import evaluate
from harness.run.runner import run_suite
from harness.run.suite import load_suite
from harness.spec.config import DataSpec, TaskSpec

from .conftest import write_jsonl

LABELS = ["card_arrival", "claim_status", "glass_damage"]
MESSAGES = {
    "card_arrival": [
        "Where is my new card?",
        "My card has not arrived yet.",
        "Card still not here.",
    ],
    "claim_status": ["Any news on my claim?", "What is happening with claim 12?", "Claim update?"],
    "glass_damage": ["My windscreen is cracked.", "A stone chipped the glass.", "Window smashed."],
}


def _rows(split: str, with_choices: bool = False) -> list[dict]:
    rows = []
    for label, texts in MESSAGES.items():
        for k, text in enumerate(texts):
            row = {
                "id": f"{split}-{label}-{k}",
                "question": f"{text} ({split})",
                "answers": [label],
            }
            rows.append(row | ({"choices": LABELS, "label": label} if with_choices else {}))
    return rows


def _task(tmp_path: Path, **kw) -> TaskSpec:
    write_jsonl(tmp_path / "train.jsonl", _rows("train"))
    write_jsonl(tmp_path / "eval.jsonl", _rows("eval"))
    data = DataSpec(train=str(tmp_path / "train.jsonl"), eval=str(tmp_path / "eval.jsonl"))
    return TaskSpec(**({"name": "intents", "data": data, "answer_style": "label"} | kw))


# ------------------------------------------------------------------ the matching rule


def test_labels_match_ignoring_case_and_separators_and_nothing_else():
    assert label_key("Card_Arrival") == label_key("card arrival") == label_key('"card-arrival."')
    assert match_label("card arrival", LABELS) == "card_arrival"
    assert match_label("  Glass-Damage.\nbecause the glass broke", LABELS) == "glass_damage"
    assert match_label("card arrivals", LABELS) is None  # another word is another label
    assert match_label("label: card_arrival", LABELS) is None  # no prefix stripping
    assert match_label("!!!", LABELS) is None
    assert colliding_labels(["Card-Arrival", "card arrival", "x"]) == [
        ("Card-Arrival", "card arrival")
    ]


def test_invalid_label_rate_counts_answers_that_name_no_label():
    item = Item(id="a", question="q", answers=("card_arrival",))
    named, off = Prediction(output="Card Arrival"), Prediction(output="I'm sorry for your loss")
    name_label(named, LABELS)
    name_label(off, LABELS)
    # An answer that names a label is scored as that label, its raw text kept.
    assert named.output == "card_arrival" and named.extra["raw_output"] == "Card Arrival"
    assert invalid_label_rate(item, named).value == 0.0
    score = invalid_label_rate(item, off)
    assert score.value == 1.0 and "not one of the task's labels" in score.reason
    assert invalid_label_rate(item, Prediction(output="x")) is None  # not a label task
    assert "invalid_label_rate" in default_metrics("generate", None, "label")
    assert "`card arrival` = `Card_Arrival`" in invalid_label_rate.description


# ------------------------------------------------------------------ label set and prompts


def test_a_label_task_lists_its_labels_in_every_prompt(tmp_path):
    task = load_task(_task(tmp_path))
    assert task.spec.label_set == LABELS  # inferred: the distinct golds, sorted
    wording = wording_for(task)
    shots = task.train[:2]
    messages = conversation(task.spec, wording, task.eval[0], shots)
    # The labels lead the first turn, with the instruction, whether or not shots come first.
    assert "Labels: card_arrival, claim_status, glass_damage." in messages[0]["content"]
    assert sum("Labels:" in m["content"] for m in messages) == 1
    # A short-answer task lists nothing.
    plain = load_task(_task(tmp_path, answer_style="short"))
    assert wording_for(plain).labels == () and plain.spec.label_set is None


def test_labels_that_do_not_fit_the_budget_are_cut_and_counted(tmp_path):
    many = [f"intent_number_{i}" for i in range(60)]
    spec = _task(tmp_path, label_set=[*LABELS, *many], max_prompt_tokens=64)
    task = load_task(spec)

    class Words:
        def format_chat(self, messages):
            return "\n".join(m["content"] for m in messages)

        def count_tokens(self, prompt):
            return len(prompt.split())

    fit = fit_to_budget(Words(), task.spec, wording_for(task), task.eval[0])
    assert fit.labels_listed is not None and 1 <= fit.labels_listed < 63
    assert fit.prompt_tokens <= 64
    roomy = task.spec.model_copy(update={"max_prompt_tokens": 10_000})
    assert fit_to_budget(Words(), roomy, wording_for(task), task.eval[0]).labels_listed is None


def test_a_stated_label_set_must_hold_every_gold_and_labels_must_differ(tmp_path):
    with pytest.raises(DataError, match="not in the task's label_set"):
        load_task(_task(tmp_path, label_set=["card_arrival", "claim_status"]))
    write_jsonl(tmp_path / "eval.jsonl", _rows("eval") + [
        {"id": "x", "question": "?", "answers": ["Card-Arrival"]}
    ])  # fmt: skip
    data = DataSpec(train=str(tmp_path / "train.jsonl"), eval=str(tmp_path / "eval.jsonl"))
    with pytest.raises(DataError, match="differ only in case or separators"):
        load_task(TaskSpec(name="t", data=data, answer_style="label"))


def test_choice_scoring_without_a_choices_column_scores_every_label(tmp_path):
    task = load_task(_task(tmp_path, scoring="choice"))
    assert task.spec.label_set == LABELS and task.style.answer_style == "label"
    item = task.eval[0]
    assert item.choices == tuple(LABELS) and item.choices[item.label] == item.answers[0]
    # Items that bring their own choices keep them.
    write_jsonl(tmp_path / "eval.jsonl", _rows("eval", with_choices=True))
    own = load_task(_task(tmp_path, scoring="choice"))
    assert own.eval[0].choices == tuple(LABELS)


# ------------------------------------------------------------------ a tiny label suite, run


def _label_suite(tmp_path: Path, model: Path) -> Path:
    """One task scored over the labels (choice), one generating them; both list the labels."""
    data = tmp_path / "data"
    write_jsonl(data / "train.jsonl", _rows("train"))
    write_jsonl(data / "eval.jsonl", _rows("eval"))
    task = """
  - name: {name}
    data: {{train: data/train.jsonl, eval: data/eval.jsonl}}
    scoring: {scoring}
    answer_style: label
    instruction: Classify the message.
    template: "Message: {{question}}"
    metrics: {metrics}"""
    suite = tmp_path / "labels.yaml"
    suite.write_text(
        f"""
name: tiny-labels
seed: 3
model: {{name: {model}, batch_size: 9}}
tasks:"""
        + task.format(name="choose", scoring="choice", metrics="[choice_accuracy]")
        + task.format(name="write", scoring="generate", metrics="[exact_match, invalid_label_rate]")
        + """
arms:
  - arm: base
  - arm: retrieval_only
    params: {k: 1}
  - arm: lora
    params: {max_train_items: 4, epochs: 1, r: 2, alpha: 4, rows_per_step: 2, grad_accum: 1}
""",
        encoding="utf-8",
    )
    return suite


def test_the_tiny_label_suite_runs_with_labels_listed(tmp_path, tiny_model_dir, monkeypatch):
    # Nothing here reads timings: one repeat of each cell's speed calibration, not five.
    monkeypatch.setattr(evaluate, "calibrate", functools.partial(calibrate.calibrate, repeats=1))
    suite = _label_suite(tmp_path, tiny_model_dir)
    out = tmp_path / "run"
    run_suite(load_suite(suite), out, progress=False, suite_path=str(suite))
    records = {
        (r["task"], r["arm"]): r for r in json.loads((out / "results.json").read_text())["runs"]
    }
    assert all(r["status"] == "ok" for r in records.values())
    for task in ("choose", "write"):
        samples = [json.loads(x) for x in (out / "samples" / f"{task}__base.jsonl").open()]
        assert all(
            "Labels: card_arrival, claim_status, glass_damage." in s["prompt"] for s in samples
        )
        if task == "choose":  # scored over the labels: every answer is one, none invalid
            assert all(s["output"] in LABELS and len(s["choice_logprobs"]) == 3 for s in samples)
            assert records[(task, "retrieval_only")]["metrics"]["choice_accuracy"]["value"] == 1.0
            continue
        invalid = records[(task, "base")]["metrics"]["invalid_label_rate"]
        named = sum(s["extra"]["label"] is not None for s in samples)
        assert invalid["n"] == 9 and invalid["value"] == pytest.approx(1 - named / 9)
        # The nearest train message (the same words) has the right label: 1-NN is perfect.
        assert records[(task, "retrieval_only")]["metrics"]["exact_match"]["value"] == 1.0
    training = records[("write", "lora")]["efficiency"]["training"]
    assert (training["train_items"], training["train_split_items"], training["epochs"]) == (4, 9, 1)
    # A draw of 4 on a label task takes a different label each time until every one is in.
    report = (out / "report.md").read_text()
    assert "`lora` saw 4 of 9 training items (1 epoch): its score is a lower bound" in report
    assert "nearest-neighbour lookup (`retrieval_only`: the nearest train item's label)" in report
    assert "does not beat nearest-neighbour lookup" in report or "beats nearest" in report
    assert "full training of `lora` (9 items x 3 epochs" in report
    assert "saw 4 of 9 training items" in (out / "report.html").read_text()


def test_a_cut_of_a_label_task_takes_every_label_in_turn(tmp_path):
    from harness.arms.train_share import training_items

    task = load_task(_task(tmp_path))  # train sorted by label, 3 items each
    picked = training_items(task, 3, seed=1)
    assert sorted(i.answers[0] for i in picked) == LABELS  # a plain cut would take one label
    assert training_items(task, 3, seed=1) == picked  # seeded
    assert training_items(task, None, seed=1) == task.train
    short = load_task(_task(tmp_path, answer_style="short"))
    assert training_items(short, 3, seed=1) == short.train[:3]  # other tasks: as before


def test_a_stated_label_set_makes_a_label_task(tmp_path):
    task = load_task(_task(tmp_path, answer_style="auto", label_set=[*LABELS, "unused_label"]))
    assert task.spec.answer_style == "label"
    assert wording_for(task).labels == (*LABELS, "unused_label")  # the stated order, all listed
