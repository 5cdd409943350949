"""Accuracy: exact match and token F1 (SQuAD 2.0 conventions), and choice accuracy."""

from __future__ import annotations

from collections import Counter

from harness.metrics.base import (
    Metric,
    Prediction,
    Score,
    best_alias,
    normalize_answer,
    settled_by_abstention,
)


def _em(pred: str, gold: str) -> float:
    return float(normalize_answer(pred) == normalize_answer(gold))


def _f1(pred: str, gold: str) -> float:
    p, g = normalize_answer(pred).split(), normalize_answer(gold).split()
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def _golds(item) -> tuple[str, ...]:
    """Gold aliases that normalise to something: SQuAD ignores the others (the loader warns)."""
    kept = tuple(g for g in item.answers if normalize_answer(g))
    return kept or tuple(item.answers)


def _exact_match(item, pred: Prediction) -> Score | None:
    if item.choices is not None:
        return None
    settled = settled_by_abstention(item, pred)
    if settled is not None:
        return settled
    value, gold = best_alias(_golds(item), lambda g: _em(pred.output, g))
    return Score(
        value,
        f"matches {gold!r}" if value else f"no alias matches (first gold {item.answers[0]!r})",
    )


def _token_f1(item, pred: Prediction) -> Score | None:
    if item.choices is not None:
        return None
    settled = settled_by_abstention(item, pred)
    if settled is not None:
        return settled
    value, gold = best_alias(_golds(item), lambda g: _f1(pred.output, g))
    return Score(value, f"best F1 {value:.3f} against {gold!r}")


def _choice_accuracy(item, pred: Prediction) -> Score | None:
    if item.choices is None or item.label is None:
        return None
    if pred.choice is None:
        return Score(0.0, "no choice made")
    right = pred.choice == item.label
    return Score(float(right), f"chose {pred.choice}, gold {item.label}")


exact_match = Metric(
    "exact_match",
    _exact_match,
    True,
    "Exact match against any gold alias after the official SQuAD 2.0 normalisation (lower-case, "
    "ASCII punctuation deleted, articles a/an/the removed, whitespace collapsed; aliases that "
    "normalise to nothing are ignored). Over all items: on an unanswerable item, abstaining "
    "or an output that normalises to nothing scores 1 (SQuAD 2.0 convention).",
)
token_f1 = Metric(
    "token_f1",
    _token_f1,
    True,
    "Best token-overlap F1 over gold aliases after the official SQuAD 2.0 normalisation (as "
    "exact_match; tokens split on whitespace); unanswerable items score 1 when the arm abstains "
    "or its output normalises to nothing (SQuAD 2.0 convention).",
)
choice_accuracy = Metric(
    "choice_accuracy",
    _choice_accuracy,
    True,
    "Share of multiple-choice items where the highest-log-likelihood choice is the gold one "
    "(like lm-eval `acc`).",
)
