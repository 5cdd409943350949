"""The fine-tune-or-RAG decision: recommend one arm per task, with measured reasons.

Arms that break a limit of the suite's `decision:` block (p95 latency, memory, false-answer rate)
are excluded. Among the rest the best on the decision metric wins, but any arm whose paired
difference from it is not significant (Holm-adjusted) is a tie; ties go to the arm that needs no
retraining when knowledge changes (if the suite says it changes often), then to the faster one.

When arms ran under several prompt wordings (`prompt_variants`), the decision is taken once per
wording; it recommends an arm only when every wording recommends the same one, and otherwise
says that the verdict depends on wording. Reference rows (`oracle_context`, `retrieval_only`,
the task's ceiling) locate the bottleneck: retrieval or reading.
"""

from __future__ import annotations

from pathlib import Path

from harness.reports.compare import adjust, item_scores, paired
from harness.spec.record import (
    changes_weights,
    metric_value,
    ok_runs,
    primary_metric,
    runs_on,
)

# Rows that explain a result but cannot be deployed (they read the gold document): never
# recommended.
REFERENCE_KINDS = ("oracle_context",)


def decide(payload: dict, run_dir: Path) -> list[dict]:
    spec = (payload.get("suite_spec") or {}).get("decision") or {}
    out = []
    for task in payload["tasks"]:
        runs = ok_runs(payload["runs"], task)
        variants = list(dict.fromkeys(r["variant"] for r in runs if r.get("variant")))
        if not variants:
            verdict = _decide_task(payload, run_dir, task, runs, spec)
        else:
            verdict = _across_wordings(payload, run_dir, task, runs, spec, variants)
        verdict["bottleneck"] = bottleneck(payload, task, runs, verdict.get("metric"))
        out.append(verdict)
    return out


def _across_wordings(
    payload: dict, run_dir: Path, task: str, runs: list[dict], spec: dict, variants: list[str]
) -> dict:
    """One decision per wording (arms without variants take part in each); agree or say so."""
    per_wording = {}
    for v in variants:
        chosen = [r for r in runs if r.get("variant") in (None, v)]
        per_wording[v] = _decide_task(payload, run_dir, task, chosen, spec)
    families = {}
    for v, d in per_wording.items():
        rec = next((r for r in runs if r["arm"] == d["recommended"]), None)
        families[v] = rec.get("family", rec["arm"]) if rec else None
    first = per_wording[variants[0]]
    listing = ", ".join(f"{v} → `{f}`" if f else f"{v} → none" for v, f in families.items())
    if len(set(families.values())) == 1 and first["recommended"]:
        family = families[variants[0]]
        return first | {
            "recommended": family,
            "robust_to_wording": True,
            "reasons": [
                f"holds for every prompt wording ({len(variants)}: {', '.join(variants)})",
                *first["reasons"],
            ],
        }
    return {
        "task": task,
        "recommended": None,
        "metric": first.get("metric"),
        "robust_to_wording": False,
        "per_wording": families,
        "reasons": [
            f"the verdict depends on wording: {listing}; no arm is recommended. Read the spread "
            "across wordings, or fix the wording your application will use and rerun with it"
        ],
        "would_change": [],
    }


def bottleneck(payload: dict, task: str, runs: list[dict], metric: str | None) -> dict | None:
    """Where the RAG pipeline loses: retrieval (oracle_context - rag) or reading
    (ceiling - oracle_context), in points of the decision metric. Needs `rag` and
    `oracle_context` rows; `retrieval_only` and the ceiling are used when present."""
    if metric is None:
        return None
    by_kind: dict[str, dict] = {}
    for r in runs:
        by_kind.setdefault(r["kind"], r)  # the first cell of each kind (first wording/seed)
    rag, oracle = by_kind.get("rag"), by_kind.get("oracle_context")
    if rag is None or oracle is None:
        return None
    rag_v, oracle_v = metric_value(rag, metric), metric_value(oracle, metric)
    if rag_v is None or oracle_v is None:
        return None
    ceiling = (((payload["tasks"].get(task) or {}).get("ceiling") or {}).get("metrics") or {}).get(
        metric
    )
    ceiling_v = (ceiling or {}).get("value")
    top = ceiling_v if ceiling_v is not None else 1.0
    retrieval_loss, reading_loss = oracle_v - rag_v, top - oracle_v
    recall = metric_value(rag, "recall@k")
    where = "retrieval" if retrieval_loss > reading_loss else "reading"
    text = (
        f"retrieval loses {retrieval_loss:+.3f} {metric} (`oracle_context` {oracle_v:.3f} - "
        f"`rag` {rag_v:.3f}"
        + (f"; rag recall@k {recall:.2f}" if recall is not None else "")
        + f"); reading loses {reading_loss:+.3f} ("
        + ("ceiling" if ceiling_v is not None else "a perfect score")
        + f" {top:.3f} - `oracle_context` {oracle_v:.3f})"
    )
    ref = by_kind.get("retrieval_only")
    if ref is not None and metric_value(ref, metric) is not None:
        text += (
            f"; copying the top passage (`retrieval_only`) scores {metric_value(ref, metric):.3f}"
        )
    return {
        "bottleneck": where,
        "retrieval_loss": retrieval_loss,
        "reading_loss": reading_loss,
        "text": f"the bottleneck is {where}: {text}",
    }


def _decide_task(payload: dict, run_dir: Path, task: str, runs: list[dict], spec: dict) -> dict:
    seed = payload["environment"].get("seed", 0)
    definitions = payload.get("metric_definitions", {})
    runs = [r for r in runs if r["kind"] not in REFERENCE_KINDS]
    if not runs:
        return {"task": task, "recommended": None, "reasons": ["no arm finished"]}
    metric = spec.get("metric") or primary_metric(runs[0].get("metrics", {}))
    if metric is None:
        return {"task": task, "recommended": None, "reasons": ["no accuracy metric to decide on"]}
    hib = definitions.get(metric, {}).get("higher_is_better", True) is not False
    eligible, excluded = [], []
    for r in runs:
        why = _breaks_limit(r, spec)
        (excluded if why else eligible).append((r, why))
    if not eligible:
        return {
            "task": task,
            "recommended": None,
            "metric": metric,
            "reasons": [
                "every arm breaks a limit: " + "; ".join(f"{r['arm']}: {w}" for r, w in excluded)
            ],
        }

    ranked = sorted((r for r, _ in eligible), key=lambda r: _oriented(r, metric, hib), reverse=True)
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
    ties = [best] + [r for r in ranked[1:] for c in comps if c.b == r["arm"] and not c.significant]
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
    models = {runs_on(r) for r in runs}
    if len(models) > 1:  # a row is then a model and an arm together
        reasons.append(
            "the arms run on different models: "
            + ", ".join(f"`{r['arm']}` on {runs_on(r)}" for r in runs)
            + "; every arm was scored on the same items, so the paired tests hold"
        )
    beaten = [c for c in comps if c.significant]
    if beaten:
        reasons.append(
            "significantly better than "
            + ", ".join(
                f"`{c.b}` (by {abs(c.result['delta']):.3f}, p={c.p_adjusted:.2g})" for c in beaten
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
    if not spec.get("knowledge_changes_often") and any(changes_weights(r) for r in runs):
        changes.append(
            "if the knowledge changes often, set decision.knowledge_changes_often: retrieval arms need no retraining"
        )
    return {
        "task": task,
        "recommended": pick["arm"],
        "metric": metric,
        "reasons": reasons,
        "would_change": changes,
    }


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


def _tie_break(r: dict, spec: dict) -> tuple:
    latency = (r.get("efficiency") or {}).get("latency_p95_s") or float("inf")
    return (changes_weights(r) if spec.get("knowledge_changes_often") else 0, latency)


def _tie_reason(r: dict, spec: dict) -> str:
    if spec.get("knowledge_changes_often") and not changes_weights(r):
        return "it needs no retraining when the knowledge changes"
    return f"lower p95 latency ({(r.get('efficiency') or {}).get('latency_p95_s', 0):.2f} s)"


def _val(r: dict, metric: str) -> float:
    return (r["metrics"].get(metric) or {}).get("value") or 0.0


def _fmt(r: dict, metric: str) -> str:
    m = r["metrics"].get(metric) or {}
    return f"`{r['arm']}` ({m.get('value', 0):.3f} [{m.get('ci_low', 0):.2f}, {m.get('ci_high', 0):.2f}])"
