"""Per-item metrics. Each returns a `Score(value, reason)` or None when it does not apply.

Aggregation and confidence intervals happen once, in `harness.stats`. Metric definitions are
versioned: change one only together with METRICS_VERSION, never silently.
"""

from __future__ import annotations

from .accuracy import choice_accuracy, exact_match, token_f1
from .base import METRICS_VERSION, Metric, Prediction, Score
from .hallucination import abstention_rate, false_answer_rate, unanswerable_answered
from .retrieval import mrr, recall_at_k, unsupported_by_context

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        exact_match,
        token_f1,
        choice_accuracy,
        false_answer_rate,
        unanswerable_answered,
        abstention_rate,
        recall_at_k,
        mrr,
        unsupported_by_context,
    )
}

DEFAULT_METRICS = {
    "generate": [
        "exact_match",
        "token_f1",
        "false_answer_rate",
        "unanswerable_answered",
        "abstention_rate",
        "recall@k",
        "mrr",
        "unsupported_by_context",
    ],
    "choice": ["choice_accuracy", "recall@k", "mrr"],
}

__all__ = ["METRICS", "DEFAULT_METRICS", "METRICS_VERSION", "Metric", "Prediction", "Score"]
