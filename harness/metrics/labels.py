"""Label tasks: the rule that matches a generated answer to one label, and `invalid_label_rate`.

The matching rule (stated in the metric's description and the README): an output names a label
when, both read by `label_key`, they are equal. `label_key` lower-cases the text and turns every
run of characters that are not letters or digits (spaces, `_`, `-`, `/`, `.`, quotes) into one
separator, ignoring them at both ends. So `card arrival`, `Card_Arrival` and `"card-arrival."`
all name `card_arrival`; `card arrivals` or `label: card_arrival` name none.

Arms apply the rule when they predict (harness.arms.prompting): a generated answer that names a
label is replaced by that label's own spelling (the raw text kept as `raw_output`) and the
prediction records `extra["label"]`, the label, or None when the output names none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from harness.metrics.base import Metric, Prediction, Score

_SEPARATORS = re.compile(r"[^0-9a-z]+")
LABEL_KEY = "label"  # Prediction.extra key: the label an output names, None for none


def label_key(text: str) -> str:
    """What two spellings of one label share: lower case, separator runs as one space."""
    return " ".join(_SEPARATORS.split(text.casefold())).strip()


def colliding_labels(labels: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs of distinct labels that the rule cannot tell apart (`Card-Arrival`, `card arrival`)."""
    seen: dict[str, str] = {}
    out = []
    for label in labels:
        key = label_key(label)
        if key in seen and seen[key] != label:
            out.append((seen[key], label))
        seen.setdefault(key, label)
    return out


def match_label(output: str, labels: Sequence[str]) -> str | None:
    """The label `output` names under the rule above, or None. Only the first line counts (a
    label task stops at a newline); an empty key (only punctuation) names nothing."""
    first = output.strip().split("\n", 1)[0]
    key = label_key(first)
    if not key:
        return None
    for label in labels:
        if label_key(label) == key:
            return label
    return None


def _invalid_label(item, pred: Prediction) -> Score | None:
    if LABEL_KEY not in pred.extra:
        return None  # not a label task, or an arm that does not answer with labels
    label = pred.extra[LABEL_KEY]
    raw = pred.extra.get("raw_output", pred.output)
    if label is None:
        return Score(1.0, f"{raw.strip()[:80]!r} is not one of the task's labels")
    return Score(0.0, f"names the label {label!r}")


invalid_label_rate = Metric(
    "invalid_label_rate",
    _invalid_label,
    False,
    "Label tasks: share of answers that are none of the task's labels. An answer names a label "
    "when the two are equal after lower-casing and turning every run of characters other than "
    "letters and digits (spaces, _, -, /, ., quotes) into one separator, ignored at both ends "
    "(`card arrival` = `Card_Arrival` = `card-arrival.`); only the answer's first line counts. "
    "An answer that names a label is scored as that label. Choice scoring (log-likelihood over "
    "the labels) always picks a label: 0 by construction.",
)
