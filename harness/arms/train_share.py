"""How much of the train split a fine-tuning arm saw, and which items when not all of it.

A trained arm that saw part of its split (`max_train_items`, fewer epochs than planned) scores a
lower bound of what fine-tuning can do; the record says how much it saw (`train_items` of
`train_split_items`, `epochs`) so that reports and the decision can say so
(harness.reports.label_notes), and the measured rate is kept with the model and device so that
`adaptbench init` can size the next training by time (harness.cli.train_budget).
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from harness.data.tasks import Item, TaskData


def training_items(task: TaskData, limit: int | None, seed: int) -> list[Item]:
    """The items a training with `max_train_items: limit` sees. On a label task a seeded draw
    that takes every label in turn (a cut of a file sorted by label would miss most labels);
    elsewhere the first `limit` items, as always."""
    train = task.train
    if not limit or limit >= len(train):
        return train
    if task.spec.answer_style != "label":
        return train[:limit]
    by_label: dict[str, list[Item]] = defaultdict(list)
    for item in train:
        by_label[item.answers[0] if item.answers else ""].append(item)
    rng = random.Random(seed)
    pools = [by_label[label] for label in sorted(by_label)]
    for pool in pools:
        rng.shuffle(pool)
    rng.shuffle(pools)
    picked: list[Item] = []
    while len(picked) < limit:
        for pool in pools:
            if pool and len(picked) < limit:
                picked.append(pool.pop())
    return picked


def share_stats(arm: Any, task: TaskData, items: list[Item]) -> dict[str, Any]:
    """The training record's share of the split, and what the rate was measured on."""
    return {
        "train_items": len(items),
        "train_split_items": len(task.train),
        "epochs": arm.params.epochs,
        "arm_kind": arm.kind,
        "model": arm.ctx.suite.model.name,
        "device": str(arm.ctx.device),
    }
