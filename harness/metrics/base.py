"""The shapes every metric shares, and the answer normalisation they agree on."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Bump when a definition changes (2: SQuAD punctuation is deleted; 3: a file id credits its PDF
# pages; 4: on an unanswerable item an output that normalises to "" is SQuAD's empty answer).
METRICS_VERSION = "4"

_ARTICLES = re.compile(r"\b(a|an|the)\b")
# The official SQuAD 2.0 script deletes exactly the ASCII punctuation of `string.punctuation`.
_PUNCT = frozenset(string.punctuation)


@dataclass(frozen=True)
class Score:
    value: float
    reason: str


@dataclass
class Prediction:
    """What an arm produced for one item."""

    output: str
    prompt: str = ""
    abstained: bool = False
    choice: int | None = None  # chosen index for choice scoring
    choice_logprobs: list[float] | None = None
    new_tokens: int = 0
    latency_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable[[Any, Prediction], Score | None]
    higher_is_better: bool | None  # None: a descriptive rate with no better direction
    description: str
    # Every per-item score lies in [low, high], so every mean and interval end does too; a run
    # file holding a value outside is damaged or edited (harness.reports.runfiles refuses it).
    bounds: tuple[float, float] = (0.0, 1.0)

    def __call__(self, item: Any, prediction: Prediction) -> Score | None:
        return self.fn(item, prediction)


def normalize_answer(text: str) -> str:
    """The official SQuAD 2.0 normalisation, step for step, so scores mean what SQuAD's mean.

    Lower-case; delete ASCII punctuation (deleted, not replaced by a space: "U.S." is "us",
    "e-mail" is "email"); replace the articles a/an/the by a space; collapse whitespace.
    """
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def settled_by_abstention(item, pred: Prediction) -> Score | None:
    """The SQuAD 2.0 score an item gets without comparing texts, or None when the texts decide:
    on an unanswerable item abstaining scores 1 and answering 0; abstaining on an answerable
    item scores 0.

    The official script gives an unanswerable item the gold answers [""] and compares
    normalised strings, so an output that normalises to "" ("!!!", "the") is its empty answer:
    correct there, exactly like abstaining.
    """
    if not item.answerable:
        if pred.abstained:
            return Score(1.0, "unanswerable item; abstained (correct)")
        if not normalize_answer(pred.output):
            return Score(
                1.0, "unanswerable item; the output normalises to an empty answer (correct)"
            )
        return Score(0.0, "unanswerable item; answered instead of abstaining")
    if pred.abstained:
        return Score(0.0, "abstained on an answerable item")
    return None


def best_alias(golds: tuple[str, ...], fn: Callable[[str], float]) -> tuple[float, str]:
    """The best score over gold aliases, and the alias that gave it."""
    scored = [(fn(g), g) for g in golds]
    return max(scored, key=lambda s: s[0])
