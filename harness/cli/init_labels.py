"""Two choices `adaptbench init` makes and states: how a label task is scored, and how long each
fine-tuning arm may train (harness.cli.train_budget does the arithmetic).

Label scoring: log-likelihood of every label (`scoring: choice`) costs, per item, the tokens of
all labels scored from the prompt's cache, and can never answer off the label set; generating
costs a few decoding steps whatever the number of labels, but a small model asked for a label
often writes a sentence instead (measured here: smollm2-135m-instruct, 24 labels listed, wrote
prose for 20 of 20 messages, exact match 0.000). So init picks `choice`, the better
measurement, while the labels add at most CHOICE_MAX_TOKENS tokens an item (half the label
style's prompt budget: at most about 1.5 times the prefill work), and generation with the labels
listed above that, where scoring every label would cost several times the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cli.train_budget import (
    CHARS_PER_TOKEN,
    DEFAULT_BUDGET_S,
    FULL_RATE_FACTOR,
    Rate,
    pick_rate,
    size_training,
    stored_rate,
    tokens_per_item,
)
from harness.data.tasks import DataError, detect_format, table_rows

CHOICE_MAX_TOKENS = 512
INIT_MODEL = "smollm2-135m-instruct"  # the model the suites init writes name
INSTRUCTION_CHARS = 60  # the style sentence every training example repeats
SPLIT_TRAIN_SHARE = 0.6  # of one items file split for you (eval 0.3, dev 0.1)


def label_tokens(labels: list[str]) -> int:
    """Estimated tokens of every label (4 characters a token, one more for its end)."""
    return sum(len(label) // CHARS_PER_TOKEN + 1 for label in labels)


def choose_label_scoring(g: Any) -> None:
    """Set a label task's scoring (harness.cli.suite_init.Guess) and say which and why."""
    if g.style != "label" or g.scoring != "generate" or not g.labels or g.unanswerable:
        return
    n, tokens = len(g.labels), label_tokens(g.labels)
    if tokens <= CHOICE_MAX_TOKENS:
        g.scoring = "choice"
        g.notes.append(
            f"scoring: choice (better here): the log-likelihood of each of the {n} labels, about "
            f"{tokens} tokens an item scored from the prompt's cache (at most {CHOICE_MAX_TOKENS}"
            "), so no answer can be off the label set; a small model asked to write the label "
            "often writes a sentence (scoring: generate has the arms write it, with "
            "invalid_label_rate counting those)"
        )
    else:
        g.notes.append(
            f"scoring: generate (cheaper here), the {n} labels listed in every prompt: scoring "
            f"each label would add about {tokens} tokens an item (over {CHOICE_MAX_TOKENS}), "
            "generating costs a few decoding steps; invalid_label_rate counts answers that name "
            "no label (scoring: choice scores every label instead, at that cost)"
        )


@dataclass
class Budget:
    """What `--train-budget` and `--train-rate` asked for (None: the machine's default)."""

    seconds: float | None = None
    rate: float | None = None  # real training tokens/s of a LoRA arm
    cache: Path | None = None


@dataclass
class TrainingPlan:
    params: dict[str, dict] = field(default_factory=dict)  # arm kind -> max_train_items, epochs
    comment: list[str] = field(default_factory=list)  # the suite's comment above the arms
    lines: list[str] = field(default_factory=list)  # what init prints


def plan_training(
    g: Any, path: Path | None, whole: bool, gpu: bool, budget: Budget | None
) -> TrainingPlan:
    """Items and epochs of `lora` and `full` within the time budget, with the reasons; `path`
    holds the train items (`whole`: all items, split for you)."""
    budget = budget or Budget()
    device = "cuda" if gpu else "cpu"
    seconds = budget.seconds or DEFAULT_BUDGET_S[device]
    cache = budget.cache or _cache()
    rate = pick_rate(cache, INIT_MODEL, device, budget.rate)
    split, texts = _train_texts(g, path, whole)
    plan = TrainingPlan()
    if rate is None or not split:
        plan.params = {"lora": {"epochs": 3}, "full": {"epochs": 3}}
        plan.comment = [
            f"No training rate measured on this {device} yet: every train item, 3 epochs.",
            "Pass --train-budget with --train-rate (tokens/s) to size it by time.",
        ]
        plan.lines = list(plan.comment)
        return plan
    extra = INSTRUCTION_CHARS + sum(len(label) + 2 for label in g.labels)
    per_item = tokens_per_item(texts, extra)
    full_rate = stored_rate(cache, INIT_MODEL, device, "full") or Rate(
        rate.tokens_per_s * FULL_RATE_FACTOR, "2/3 of lora's rate (6N against 4N FLOPs a token)"
    )
    plan.comment.append(
        f"Training budget: {seconds / 60:g} min per arm (--train-budget), about "
        f"{per_item:.0f} tokens a train item (estimated at {CHARS_PER_TOKEN} characters a token)."
    )
    for kind, r in (("lora", rate), ("full", full_rate)):
        sizing = size_training(split, per_item, r.tokens_per_s, seconds)
        plan.params[kind] = sizing.params()
        plan.comment.append(
            f"{kind}: {sizing.text()} at {r.tokens_per_s:,.0f} tokens/s ({r.source})."
        )
        if sizing.max_train_items is not None:
            plan.comment.append(
                f"  {kind} sees part of the split: its score is a lower bound (the report says so)."
            )
    plan.lines = list(plan.comment)
    return plan


def _cache() -> Path:
    from harness.models.resolve import cache_dir

    return cache_dir()


def _train_texts(g: Any, path: Path | None, whole: bool) -> tuple[int, list[str]]:
    """Train items (counted; `whole`: one file split for you, its train share) and their texts."""
    if path is None:
        return 0, []
    try:
        fmt = detect_format(path, "auto")
        rows = [] if fmt == "squad" else [row for _, row in table_rows(path, fmt, g.sheet)]
    except DataError:
        return 0, []
    keys = [g.fields.get("question"), g.fields.get("answers")]
    texts = [" ".join(str(row.get(k) or "") for k in keys if k) for row in rows]
    n = round(len(rows) * SPLIT_TRAIN_SHARE) if whole else len(rows)
    return n, texts
