"""Issue 24 items 1, 2, 3, 6: clustered paired statistics, power and equivalence, forgetting as a
limit, and decisions that say when they depend on the metric. Constructed data, no model."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from harness.common.stats import paired_test, power, summarize
from harness.reports.decision import decide
from harness.spec.record import Results

Z95, Z80 = 1.959963984540054, 0.8416212335729143


def _clustered(k: int, m: int, icc: float, seed: int, mean: float = 0.0) -> tuple[np.ndarray, list]:
    """k clusters of m items: a shared cluster effect (share `icc` of the variance) plus noise."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(0, math.sqrt(icc), size=k)
    x = mean + np.repeat(shared, m) + rng.normal(0, math.sqrt(1 - icc), size=k * m)
    return x, [f"doc{i}" for i in range(k) for _ in range(m)]


def _cluster_mean_se(x: np.ndarray, m: int) -> float:
    """The textbook way for equal cluster sizes: analyse the cluster means as the units."""
    means = x.reshape(-1, m).mean(axis=1)
    return float(np.std(means, ddof=1) / math.sqrt(means.size))


# ------------------------------------------------------------------------------- 1. clusters


def test_clustered_outcomes_widen_the_interval_by_the_design_effect():
    k, m = 60, 5
    x, clusters = _clustered(k, m, icc=0.5, seed=3)
    plain, clustered = summarize(list(x), seed=1), summarize(list(x), seed=1, clusters=clusters)
    se_item = float(np.std(x, ddof=1) / math.sqrt(x.size))
    expected = (_cluster_mean_se(x, m) / se_item) ** 2  # independent computation
    assert clustered["ci_method"] == "cluster_bootstrap" and clustered["clusters"] == k
    assert clustered["design_effect"] == pytest.approx(expected, rel=1e-9)
    assert clustered["design_effect"] > 2  # 1 + (m - 1) * 0.5 = 3 in expectation
    width = clustered["ci_high"] - clustered["ci_low"]
    assert width == pytest.approx(2 * Z95 * _cluster_mean_se(x, m), rel=0.15)
    item_width = plain["ci_high"] - plain["ci_low"]
    assert width / item_width == pytest.approx(math.sqrt(expected), rel=0.15)
    # The item-level interval stays beside it, for comparison with other tools.
    assert (clustered["item_ci_low"], clustered["item_ci_high"]) == (
        plain["ci_low"],
        plain["ci_high"],
    )


def test_paired_differences_are_tested_by_cluster():
    k, m = 50, 4
    d, clusters = _clustered(k, m, icc=0.6, seed=5, mean=0.1)
    a = np.zeros_like(d)
    r = paired_test(a, d, seed=2, clusters=clusters)
    assert r["test"] == "cluster_bootstrap" and r["design_effect"] > 1
    assert r["se"] == pytest.approx(_cluster_mean_se(d, m), rel=1e-9)
    assert r["ci_high"] - r["ci_low"] == pytest.approx(2 * Z95 * r["se"], rel=0.15)
    item = r["item_level"]
    assert item["test"] == "paired_bootstrap"
    assert r["ci_high"] - r["ci_low"] > item["ci_high"] - item["ci_low"]


def test_clusters_of_one_keep_wilson_and_the_item_level_tests():
    x = [1.0] * 30 + [0.0] * 20
    assert summarize(x, clusters=[f"i{i}" for i in range(50)]) == summarize(x)
    y = [0.0] * 10 + [1.0] * 40
    assert paired_test(x, y, clusters=[f"i{i}" for i in range(50)]) == paired_test(x, y)


def test_correlated_binary_outcomes_get_a_wider_interval_than_wilson():
    rng = np.random.default_rng(0)
    p = np.repeat(rng.choice([0.1, 0.9], size=30), 6)
    x = (rng.random(p.size) < p).astype(float)
    clusters = [f"doc{i // 6}" for i in range(p.size)]
    s = summarize(list(x), clusters=clusters)
    assert s["ci_method"] == "cluster_wilson" and s["item_ci_method"] == "wilson"
    deff = (_cluster_mean_se(x, 6) / (np.std(x, ddof=1) / math.sqrt(x.size))) ** 2
    assert s["design_effect"] == pytest.approx(deff, rel=1e-9) and deff > 2
    # Wilson's score interval written out, over the effective number of items n / deff.
    n, p, z2 = x.size / deff, x.mean(), Z95**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    assert (s["ci_low"], s["ci_high"]) == pytest.approx((centre - half, centre + half))
    assert s["ci_high"] - s["ci_low"] > 1.3 * (s["item_ci_high"] - s["item_ci_low"])


# ---------------------------------------------------------------------------------- 2. power


def _exact_diffs(n: int, mean: float, sd: float, seed: int = 0) -> np.ndarray:
    """n paired differences with exactly this mean and sample sd."""
    z = np.random.default_rng(seed).normal(size=n)
    return mean + sd * (z - z.mean()) / z.std(ddof=1)


def _simulated_n(delta: float, sd: float, reps: int = 4000, seed: int = 7) -> int:
    """Smallest n at which a two-sided 0.05 test of the paired mean detects `delta` in 80% of
    simulated studies (bisection on n; the same random draws for every n)."""
    rng = np.random.default_rng(seed)

    def detects(n: int) -> float:
        d = rng.normal(delta, sd, size=(reps, n))
        z = d.mean(axis=1) / (d.std(axis=1, ddof=1) / math.sqrt(n))
        return float(np.mean(np.abs(z) > Z95))

    lo, hi = 2, 4096
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if detects(mid) < 0.8 else (lo, mid)
    return hi


def test_needed_items_agree_with_a_simulation():
    d = _exact_diffs(60, 0.05, 0.3)
    r = paired_test(np.zeros(60), d)
    pw = power(r["delta"], r["se"], r["n"])
    assert pw["mdd"] == pytest.approx((Z95 + Z80) * 0.3 / math.sqrt(60))
    assert pw["needed_n"] == pytest.approx(_simulated_n(0.05, 0.3), rel=0.10)


def test_power_edges_no_difference_and_no_spread():
    assert power(0.0, 0.1, 50)["needed_n"] is None  # nothing observed: no n detects it
    assert power(0.01, 0.0, 50, margin=0.02)["equivalent"] is True
    assert power(0.03, 0.0, 50, margin=0.02)["equivalent"] is False
    # 90% CI inside the margin <=> TOST p < 0.05
    inside = power(0.0, 0.02 / 1.6449, 50, margin=0.0201)
    outside = power(0.0, 0.02 / 1.6449, 50, margin=0.0199)
    assert inside["equivalent"] and not outside["equivalent"]


@pytest.mark.slow
def test_needed_items_give_80_percent_power_with_the_clustered_test():
    """Heavy: the real cluster bootstrap at the predicted n, 300 simulated studies."""
    m, icc, delta = 3, 0.4, 0.25
    # A large pilot pins the clustered standard error down; scaled to a 60-item study it gives
    # the estimate under test (a 60-item study's own estimate is too noisy to test against).
    d, clusters = _clustered(3000, m, icc, seed=11, mean=delta)
    se60 = paired_test(np.zeros_like(d), d, clusters=clusters)["se"] * math.sqrt(d.size / 60)
    needed_clusters = math.ceil(power(delta, se60, 60)["needed_n"] / m)
    rng = np.random.default_rng(1)
    hits = 0
    for rep in range(300):
        shared = rng.normal(0, math.sqrt(icc), size=needed_clusters)
        sim = delta + np.repeat(shared, m) + rng.normal(0, math.sqrt(1 - icc), shared.size * m)
        labels = [f"c{i}" for i in range(needed_clusters) for _ in range(m)]
        hits += paired_test(np.zeros_like(sim), sim, seed=rep, clusters=labels)["p_value"] < 0.05
    assert 0.7 <= hits / 300 <= 0.9


# ------------------------------------------------------------------ decisions on run folders


def _run(folder: Path, arms: dict[str, dict[str, list[float]]], decision: dict, **extra) -> dict:
    """A run folder: per arm, per metric, per-item scores (items in clusters of 3 documents)."""
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    runs = []
    for arm, metrics in arms.items():
        n = len(next(iter(metrics.values())))
        rows = [
            {
                "id": f"q{i}",
                "cluster": f"doc:{i // 3}",
                "scores": {name: {"value": v[i], "reason": ""} for name, v in metrics.items()},
            }
            for i in range(n)
        ]
        (folder / "samples" / f"t__{arm}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows)
        )
        runs.append(
            {
                "task": "t",
                "arm": arm,
                "kind": arm,
                "status": "ok",
                "metrics": {name: summarize(v) for name, v in metrics.items()},
                "efficiency": {"latency_p95_s": 1.0},
                "samples": f"samples/t__{arm}.jsonl",
                **extra.get(arm, {}),
            }
        )
    return {
        "suite": "s",
        "environment": {"seed": 1},
        "metric_definitions": {m: {"higher_is_better": True} for m in arms[next(iter(arms))]},
        "suite_spec": {"decision": decision},
        "tasks": {"t": {}},
        "runs": runs,
    }


def test_a_close_difference_on_many_items_is_equivalent_within_the_margin(tmp_path):
    base = list(np.clip(_exact_diffs(600, 0.5, 0.2, seed=1), 0.2, 0.8))
    rag = [v + e for v, e in zip(base, _exact_diffs(600, 0.001, 0.05, seed=2))]
    payload = _run(
        tmp_path,
        {"base": {"token_f1": base}, "rag": {"token_f1": rag}},
        {"equivalence_margin": 0.03},
    )
    (d,) = decide(Results.model_validate(payload), tmp_path)
    line = next(r for r in d.reasons if r.startswith("`base`"))
    assert "equivalent within 0.03" in line and "tie" not in " ".join(d.reasons)
    assert d.comparisons[0].power.equivalent is True


def test_a_difference_too_few_items_can_show_is_underpowered_with_the_items_needed(tmp_path):
    base = [0.5] * 60
    rag = list(0.5 + _exact_diffs(60, 0.03, 0.15, seed=4))
    payload = _run(
        tmp_path,
        {"base": {"token_f1": base}, "rag": {"token_f1": rag}},
        {"equivalence_margin": 0.01},
    )
    (d,) = decide(Results.model_validate(payload), tmp_path)
    text = " ".join(d.reasons)
    assert "not shown different and not shown equivalent: underpowered" in text
    needed = int(re.search(r"n≈(\d+)", text).group(1))
    c = d.comparisons[0]
    # The rows sit in clusters of 3: the estimate uses the clustered standard error.
    assert c.result.test == "cluster_bootstrap" and c.power.needed_n == needed
    simulated = _simulated_n(0.03, 0.15 * math.sqrt(c.result.design_effect))
    assert needed == pytest.approx(simulated, rel=0.10)
    assert "design effect" in text and "smallest difference detectable at 80% power" in text


FORGETTING = {
    "lora": {
        "changes_weights": True,
        "forgetting": {
            "probes": {
                "general_mc": {"value": 0.02, "ci_low": -0.01, "ci_high": 0.05, "n": 30},
                "short_answer": {"value": 0.10, "ci_low": 0.04, "ci_high": 0.16, "n": 30},
            },
            "mean": {"value": 0.06, "ci_low": 0.02, "ci_high": 0.09, "n": 60},
        },
    }
}


def test_an_arm_that_forgets_past_the_limit_is_excluded_with_the_reason(tmp_path):
    arms = {"base": {"token_f1": [0.2] * 30}, "lora": {"token_f1": [0.9] * 30}}
    (d,) = decide(Results.model_validate(_run(tmp_path, arms, {}, **FORGETTING)), tmp_path)
    assert d.recommended == "lora"
    (d,) = decide(
        Results.model_validate(_run(tmp_path, arms, {"max_forgetting": 0.05}, **FORGETTING)),
        tmp_path,
    )
    assert d.recommended == "base"
    assert any(
        "`lora` is excluded: forgetting on the mean over retention probes is 0.060 with upper "
        "95% bound 0.090 > decision.max_forgetting 0.05" in c
        for c in d.would_change
    )
    per_probe = {"max_forgetting": {"general_mc": 0.1, "short_answer": 0.1}}
    (d,) = decide(Results.model_validate(_run(tmp_path, arms, per_probe, **FORGETTING)), tmp_path)
    assert d.recommended == "base"
    assert any(
        "probe short_answer is 0.100 with upper 95% bound 0.160" in c for c in d.would_change
    )
    (d,) = decide(
        Results.model_validate(_run(tmp_path, arms, {"max_forgetting": 0.2}, **FORGETTING)),
        tmp_path,
    )
    assert d.recommended == "lora"


def test_the_decision_says_which_metrics_agree_and_why_one_does_not(tmp_path):
    rng = np.random.default_rng(3)
    n = 90
    base_f1 = list(np.clip(rng.normal(0.19, 0.15, n), 0, 1))
    rag_f1 = [min(1.0, v + 0.05 + e) for v, e in zip(base_f1, rng.normal(0, 0.02, n))]
    base_sim = list(0.61 + rng.normal(0, 0.02, n))
    rag_sim = [v - 0.005 + e for v, e in zip(base_sim, rng.normal(0, 0.03, n))]
    arms = {
        "base": {"token_f1": base_f1, "rouge_l": base_f1, "answer_similarity": base_sim},
        "rag": {"token_f1": rag_f1, "rouge_l": rag_f1, "answer_similarity": rag_sim},
    }
    payload = _run(tmp_path, arms, {"metric": "token_f1"})
    for r in payload["runs"]:
        r["efficiency"]["latency_p95_s"] = 2.0 if r["arm"] == "rag" else 1.0
    (d,) = decide(Results.model_validate(payload), tmp_path)
    text = " ".join(d.reasons)
    assert d.recommended == "rag" and d.robust_to_metric is False
    assert d.per_metric == {"token_f1": "rag", "rouge_l": "rag", "answer_similarity": "base"}
    assert "the verdict depends on the metric" in text
    assert "token_f1, rouge_l agree, answer_similarity does not" in text
    assert "answer_similarity favours `base` over `rag`" in text and "too narrow" in text


def test_a_significant_reversal_by_another_metric_withholds_the_recommendation(tmp_path):
    high, low = [0.9] * 45 + [0.1] * 15, [0.1] * 45 + [0.9] * 15
    arms = {
        "base": {"token_f1": low, "answer_similarity": high},
        "rag": {"token_f1": high, "answer_similarity": low},
    }
    (d,) = decide(Results.model_validate(_run(tmp_path, arms, {"metric": "token_f1"})), tmp_path)
    assert d.recommended is None
    assert "answer_similarity significantly reverses the verdict of token_f1" in d.reasons[0]
    assert "measures embedding similarity" in " ".join(d.reasons)


def test_a_verdict_every_metric_shares_says_so(tmp_path):
    arms = {
        "base": {"token_f1": [0.1] * 30, "rouge_l": [0.1] * 30},
        "rag": {"token_f1": [0.8] * 30, "rouge_l": [0.7] * 30},
    }
    (d,) = decide(Results.model_validate(_run(tmp_path, arms, {})), tmp_path)
    assert d.recommended == "rag" and d.robust_to_metric is True
    assert "holds under every quality metric (token_f1, rouge_l)" in d.reasons[-1]


def _add_clusters(run_dir: Path, size: int) -> Path:
    """Put every `size` consecutive items of a run folder's samples in one document."""
    for path in (run_dir / "samples").glob("*.jsonl"):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for row in rows:
            row["cluster"] = f"doc:{int(row['id'][1:]) // size}"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run_dir


def test_the_gate_tests_a_drop_by_cluster(tmp_path):
    """12 items lost, all in two documents: McNemar alone would fail the gate; resampling
    the documents finds the drop not significant, and says so."""
    from tests.test_gate import GOOD, invoke, make_run

    gates = [{"metric": "exact_match", "max_drop": 0.05}]
    base_dir = make_run(tmp_path / "base", {"few_shot": GOOD}, gates=gates)
    assert invoke("baseline", base_dir, "--name", "b", "--dir", tmp_path / "bl").exit_code == 0
    dropped = [0.0] * 12 + GOOD[12:]
    flat = make_run(tmp_path / "flat", {"few_shot": dropped}, gates=gates)
    r = invoke("gate", flat, "--baseline", tmp_path / "bl" / "b.json")
    assert r.exit_code == 1 and "mcnemar" in r.output
    clustered = _add_clusters(make_run(tmp_path / "docs", {"few_shot": dropped}, gates=gates), 6)
    r = invoke("gate", clustered, "--baseline", tmp_path / "bl" / "b.json")
    assert r.exit_code == 0, r.output
    assert "cluster_bootstrap" in r.output and "design effect" in r.output
