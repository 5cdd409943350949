from __future__ import annotations

import numpy as np
import pytest

from harness.stats import bootstrap_ci, summarize


def test_bootstrap_hand_computed_two_items():
    # Resampling [0, 1] with replacement gives means 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4:
    # the 2.5% quantile is 0 and the 97.5% quantile is 1.
    lo, hi = bootstrap_ci([0.0, 1.0], seed=3, resamples=4000)
    assert (lo, hi) == (0.0, 1.0)


def test_bootstrap_is_seeded_and_brackets_the_mean():
    rng = np.random.default_rng(0)
    values = (rng.random(500) < 0.3).astype(float)
    a = bootstrap_ci(values, seed=1)
    assert a == bootstrap_ci(values, seed=1)
    assert a[0] < values.mean() < a[1]
    # normal approximation: half-width about 1.96 * sqrt(p(1-p)/n)
    half = 1.96 * np.sqrt(values.mean() * (1 - values.mean()) / values.size)
    assert (a[1] - a[0]) / 2 == pytest.approx(half, rel=0.15)


def test_summarize_edge_cases():
    assert summarize([]) == {"value": None, "ci_low": None, "ci_high": None, "n": 0}
    s = summarize([1.0, 1.0, 1.0])
    assert s == {"value": 1.0, "ci_low": 1.0, "ci_high": 1.0, "n": 3}
