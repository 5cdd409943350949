"""Metrics for paragraph answers, where exact match is near zero for every arm.

`rouge_l`: ROUGE-L F-measure (longest common subsequence of tokens, the rouge-score package,
Porter stemming on), best over gold aliases. `answer_similarity`: cosine between sentence
embeddings of the answer and the gold answer (the suite's embedder, L2-normalised vectors),
best over aliases; the vectors are computed in batches before scoring (`annotate_similarity`)
and read here, so the metric stays a per-item function. Both follow the SQuAD 2.0 convention on
unanswerable items: abstaining (or an output that normalises to nothing) scores 1, answering 0;
abstaining on an answerable item scores 0.
"""

from __future__ import annotations

import functools

from harness.metrics.base import Metric, Prediction, Score, settled_by_abstention

SIMILARITY_KEY = "answer_similarity"  # where annotate_similarity leaves each item's cosine


@functools.lru_cache(maxsize=1)
def _scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l_score(prediction: str, gold: str) -> float:
    return float(_scorer().score(gold, prediction)["rougeL"].fmeasure)


def _rouge_l(item, pred: Prediction) -> Score | None:
    if item.choices is not None:
        return None
    settled = settled_by_abstention(item, pred)
    if settled is not None:
        return settled
    value, gold = max((rouge_l_score(pred.output, g), g) for g in item.answers)
    return Score(value, f"ROUGE-L F {value:.3f} against {gold[:60]!r}")


def _similarity(item, pred: Prediction) -> Score | None:
    if item.choices is not None:
        return None
    settled = settled_by_abstention(item, pred)
    if settled is not None:
        return settled
    value = pred.extra.get(SIMILARITY_KEY)
    if value is None:
        return None
    return Score(float(value), f"cosine {value:.3f} to the nearest gold answer")


def annotate_similarity(items, preds: list[Prediction], embedder) -> None:
    """Store each answerable item's best cosine to its gold aliases in `pred.extra`."""
    todo = [
        (item, pred)
        for item, pred in zip(items, preds)
        if item.choices is None and item.answerable and item.answers and not pred.abstained
    ]
    if not todo:
        return
    outputs = embedder.encode([pred.output for _, pred in todo])
    golds = [g for item, _ in todo for g in item.answers]
    gold_vectors = embedder.encode(golds)
    start = 0
    for row, (item, pred) in enumerate(todo):
        block = gold_vectors[start : start + len(item.answers)]
        start += len(item.answers)
        pred.extra[SIMILARITY_KEY] = round(float((block @ outputs[row]).max()), 6)


rouge_l = Metric(
    "rouge_l",
    _rouge_l,
    True,
    "ROUGE-L F-measure between the answer and the gold answer (longest common token "
    "subsequence, rouge-score with stemming), best over aliases. Unanswerable items: abstaining "
    "scores 1, answering 0.",
)
answer_similarity = Metric(
    "answer_similarity",
    _similarity,
    True,
    "Cosine similarity of sentence embeddings (the suite's `embedder`) of the answer and the gold "
    "answer, best over aliases; deterministic. Unanswerable items: abstaining scores 1, answering 0.",
    bounds=(-1.0, 1.0),  # a cosine
)
