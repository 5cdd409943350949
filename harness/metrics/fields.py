"""Structured answers (`field: value; field: value`): per-field accuracy, all-fields exact match,
parse failures, and macro-F1 per label field (a corpus-level number, computed in `corpus_scores`).
"""

from __future__ import annotations

import re

import numpy as np

from harness.metrics.base import Metric, Prediction, Score

UNPARSED = "<unparsed>"


def parse_fields(text: str, fields: list[str]) -> dict[str, str] | None:
    """Values of `fields` in an output like `line: motor; severity: minor`, or None if any is missing."""
    out = {}
    for name in fields:
        m = re.search(rf"(?i)\b{re.escape(name)}\s*[:=]\s*([^;\n]+)", text)
        if not m:
            return None
        out[name] = _norm(m.group(1))
    return out


def _norm(value: str) -> str:
    return " ".join(value.strip().strip(".,").lower().split())


def _gold(item) -> dict[str, str]:
    return {k: _norm(v) for k, v in item.labels}


def _parse(item, pred: Prediction) -> dict[str, str] | None:
    return parse_fields(pred.output, [k for k, _ in item.labels])


def _fields_exact(item, pred: Prediction) -> Score | None:
    if not item.labels:
        return None
    parsed = _parse(item, pred)
    if parsed is None:
        return Score(0.0, "output does not parse into every field")
    wrong = [f"{k}: {parsed[k]!r} != {v!r}" for k, v in _gold(item).items() if parsed[k] != v]
    return Score(0.0 if wrong else 1.0, "; ".join(wrong) if wrong else "every field right")


def _parse_failure(item, pred: Prediction) -> Score | None:
    if not item.labels:
        return None
    parsed = _parse(item, pred)
    return Score(1.0, "does not parse") if parsed is None else Score(0.0, "parses")


def field_accuracy(name: str) -> Metric:
    def fn(item, pred: Prediction) -> Score | None:
        gold = _gold(item)
        if name not in gold:
            return None
        m = re.search(rf"(?i)\b{re.escape(name)}\s*[:=]\s*([^;\n]+)", pred.output)
        if not m:
            return Score(0.0, f"no `{name}:` in the output")
        got = _norm(m.group(1))
        return Score(float(got == gold[name]), f"{got!r} vs gold {gold[name]!r}")

    return Metric(
        f"field_accuracy:{name}", fn, True, f"Share of items whose `{name}` field is right."
    )


def field_prediction(item, pred: Prediction, name: str) -> tuple[str, str] | None:
    """(gold, predicted) label of one field for corpus-level scoring."""
    gold = _gold(item)
    if name not in gold:
        return None
    m = re.search(rf"(?i)\b{re.escape(name)}\s*[:=]\s*([^;\n]+)", pred.output)
    return gold[name], (_norm(m.group(1)) if m else UNPARSED)


def macro_f1(gold: np.ndarray, pred: np.ndarray, classes: np.ndarray) -> float:
    """Unweighted mean F1 over the gold classes (a prediction outside them counts as wrong)."""
    f1s = []
    for c in classes:
        tp = np.sum((pred == c) & (gold == c))
        fp = np.sum((pred == c) & (gold != c))
        fn = np.sum((pred != c) & (gold == c))
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s))


fields_exact = Metric(
    "fields_exact",
    _fields_exact,
    True,
    "Share of items whose output parses and has every field right.",
)
parse_failure_rate = Metric(
    "parse_failure_rate",
    _parse_failure,
    False,
    "Share of items whose output does not parse as `field: value; ...` with every expected field.",
)
