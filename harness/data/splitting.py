"""Split one items file into train, dev and eval: the same split on every machine.

Questions that are identical or near-identical (TF-IDF cosine at the task's leakage threshold)
form one group and go to the same side, so the split itself cannot leak. Items are stratified
by label (label tasks) or by answerability, and the order within a stratum comes from a hash of
the seed and the item ids, not from a random generator, so it does not depend on the platform.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

# A generate task whose gold answers take at most this many values, each repeated, is a label task.
MAX_LABELS = 30
ROWS_PER_BLOCK = 2048  # similarity rows computed at once: memory stays O(block x n)


def stratum_of(item: Any, label_task: bool) -> str:
    """The label for label tasks, else whether the item is answerable."""
    if not label_task:
        return "answerable" if item.answerable else "unanswerable"
    if item.labels:
        return "; ".join(f"{k}={v}" for k, v in item.labels)
    if item.choices is not None and item.label is not None:
        return item.choices[item.label]
    return item.answers[0] if item.answers else "(unanswerable)"


def is_label_task(items: list[Any]) -> bool:
    """Choice or structured items, or answers drawn from a small set of repeated values."""
    if any(i.choices is not None or i.labels for i in items):
        return True
    golds = Counter(i.answers[0].lower() for i in items if i.answers)
    return 1 < len(golds) <= MAX_LABELS and len(golds) * 3 <= sum(golds.values())


def near_duplicate_groups(norm: list[str], threshold: float) -> list[int]:
    """Group index of each (normalized) question: components of `cosine >= threshold` pairs."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    parent = list(range(len(norm)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # the smaller index is the root: order-independent

    first: dict[str, int] = {}
    for i, q in enumerate(norm):
        if q in first:
            union(first[q], i)
        else:
            first[q] = i
    if len(first) > 1 and any(norm):
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float64)
        matrix = vec.fit_transform(norm)
        for start in range(0, matrix.shape[0], ROWS_PER_BLOCK):
            block = (matrix[start : start + ROWS_PER_BLOCK] @ matrix.T).tocoo()
            # A margin keeps a pair at exactly the threshold in its group on every machine.
            for r, c, s in zip(block.row, block.col, block.data):
                if s >= threshold - 1e-9 and start + r < c:
                    union(start + int(r), int(c))
    return [find(i) for i in range(len(norm))]


def _order_key(seed: int, item_id: str) -> str:
    return hashlib.sha256(f"{seed}\x00{item_id}".encode()).hexdigest()


def split_items(
    items: list[Any],
    eval_share: float,
    dev_share: float,
    seed: int,
    threshold: float,
    normalize: Callable[[str], str],
) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """Train/dev/eval lists (in file order) and a record of how they were made.

    `normalize` is the leakage check's question normalization, so both see the same duplicates.
    """
    groups = near_duplicate_groups([normalize(i.question) for i in items], threshold)
    label_task = is_label_task(items)
    members: dict[int, list[int]] = defaultdict(list)
    for idx, g in enumerate(groups):
        members[g].append(idx)
    by_stratum: dict[str, list[int]] = defaultdict(list)
    for g, idxs in members.items():
        by_stratum[stratum_of(items[idxs[0]], label_task)].append(g)
    side: dict[int, str] = {}
    for stratum in sorted(by_stratum):
        gs = sorted(by_stratum[stratum], key=lambda g: _order_key(seed, items[g].id))
        total = sum(len(members[g]) for g in gs)
        want = {"eval": round(eval_share * total), "dev": round(dev_share * total)}
        got = {"eval": 0, "dev": 0}
        for g in gs:
            name = next((s for s in ("eval", "dev") if got[s] < want[s]), "train")
            if name != "train":
                got[name] += len(members[g])
            for idx in members[g]:
                side[idx] = name
    splits: dict[str, list[Any]] = {"train": [], "dev": [], "eval": []}
    for idx, item in enumerate(items):
        splits[side[idx]].append(item)
    multi = [m for m in members.values() if len(m) > 1]
    info = {
        "eval": eval_share,
        "dev": dev_share,
        "seed": seed,
        "threshold": threshold,
        "stratified_by": "label" if label_task else "answerable",
        "strata": {s: sum(len(members[g]) for g in gs) for s, gs in sorted(by_stratum.items())},
        "near_duplicate_groups": len(multi),
        "items_in_near_duplicate_groups": sum(len(m) for m in multi),
        "sizes": {k: len(v) for k, v in splits.items()},
        "ids": {k: [i.id for i in v] for k, v in splits.items()},
        "ids_sha256": {
            k: hashlib.sha256("\n".join(i.id for i in v).encode()).hexdigest()
            for k, v in splits.items()
        },
    }
    return {k: v for k, v in splits.items() if v}, info
