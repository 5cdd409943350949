"""Hallucination as three separate numbers, never one vague one: a wrong answer to an answerable
question, an answer to an unanswerable one, and how often the arm abstains have different causes
and fixes, and one blended rate would hide which of them moved."""

from __future__ import annotations

from harness.metrics.base import Metric, Prediction, Score, normalize_answer


def answer_is_correct(pred_text: str, golds: tuple[str, ...]) -> tuple[bool, str]:
    """Correct = normalised exact match, or a gold alias appearing as a whole-word span in the output.

    The span rule keeps a chatty but right answer ("The deductible is $640.") from counting as false.
    """
    out = normalize_answer(pred_text)
    padded = f" {out} "
    for gold in golds:
        g = normalize_answer(gold)
        if not g:
            continue
        if out == g:
            return True, f"matches {gold!r}"
        if f" {g} " in padded:
            return True, f"contains {gold!r}"
    return False, "no gold alias in the output"


def _false_answer(item, pred: Prediction) -> Score | None:
    if item.choices is not None or not item.answerable:
        return None
    if pred.abstained:
        return Score(0.0, "abstained (not a false answer)")
    correct, why = answer_is_correct(pred.output, item.answers)
    return Score(0.0, why) if correct else Score(1.0, f"wrong and not abstaining: {why}")


def _unanswerable_answered(item, pred: Prediction) -> Score | None:
    if item.choices is not None or item.answerable:
        return None
    if pred.abstained:
        return Score(0.0, "abstained on an unanswerable item")
    return Score(1.0, "answered an unanswerable item")


def _abstention(item, pred: Prediction) -> Score | None:
    if item.choices is not None:
        return None
    return Score(float(pred.abstained), "abstained" if pred.abstained else "answered")


false_answer_rate = Metric(
    "false_answer_rate",
    _false_answer,
    False,
    "Answerable items answered wrongly without abstaining / answerable items. 'Right' means an "
    "exact match or a gold alias appearing as a whole-word span in the output.",
)
unanswerable_answered = Metric(
    "unanswerable_answered",
    _unanswerable_answered,
    False,
    "Unanswerable items the arm answered instead of abstaining / unanswerable items.",
)
abstention_rate = Metric(
    "abstention_rate",
    _abstention,
    None,
    "Items where the output matches an abstention pattern (or is empty) / all generated items. "
    "Neither good nor bad alone: read it next to false_answer_rate and unanswerable_answered.",
)
