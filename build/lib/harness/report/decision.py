"""The fine-tune-or-RAG decision: recommend one arm per task, with measured reasons.

Arms that break a limit of the suite's `decision:` block (p95 latency, memory, false-answer rate)
are excluded. Among the rest the best on the decision metric wins, but any arm whose paired
difference from it is not significant (Holm-adjusted) is a tie; ties go to the arm that needs no
retraining when knowledge changes (if the suite says it changes often), then to the faster one.
"""

from __future__ import annotations

from pathlib import Path

from ..compare import adjust, item_scores, paired, primary_metric


def decide(payload: dict, run_dir: Path) -> list[dict]:
    spec = (payload.get("suite_spec") or {}).get("decision") or {}
    seed = payload["environment"].get("seed", 0)
    definitions = payload.get("metric_definitions", {})
    out = []
    for task in payload["tasks"]:
        runs = [r for r in payload["runs"] if r["task"] == task and r["status"] == "ok"]
        if not runs:
            out.append({"task": task, "recommended": None, "reasons": ["no arm finished"]})
            continue
        metric = spec.get("metric") or primary_metric(runs[0].get("metrics", {}))
        if metric is None:
            out.append(
                {"task": task, "recommended": None, "reasons": ["no accuracy metric to decide on"]}
            )
            continue
        hib = definitions.get(metric, {}).get("higher_is_better", True) is not False
        eligible, excluded = [], []
        for r in runs:
            why = _breaks_limit(r, spec)
            (excluded if why else eligible).append((r, why))
        if not eligible:
            out.append(
                {
                    "task": task,
                    "recommended": None,
                    "metric": metric,
                    "reasons": [
                        "every arm breaks a limit: "
                        + "; ".join(f"{r['arm']}: {w}" for r, w in excluded)
                    ],
                }
            )
            continue

        ranked = sorted(
            (r for r, _ in eligible), key=lambda r: _oriented(r, metric, hib), reverse=True
        )
        best = ranked[0]
        best_scores = item_scores(run_dir, best)
        comps = [
            c
            for r in ranked[1:]
            if (
                c := paired(
                    task,
                    metric,
                    best["arm"],
                    best_scores,
                    r["arm"],
                    item_scores(run_dir, r),
                    hib,
                    seed,
                )
            )
        ]
        adjust(comps)
        ties = [best] + [
            r for r in ranked[1:] for c in comps if c.b == r["arm"] and not c.significant
        ]
        pick = min(ties, key=lambda r: _tie_break(r, spec))
        reasons = [
            _fmt(best, metric)
            + f" is the best {metric}"
            + (" among arms within the limits" if excluded else "")
        ]
        if len(ties) > 1:
            others = ", ".join(_fmt(r, metric) for r in ties if r is not best)
            reasons.append(
                f"statistically tied with it (paired test, Holm-adjusted p ≥ 0.05): {others}"
            )
            if pick is not best:
                reasons.append(
                    f"among the tied arms `{pick['arm']}` is preferred: {_tie_reason(pick, spec)}"
                )
        beaten = [c for c in comps if c.significant]
        if beaten:
            reasons.append(
                "significantly better than "
                + ", ".join(
                    f"`{c.b}` (by {abs(c.result['delta']):.3f}, p={c.p_adjusted:.2g})"
                    for c in beaten
                )
            )
        changes = [
            f"`{r['arm']}` is excluded: {why}; relaxing that limit would let it compete"
            for r, why in excluded
        ]
        runner_up = next((r for r in ranked if r not in ties), None)
        if runner_up is not None:
            changes.append(
                f"`{runner_up['arm']}` would need {metric} above {_val(pick, metric):.3f} (now {_val(runner_up, metric):.3f}) to take over"
            )
        if not spec.get("knowledge_changes_often") and any(_retrains(r) for r in runs):
            changes.append(
                "if the knowledge changes often, set decision.knowledge_changes_often: retrieval arms need no retraining"
            )
        out.append(
            {
                "task": task,
                "recommended": pick["arm"],
                "metric": metric,
                "reasons": reasons,
                "would_change": changes,
            }
        )
    return out


def _oriented(r: dict, metric: str, higher_is_better: bool) -> float:
    """The metric turned so that larger is better; missing values rank last."""
    v = (r["metrics"].get(metric) or {}).get("value")
    return float("-inf") if v is None else (v if higher_is_better else -v)


def _breaks_limit(r: dict, spec: dict) -> str | None:
    eff = r.get("efficiency") or {}
    if (
        spec.get("max_latency_p95_s")
        and (eff.get("latency_p95_s") or 0) > spec["max_latency_p95_s"]
    ):
        return f"p95 latency {eff['latency_p95_s']:.2f} s > {spec['max_latency_p95_s']} s"
    if (
        spec.get("max_memory_bytes")
        and (eff.get("peak_memory_bytes") or 0) > spec["max_memory_bytes"]
    ):
        return f"peak memory {eff['peak_memory_bytes'] / 2**20:.0f} MiB > {spec['max_memory_bytes'] / 2**20:.0f} MiB"
    far = (r.get("metrics", {}).get("false_answer_rate") or {}).get("value")
    if (
        spec.get("max_false_answer_rate") is not None
        and far is not None
        and far > spec["max_false_answer_rate"]
    ):
        return f"false_answer_rate {far:.3f} > {spec['max_false_answer_rate']}"
    return None


def _retrains(r: dict) -> bool:
    return r["kind"] in ("lora", "full", "qlora")


def _tie_break(r: dict, spec: dict) -> tuple:
    latency = (r.get("efficiency") or {}).get("latency_p95_s") or float("inf")
    return (_retrains(r) if spec.get("knowledge_changes_often") else 0, latency)


def _tie_reason(r: dict, spec: dict) -> str:
    if spec.get("knowledge_changes_often") and not _retrains(r):
        return "it needs no retraining when the knowledge changes"
    return f"lower p95 latency ({(r.get('efficiency') or {}).get('latency_p95_s', 0):.2f} s)"


def _val(r: dict, metric: str) -> float:
    return (r["metrics"].get(metric) or {}).get("value") or 0.0


def _fmt(r: dict, metric: str) -> str:
    m = r["metrics"].get(metric) or {}
    return f"`{r['arm']}` ({m.get('value', 0):.3f} [{m.get('ci_low', 0):.2f}, {m.get('ci_high', 0):.2f}])"
