"""Scoring a cell's predictions: per-item scores with reasons, and per-metric summaries.

Each per-item metric gives a value and a reason per item (kept in the samples file); the summary
is the mean with its 95% interval (`harness.common.stats`); corpus metrics (`macro_f1:<field>`)
are computed over all items at once, with a bootstrap interval over items.
"""

from __future__ import annotations

import numpy as np

from harness.common.itemhash import short_item_hash
from harness.common.stats import bootstrap_statistic, summarize
from harness.data.tasks import Item, TaskData
from harness.metrics import CORPUS_PREFIX, Prediction, default_metrics, get_metric
from harness.metrics.fields import field_prediction, macro_f1


def task_metrics(task: TaskData) -> list[str]:
    """The suite's metrics for the task, else the defaults of its scoring and answer style."""
    spec = task.spec
    return spec.metrics or default_metrics(spec.scoring, spec.output_fields, spec.answer_style)


def cluster_of(item: Item) -> str:
    """The cluster an item's outcome is correlated within: the value of the suite's
    data.fields.cluster column, else its first gold document, else the item itself (a cluster
    of one). Questions about one document succeed or fail together."""
    if item.cluster:
        return f"group:{item.cluster}"
    return f"doc:{item.doc_ids[0]}" if item.doc_ids else f"item:{item.id}"


def score(
    task: TaskData, items: list[Item], preds: list[Prediction], metric_names: list[str], seed: int
) -> tuple[list[dict], dict]:
    """Per-item scores (with reasons), per-metric summaries with bootstrap CIs, and corpus metrics."""
    per_item = [n for n in metric_names if not n.startswith(CORPUS_PREFIX)]
    metrics_by_name = {n: get_metric(n) for n in per_item}
    per_metric: dict[str, list[float]] = {m: [] for m in per_item}
    clusters: dict[str, list[str]] = {m: [] for m in per_item}
    rows = []
    for item, pred in zip(items, preds):
        scores = {}
        for name, metric in metrics_by_name.items():
            s = metric(item, pred)
            if s is not None:
                scores[name] = {"value": s.value, "reason": s.reason}
                per_metric[name].append(s.value)
                clusters[name].append(cluster_of(item))
        rows.append(
            {
                "id": item.id,
                "item_hash": short_item_hash(item),  # what gate and compare match items on
                "source": item.source,
                "cluster": cluster_of(item),  # items that succeed or fail together (stats)
                "prompt": pred.prompt,
                "output": pred.output,
                "abstained": pred.abstained,
                "gold": list(item.answers),
                "answerable": item.answerable,
                "choice": pred.choice,
                "choice_logprobs": pred.choice_logprobs,
                "new_tokens": pred.new_tokens,
                "latency_s": round(pred.latency_s, 5),
                "extra": pred.extra,
                "scores": scores,
            }
        )
    metrics = {
        name: summarize(values, seed=seed, clusters=clusters[name])
        | {"higher_is_better": metrics_by_name[name].higher_is_better}
        for name, values in per_metric.items()
    }
    for name in metric_names:
        if name.startswith(CORPUS_PREFIX):
            metrics[name] = _macro_f1(name[len(CORPUS_PREFIX) :], items, preds, seed)
    return rows, metrics


def _macro_f1(field_name: str, items: list[Item], preds: list[Prediction], seed: int) -> dict:
    """Macro-F1 of one label field over the gold classes, with a bootstrap CI over items."""

    pairs = [
        p
        for p in (field_prediction(i, x, field_name) for i, x in zip(items, preds))
        if p is not None
    ]
    if not pairs:
        return {"value": None, "ci_low": None, "ci_high": None, "n": 0, "higher_is_better": True}
    gold = np.array([g for g, _ in pairs])
    pred = np.array([p for _, p in pairs])
    classes = np.unique(gold)
    lo, hi = bootstrap_statistic(
        len(pairs), lambda idx: macro_f1(gold[idx], pred[idx], classes), seed=seed
    )
    return {
        "value": macro_f1(gold, pred, classes),
        "ci_low": lo,
        "ci_high": hi,
        "n": len(pairs),
        "higher_is_better": True,
    }
