"""The fine-tune-or-RAG decision: recommend one arm per task, with measured reasons.

Arms that break a limit of the suite's `decision:` block (p95 latency, memory, false-answer rate,
forgetting) are excluded. Among the rest the best on the decision metric wins, but any arm whose
paired difference from it is not significant (Holm-adjusted; a cluster bootstrap where items
share a gold document) stays in the running, and the decision says which kind of "not
different" it is: "equivalent within" the suite's `equivalence_margin` (two one-sided tests), or
underpowered, with the smallest difference the items could detect and the items needed to detect
the observed one. Among those arms the preference goes to the arm that needs no retraining when
knowledge changes (if the suite says it changes often), then to the faster one (`_tie_break`).

The decision is also taken under each of the task's other quality metrics
(harness.reports.metric_agreement); when they disagree, the report says so and why.

When arms ran under several prompt wordings (`prompt_variants`), the decision is taken once per
wording; it recommends an arm only when every wording recommends the same one, and otherwise
says that the verdict depends on wording. Reference rows (`oracle_context`, `retrieval_only`,
the task's ceiling) locate the bottleneck: retrieval or reading.
"""

from __future__ import annotations

from pathlib import Path

from harness.reports import knowledge_notes, label_notes
from harness.reports.compare import Comparison, adjust, item_clusters, item_scores, paired
from harness.reports.costs import cheaper_reason, cost_flips, prices, task_costs
from harness.reports.curve import is_curve_point
from harness.reports.judges import decision_note
from harness.reports.metric_agreement import across_metrics
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
    spec = knowledge_notes.tie_break_spec(payload, spec)  # issue 25: measured, when usage says
    out = []
    for task in payload["tasks"]:
        runs = ok_runs(payload["runs"], task)
        variants = list(dict.fromkeys(r["variant"] for r in runs if r.get("variant")))
        if not variants:
            verdict = _decide_every_metric(payload, run_dir, task, runs, spec)
        else:
            verdict = _across_wordings(payload, run_dir, task, runs, spec, variants)
        verdict["bottleneck"] = bottleneck(payload, task, runs, verdict.get("metric"))
        verdict = label_notes.annotate(payload, run_dir, task, runs, verdict)  # issue 28
        verdict = knowledge_notes.annotate(payload, task, verdict)  # issue 25
        out.append(verdict)
    return out


def _across_wordings(
    payload: dict, run_dir: Path, task: str, runs: list[dict], spec: dict, variants: list[str]
) -> dict:
    """One decision per wording (arms without variants take part in each); agree or say so."""
    per_wording = {}
    for v in variants:
        chosen = [r for r in runs if r.get("variant") in (None, v)]
        per_wording[v] = _decide_every_metric(payload, run_dir, task, chosen, spec)
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


def _decide_every_metric(
    payload: dict, run_dir: Path, task: str, runs: list[dict], spec: dict
) -> dict:
    """The decision on the decision metric, checked under each other quality metric."""

    def decide_on(runs: list[dict], spec: dict, metric: str) -> dict:
        return _decide_task(payload, run_dir, task, runs, spec, metric)

    def scores_of(run: dict) -> dict[str, dict[str, float]]:
        return item_scores(run_dir, run)

    verdict = _decide_task(payload, run_dir, task, runs, spec)
    return across_metrics(verdict, runs, spec, decide_on, scores_of)


def _decide_task(
    payload: dict, run_dir: Path, task: str, runs: list[dict], spec: dict, metric: str | None = None
) -> dict:
    definitions = payload.get("metric_definitions", {})
    runs = [r for r in runs if r["kind"] not in REFERENCE_KINDS and not is_curve_point(r)]
    if not runs:
        return {"task": task, "recommended": None, "reasons": ["no arm finished"]}
    metric = metric or spec.get("metric") or primary_metric(runs[0].get("metrics", {}))
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
    comps = _against_best(payload, run_dir, task, metric, hib, ranked, spec)
    ties = [best] + [r for r in ranked[1:] for c in comps if c.b == r["arm"] and not c.significant]
    # Hook point: per-arm secondary preferences among arms not shown different (`_tie_break`).
    costs = task_costs(payload, task) if prices(payload)[0].priced else None
    pick = min(ties, key=lambda r: _tie_break(r, spec, costs))
    tied = [r["arm"] for r in ties]
    reasons = [
        _fmt(best, metric)
        + f" is the best {metric}"
        + (" among arms within the limits" if excluded else "")
    ]
    reasons += _not_different_lines(comps, ranked, metric)
    judged = decision_note(metric, runs, run_dir)  # reports.judges: which judge, how it agreed
    if judged:
        reasons.append(judged)
    if pick is not best:
        reasons.append(
            f"among the arms not shown different from the best, `{pick['arm']}` is preferred: "
            f"{_tie_reason(pick, spec, costs)}" + _unsettled(comps)
        )
    cheaper = cheaper_reason(pick["arm"], tied, payload, task)
    if cheaper:
        reasons.append(cheaper)
    models = {runs_on(r) for r in runs}
    if len(models) > 1:  # a row is then a model and an arm together
        reasons.append(
            "the arms run on different models: "
            + ", ".join(f"`{r['arm']}` on {runs_on(r)}" for r in runs)
            + "; every arm was scored on the same items, so the paired tests hold"
        )
    reasons += [
        f"significantly better than `{c.b}` (by {abs(c.result['delta']):.3f}, {c.p_text()}; "
        f"{c.power_text()})"
        for c in comps
        if c.significant
    ]
    return {
        "task": task,
        "recommended": pick["arm"],
        "metric": metric,
        "reasons": reasons,
        "comparisons": [c.as_dict() for c in comps],
        "would_change": _would_change(runs, ranked, ties, excluded, pick, metric, spec)
        + cost_flips(pick["arm"], tied, payload, task),
    }


def _against_best(
    payload: dict,
    run_dir: Path,
    task: str,
    metric: str,
    hib: bool,
    ranked: list[dict],
    spec: dict,
) -> list[Comparison]:
    """Paired comparisons of every other eligible arm with the best (clustered where items share
    a cluster), Holm-adjusted together, with the suite's equivalence margin."""
    seed = payload["environment"].get("seed", 0)
    best = ranked[0]
    best_scores = item_scores(run_dir, best)
    clusters = item_clusters(run_dir, best)
    margin = spec.get("equivalence_margin")
    comps = []
    for r in ranked[1:]:
        scores = item_scores(run_dir, r)
        c = paired(
            task, metric, best["arm"], best_scores, r["arm"], scores, hib, seed, clusters, margin
        )
        if c is not None:
            comps.append(c)
    return adjust(comps)


def _unsettled(comps: list[Comparison]) -> str:
    """A caveat when the preference falls among arms whose quality is not shown equivalent."""
    open_ = [f"`{c.b}`" for c in comps if not c.significant and not c.power.get("equivalent")]
    if not open_:
        return ""
    return (
        f" (quality does not settle it: {', '.join(open_)} not shown equivalent to the best; "
        "more items could change the verdict)"
    )


def _not_different_lines(comps: list[Comparison], ranked: list[dict], metric: str) -> list[str]:
    """One line per arm not significantly different from the best: which kind of "not
    different" (equivalent within the margin, or underpowered) and what the items could show."""
    by_arm = {r["arm"]: r for r in ranked}
    lines = []
    for c in comps:
        if c.significant:
            continue
        r = c.result
        lines.append(
            f"{_fmt(by_arm[c.b], metric)} against it: {c.status} (delta {r['delta']:+.3f}, 95% CI "
            f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}], {r['test']} {c.p_text()} "
            f"Holm-adjusted; {c.power_text()})"
        )
    return lines


def _would_change(
    runs: list[dict],
    ranked: list[dict],
    ties: list[dict],
    excluded: list[tuple[dict, str]],
    pick: dict,
    metric: str,
    spec: dict,
) -> list[str]:
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
    return changes


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
    return _forgets_too_much(r, spec.get("max_forgetting"))


def _forgets_too_much(r: dict, limit: float | dict | None) -> str | None:
    """Why a weight-changing arm breaks `max_forgetting` (the upper 95% bound of its forgetting
    is above the limit, or forgetting was not measured so the limit cannot be checked)."""
    if limit is None or not changes_weights(r):
        return None
    limits = {"mean": limit} if isinstance(limit, (int, float)) else limit
    forgetting = r.get("forgetting") or {}
    for probe, most in limits.items():
        overall = probe in ("mean", "overall")
        measured = forgetting.get("mean") if overall else forgetting.get("probes", {}).get(probe)
        where = "the mean over retention probes" if overall else f"probe {probe}"
        if not measured or measured.get("ci_high") is None:
            return (
                f"forgetting on {where} was not measured, so decision.max_forgetting ({most}) "
                "cannot be checked (add the probe under retention: probes)"
            )
        if measured["ci_high"] > most:
            return (
                f"forgetting on {where} is {measured['value']:.3f} with upper 95% bound "
                f"{measured['ci_high']:.3f} > decision.max_forgetting {most}"
            )
    return None


def _tie_break(r: dict, spec: dict, costs: dict | None = None) -> tuple:
    """Knowledge that changes often first, then (when prices are given) the monthly cost at
    the stated usage (harness.reports.costs), then p95 latency."""
    latency = (r.get("efficiency") or {}).get("latency_p95_s") or float("inf")
    monthly = ((costs or {}).get(r["arm"]) or {}).get("monthly") or 0.0
    return (changes_weights(r) if spec.get("knowledge_changes_often") else 0, monthly, latency)


def _tie_reason(r: dict, spec: dict, costs: dict | None = None) -> str:
    if spec.get("knowledge_changes_often") and not changes_weights(r):
        return "it needs no retraining when the knowledge changes"
    if costs:
        return "it costs the least a month at the stated usage"
    return f"lower p95 latency ({(r.get('efficiency') or {}).get('latency_p95_s', 0):.2f} s)"


def _val(r: dict, metric: str) -> float:
    return (r["metrics"].get(metric) or {}).get("value") or 0.0


def _fmt(r: dict, metric: str) -> str:
    m = r["metrics"].get(metric) or {}
    return f"`{r['arm']}` ({m.get('value', 0):.3f} [{m.get('ci_low', 0):.2f}, {m.get('ci_high', 0):.2f}])"
