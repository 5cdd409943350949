"""Agreement statistics for judges: Fleiss' kappa between a judge's repeats, and a detector
against labels (ROC AUC, accuracy at a threshold, Cohen's kappa) with bootstrap intervals.

AUC is the Mann-Whitney form: the chance a labelled-positive item scores above a negative one,
ties counting one half (what sklearn's roc_auc_score gives). Intervals are percentile
bootstraps that resample positives and negatives apart (stratified), so every resample holds
both classes and its AUC is defined.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

RESAMPLES = 2000


def fleiss_kappa(ratings: Sequence[Sequence[str]]) -> float | None:
    """Fleiss' kappa of subjects each rated by the same number (>= 2) of raters; None when it is
    undefined (fewer than 2 raters or subjects, or every rating in one category: no chance
    agreement to beat)."""
    rows = [list(r) for r in ratings if len(r) >= 2]
    if len(rows) < 1 or len({len(r) for r in rows}) != 1:
        return None
    m = len(rows[0])
    cats = sorted({c for r in rows for c in r})
    counts = np.array([[r.count(c) for c in cats] for r in rows], dtype=float)
    p_subject = ((counts**2).sum(axis=1) - m) / (m * (m - 1))
    p_cat = counts.sum(axis=0) / (len(rows) * m)
    expected = float((p_cat**2).sum())
    if expected >= 1.0:
        return None
    return float((p_subject.mean() - expected) / (1.0 - expected))


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """ROC AUC of scores that should be higher on positive labels; None without both classes."""
    s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _average_ranks(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float | None:
    """Cohen's kappa of two binary raters; None when chance agreement is already total."""
    x, y = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if len(x) == 0:
        return None
    observed = float((x == y).mean())
    expected = float(x.mean() * y.mean() + (1 - x.mean()) * (1 - y.mean()))
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def accuracy(flags: Sequence[bool], labels: Sequence[bool]) -> float | None:
    x, y = np.asarray(flags, dtype=bool), np.asarray(labels, dtype=bool)
    return float((x == y).mean()) if len(x) else None


def stratified_interval(
    labels: Sequence[bool],
    statistic: Callable[[np.ndarray], float | None],
    seed: int = 0,
    resamples: int = RESAMPLES,
    level: float = 0.95,
) -> tuple[float | None, float | None]:
    """Percentile interval of `statistic(index array)` over resamples drawn with replacement
    within each label class; resamples where it is undefined are left out."""
    y = np.asarray(labels, dtype=bool)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        idx = np.concatenate(
            [
                rng.choice(pos, len(pos)) if len(pos) else pos,
                rng.choice(neg, len(neg)) if len(neg) else neg,
            ]
        )
        v = statistic(idx)
        if v is not None:
            values.append(v)
    if not values:
        return None, None
    alpha = (1 - level) / 2
    lo, hi = np.quantile(values, [alpha, 1 - alpha])
    return float(lo), float(hi)
