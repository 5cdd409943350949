"""The label set of a label task, and its items as choices over that set (`scoring: choice`).

A label task's labels are the suite's `label_set`, else the distinct gold answers of every split
(sorted, so that file order never changes a prompt). Two labels the matching rule cannot tell
apart (harness.metrics.labels: case and separators ignored) are an error, as is, with a stated
`label_set`, a gold answer outside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from harness.metrics.labels import colliding_labels, label_key


class LabelError(ValueError):
    """A label set that cannot be used; the message names the item or the labels."""


def label_set(items: Iterable, declared: list[str] | None) -> list[str]:
    """The task's labels: `declared` (checked against the golds), else the distinct golds."""
    items = list(items)
    if declared is not None:
        labels = list(dict.fromkeys(declared))
        keys = {label_key(label) for label in labels}
        for item in items:
            for gold in _golds(item):
                if label_key(gold) not in keys:
                    raise LabelError(
                        f"{item.source}: gold answer {gold!r} is not in the task's label_set "
                        f"({len(labels)} labels, e.g. {labels[:3]}); add it or fix the answer"
                    )
    else:
        labels = sorted({gold for item in items for gold in _golds(item)})
    clashes = colliding_labels(labels)
    if clashes:
        a, b = clashes[0]
        raise LabelError(
            f"labels {a!r} and {b!r} differ only in case or separators, which label matching "
            "ignores; give them one spelling in the data (or in label_set)"
        )
    return labels


def _golds(item) -> tuple[str, ...]:
    if item.choices is not None and item.label is not None:
        return (item.choices[item.label],)
    return item.answers[:1] if item.answerable else ()


def as_label_choices(items: list, labels: list[str]) -> list:
    """Each item as a choice item over the whole label set, its gold label the right choice."""
    index = {label_key(label): i for i, label in enumerate(labels)}
    out = []
    for item in items:
        if not item.answerable or not item.answers:
            raise LabelError(
                f"{item.source}: an item without an answer cannot be scored over the labels "
                "(scoring: choice); give it a label"
            )
        i = index.get(label_key(item.answers[0]))
        if i is None:
            raise LabelError(f"{item.source}: label {item.answers[0]!r} is not in the label set")
        out.append(replace(item, choices=tuple(labels), label=i, answers=(labels[i],)))
    return out
