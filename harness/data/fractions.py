"""Nested subsets of a split for learning curves (`train_fractions` on a trained arm).

Every item gets a rank from a hash of the seed and its id, and a fraction f keeps the
ceil(f x n) best-ranked items in their file order. The ranking does not depend on f, so the
subset of a smaller fraction lies inside that of a larger one (nested), and the same seed and
items always give the same subset; another seed draws another one.
"""

from __future__ import annotations

import hashlib
import math

from harness.data.tasks import Item


def nested_subset(items: list[Item], fraction: float, seed: int) -> list[Item]:
    """The items a `fraction` of the split keeps (all of them at 1.0; at least one)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"train_fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return list(items)
    keep_n = max(1, math.ceil(fraction * len(items) - 1e-9))  # 0.3 x 10 is 3, not 4
    ranked = sorted(range(len(items)), key=lambda i: (_rank(seed, items[i].id), i))
    keep = set(ranked[:keep_n])
    return [item for i, item in enumerate(items) if i in keep]


def _rank(seed: int, item_id: str) -> str:
    return hashlib.sha256(f"train-fraction:{seed}:{item_id}".encode()).hexdigest()
