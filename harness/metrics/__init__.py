"""Per-item metrics. Each returns a `Score(value, reason)` or None when it does not apply.

Aggregation and confidence intervals happen once, in `harness.common.stats`. Metric definitions are
versioned: change one only together with METRICS_VERSION, never silently.
"""

from __future__ import annotations

from harness.metrics.accuracy import choice_accuracy, exact_match, token_f1
from harness.metrics.base import METRICS_VERSION, Metric, Prediction, Score
from harness.metrics.fields import field_accuracy, fields_exact, parse_failure_rate
from harness.metrics.hallucination import abstention_rate, false_answer_rate, unanswerable_answered
from harness.metrics.judged import (
    JUDGE_KEY,
    answer_correctness,
    contradicted_share,
    groundedness,
    grounding_score,
)
from harness.metrics.labels import invalid_label_rate
from harness.metrics.long_answer import (
    SIMILARITY_KEY,
    annotate_similarity,
    answer_similarity,
    rouge_l,
)
from harness.metrics.retrieval import mrr, recall_at_k, unsupported_by_context, unsupported_share

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
        unsupported_share,
        rouge_l,
        answer_similarity,
        fields_exact,
        parse_failure_rate,
        answer_correctness,
        groundedness,
        contradicted_share,
        grounding_score,
        invalid_label_rate,
    )
}

# Parameterised metrics: `field_accuracy:<field>` (per item) and `macro_f1:<field>` (per corpus).
CORPUS_PREFIX = "macro_f1:"


def get_metric(name: str) -> Metric | None:
    """A registered metric, or a per-field one built from its name; None if unknown."""
    if name in METRICS:
        return METRICS[name]
    if name.startswith("field_accuracy:") and name.split(":", 1)[1]:
        return field_accuracy(name.split(":", 1)[1])
    return None


def metric_bounds(name: str) -> tuple[float, float] | None:
    """The range every score and mean of a metric lies in; None for a name this code does not
    know (a newer version's metric: only its numbers can be checked)."""
    metric = get_metric(name)
    if metric is not None:
        return metric.bounds
    if name.startswith(CORPUS_PREFIX) and name[len(CORPUS_PREFIX) :]:
        return (0.0, 1.0)  # a macro-F1
    return None


def is_known(name: str) -> bool:
    return get_metric(name) is not None or (
        name.startswith(CORPUS_PREFIX) and bool(name[len(CORPUS_PREFIX) :])
    )


def default_metrics(
    scoring: str, output_fields: list[str] | None, style: str = "short"
) -> list[str]:
    """The metrics a task gets when its suite lists none: by scoring kind and answer style."""
    if output_fields:
        per_field = [f"field_accuracy:{f}" for f in output_fields] + [
            f"{CORPUS_PREFIX}{f}" for f in output_fields
        ]
        return ["fields_exact", "parse_failure_rate", *per_field]
    if scoring == "choice":  # over a label set: reported, 0 by construction, for comparison
        return [*DEFAULT_METRICS["choice"], *(["invalid_label_rate"] if style == "label" else [])]
    if style == "label":  # generated labels: how many name none of the labels
        return [*DEFAULT_METRICS["generate"], "invalid_label_rate"]
    return list(DEFAULT_METRICS["long" if style == "long" else "generate"])


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
    # Paragraph answers: exact match and the exact-match-based false_answer_rate are near zero
    # for every arm, and one unsupported word flags a whole paragraph, so graded metrics instead.
    "long": [
        "token_f1",
        "rouge_l",
        "answer_similarity",
        "unanswerable_answered",
        "abstention_rate",
        "recall@k",
        "mrr",
        "unsupported_share",
    ],
    "choice": ["choice_accuracy", "recall@k", "mrr"],
}

__all__ = [
    "METRICS",
    "DEFAULT_METRICS",
    "CORPUS_PREFIX",
    "get_metric",
    "is_known",
    "metric_bounds",
    "default_metrics",
    "annotate_similarity",
    "SIMILARITY_KEY",
    "JUDGE_KEY",
    "METRICS_VERSION",
    "Metric",
    "Prediction",
    "Score",
]
