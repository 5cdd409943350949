"""The shapes every metric shares, and the answer normalisation they agree on."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

METRICS_VERSION = "2"  # bump when a definition changes (2: a file's id credits its PDF pages)

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation) | {"\u2018", "\u2019", "\u201c", "\u201d", "\u2013", "\u2014"}


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

    def __call__(self, item: Any, prediction: Prediction) -> Score | None:
        return self.fn(item, prediction)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and articles, collapse whitespace (SQuAD convention)."""
    text = text.lower()
    text = "".join(" " if ch in _PUNCT else ch for ch in text)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def best_alias(golds: tuple[str, ...], fn: Callable[[str], float]) -> tuple[float, str]:
    """The best score over gold aliases, and the alias that gave it."""
    scored = [(fn(g), g) for g in golds]
    return max(scored, key=lambda s: s[0])
