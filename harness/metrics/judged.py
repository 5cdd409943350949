"""Metrics a model decides: a judge's answer correctness and groundedness, and a grounding
checker's support score. The judging runs before scoring (harness.run.judging) and leaves its
verdicts on each prediction under JUDGE_KEY; these metrics read them, so they apply only where
a judge ran (the suite's `judge:` or `grounding_model:`) and are None elsewhere.
"""

from __future__ import annotations

from harness.metrics.base import Metric, Prediction, Score, settled_by_abstention

# Where the verdicts sit in `Prediction.extra`. Scoring, not prediction: never stored with the
# predictions (harness.run.predictions), so a new rubric re-judges the same stored answers.
JUDGE_KEY = "judged"
# The metrics each kind of judge produces.
JUDGE_METRICS = ("answer_correctness", "groundedness", "contradicted_share")
GROUNDING_METRICS = ("grounding_score",)


def _verdicts(pred: Prediction, kind: str) -> dict | None:
    return (pred.extra.get(JUDGE_KEY) or {}).get(kind)


def _grounding_applies(item, pred: Prediction) -> bool:
    return "retrieved" in pred.extra and item.choices is None and not pred.abstained


def _correctness(item, pred: Prediction) -> Score | None:
    if item.choices is not None:
        return None
    settled = settled_by_abstention(item, pred)  # abstaining needs no judge
    if settled is not None:
        return settled
    v = _verdicts(pred, "correctness")
    return None if v is None else Score(v["value"], v["reason"])


def _claims_share(item, pred: Prediction, field: str) -> Score | None:
    if not _grounding_applies(item, pred):
        return None
    v = _verdicts(pred, "groundedness")
    if v is None:
        return None
    return Score(v[field], v["reason"])


def _grounding(item, pred: Prediction) -> Score | None:
    if not _grounding_applies(item, pred):
        return None
    v = _verdicts(pred, "grounding")
    return None if v is None else Score(v["value"], v["reason"])


answer_correctness = Metric(
    "answer_correctness",
    _correctness,
    True,
    "A model judge's grade of the answer against the gold answers (1 correct, 0 not), the mean "
    "over the judge's repeats; abstaining scores as in exact_match (1 on unanswerable items, 0 "
    "on answerable ones) without asking the judge. Needs `judge:`.",
)
groundedness = Metric(
    "groundedness",
    lambda item, pred: _claims_share(item, pred, "supported"),
    True,
    "Share of the answer's claims (its sentences) a model judge finds supported by the retrieved "
    "passages, the mean over the judge's repeats (retrieval arms, answered items). Needs `judge:`.",
)
contradicted_share = Metric(
    "contradicted_share",
    lambda item, pred: _claims_share(item, pred, "contradicted"),
    False,
    "Share of the answer's claims a model judge finds contradicted by the retrieved passages "
    "(counted apart from claims it does not find there). Needs `judge:`.",
)
grounding_score = Metric(
    "grounding_score",
    _grounding,
    True,
    "Probability a grounding checker (`grounding_model:`, an NLI or HHEM-like classifier) gives "
    "that the retrieved passages support the whole answer (retrieval arms, answered items).",
)
