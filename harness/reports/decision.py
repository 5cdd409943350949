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

from dataclasses import replace
from pathlib import Path

from harness.reports import knowledge_notes, label_notes
from harness.reports.compare import Comparison, adjust, item_clusters, item_scores, paired
from harness.reports.costs import cheaper_reason, cost_flips, prices, task_costs
from harness.reports.curve import is_curve_point
from harness.reports.formats import fmt_bytes
from harness.reports.judges import decision_note
from harness.reports.metric_agreement import across_metrics
from harness.reports.verdict import Bottleneck, Verdict, decision_spec
from harness.spec.config import DecisionSpec
from harness.spec.record import MetricSummary, Results, RunRecord, primary_metric
from harness.spec.record_costs import ArmCost


def decide(results: Results, run_dir: Path) -> list[Verdict]:
    # issue 25: knowledge_changes_often measured, when usage says
    spec, _measured = knowledge_notes.tie_break_spec(results, decision_spec(results))
    out = []
    for task in results.tasks:
        runs = results.ok_runs(task)
        variants = list(dict.fromkeys(r.variant for r in runs if r.variant))
        if not variants:
            verdict = _decide_every_metric(results, run_dir, task, runs, spec)
        else:
            verdict = _across_wordings(results, run_dir, task, runs, spec, variants)
        verdict.bottleneck = bottleneck(results, task, runs, verdict.metric)
        verdict = label_notes.annotate(results, run_dir, task, runs, verdict)  # issue 28
        verdict = knowledge_notes.annotate(results, task, verdict)  # issue 25
        out.append(verdict)
    return out


def _across_wordings(
    results: Results,
    run_dir: Path,
    task: str,
    runs: list[RunRecord],
    spec: DecisionSpec,
    variants: list[str],
) -> Verdict:
    """One decision per wording (arms without variants take part in each); agree or say so."""
    per_wording = {}
    for v in variants:
        chosen = [r for r in runs if r.variant in (None, v)]
        per_wording[v] = _decide_every_metric(results, run_dir, task, chosen, spec)
    families = {}
    for v, d in per_wording.items():
        rec = next((r for r in runs if r.arm == d.recommended), None)
        families[v] = rec.family if rec else None
    first = per_wording[variants[0]]
    listing = ", ".join(f"{v} → `{f}`" if f else f"{v} → none" for v, f in families.items())
    if len(set(families.values())) == 1 and first.recommended:
        family = families[variants[0]]
        return replace(
            first,
            recommended=family,
            robust_to_wording=True,
            reasons=[
                f"holds for every prompt wording ({len(variants)}: {', '.join(variants)})",
                *first.reasons,
            ],
        )
    return Verdict(
        task=task,
        recommended=None,
        metric=first.metric,
        robust_to_wording=False,
        per_wording=families,
        reasons=[
            f"the verdict depends on wording: {listing}; no arm is recommended. Read the spread "
            "across wordings, or fix the wording your application will use and rerun with it"
        ],
        would_change=[],
    )


def bottleneck(
    results: Results, task: str, runs: list[RunRecord], metric: str | None
) -> Bottleneck | None:
    """Where the RAG pipeline loses: retrieval (oracle_context - rag) or reading
    (ceiling - oracle_context), in points of the decision metric. Needs `rag` and
    `oracle_context` rows; `retrieval_only` and the ceiling are used when present. These are
    the arm kinds themselves (what each row reads), not their roles."""
    if metric is None:
        return None
    by_kind: dict[str, RunRecord] = {}
    for r in runs:
        by_kind.setdefault(r.kind, r)  # the first cell of each kind (first wording/seed)
    if "rag" not in by_kind or "oracle_context" not in by_kind:
        return None
    rag, oracle = by_kind["rag"], by_kind["oracle_context"]
    rag_v, oracle_v = rag.value(metric), oracle.value(metric)
    if rag_v is None or oracle_v is None:
        return None
    ceiling_v = _ceiling(results, task, metric)
    top = ceiling_v if ceiling_v is not None else 1.0
    retrieval_loss, reading_loss = oracle_v - rag_v, top - oracle_v
    recall = rag.value("recall@k")
    where = "retrieval" if retrieval_loss > reading_loss else "reading"
    text = (
        f"retrieval loses {retrieval_loss:+.3f} {metric} (`oracle_context` {oracle_v:.3f} - "
        f"`rag` {rag_v:.3f}"
        + (f"; rag recall@k {recall:.2f}" if recall is not None else "")
        + f"); reading loses {reading_loss:+.3f} ("
        + ("ceiling" if ceiling_v is not None else "a perfect score")
        + f" {top:.3f} - `oracle_context` {oracle_v:.3f})"
    )
    ref_v = by_kind["retrieval_only"].value(metric) if "retrieval_only" in by_kind else None
    if ref_v is not None:
        text += f"; copying the top passage (`retrieval_only`) scores {ref_v:.3f}"
    return Bottleneck(
        where=where,
        retrieval_loss=retrieval_loss,
        reading_loss=reading_loss,
        text=f"the bottleneck is {where}: {text}",
    )


def _ceiling(results: Results, task: str, metric: str) -> float | None:
    """What a perfect answer scores on the metric within the task's length limit, if generated."""
    info = results.tasks.get(task)
    ceiling = info.ceiling if info is not None else None
    scores = (ceiling.metrics if ceiling is not None else None) or {}
    return scores[metric].value if metric in scores else None


def _decide_every_metric(
    results: Results, run_dir: Path, task: str, runs: list[RunRecord], spec: DecisionSpec
) -> Verdict:
    """The decision on the decision metric, checked under each other quality metric."""

    def decide_on(runs: list[RunRecord], spec: DecisionSpec, metric: str) -> Verdict:
        return _decide_task(results, run_dir, task, runs, spec, metric)

    def scores_of(run: RunRecord) -> dict[str, dict[str, float]]:
        return item_scores(run_dir, run)

    verdict = _decide_task(results, run_dir, task, runs, spec)
    return across_metrics(verdict, runs, spec, decide_on, scores_of)


def _decide_task(
    results: Results,
    run_dir: Path,
    task: str,
    runs: list[RunRecord],
    spec: DecisionSpec,
    metric: str | None = None,
) -> Verdict:
    # Reference rows (oracle_context reads the gold document) cannot be deployed: never recommended.
    runs = [r for r in runs if r.role != "reference" and not is_curve_point(r)]
    if not runs:
        return Verdict(task=task, reasons=["no arm finished"])
    metric = metric or spec.metric or primary_metric(runs[0].metrics)
    if metric is None:
        return Verdict(task=task, reasons=["no accuracy metric to decide on"])
    definitions = results.metric_definitions
    hib = not (metric in definitions and definitions[metric].higher_is_better is False)
    eligible, excluded = [], []
    for r in runs:
        why = _breaks_limit(r, spec)
        (excluded if why else eligible).append((r, why))
    if not eligible:
        return Verdict(
            task=task,
            metric=metric,
            reasons=[
                "every arm breaks a limit: " + "; ".join(f"{r.arm}: {w}" for r, w in excluded)
            ],
        )

    ranked = sorted((r for r, _ in eligible), key=lambda r: _oriented(r, metric, hib), reverse=True)
    best = ranked[0]
    comps = _against_best(results, run_dir, task, metric, hib, ranked, spec)
    ties = [best] + [r for r in ranked[1:] for c in comps if c.b == r.arm and not c.significant]
    # Hook point: per-arm secondary preferences among arms not shown different (`_tie_break`).
    costs = task_costs(results, task) if prices(results)[0].priced else None
    pick = min(ties, key=lambda r: _tie_break(r, spec, costs))
    tied = [r.arm for r in ties]
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
            f"among the arms not shown different from the best, `{pick.arm}` is preferred: "
            f"{_tie_reason(pick, spec, costs)}" + _unsettled(comps)
        )
    cheaper = cheaper_reason(pick.arm, tied, results, task)
    if cheaper:
        reasons.append(cheaper)
    models = {r.runs_on() for r in runs}
    if len(models) > 1:  # a row is then a model and an arm together
        reasons.append(
            "the arms run on different models: "
            + ", ".join(f"`{r.arm}` on {r.runs_on()}" for r in runs)
            + "; every arm was scored on the same items, so the paired tests hold"
        )
    reasons += [
        f"significantly better than `{c.b}` (by {abs(c.result.delta):.3f}, {c.p_text()}; "
        f"{c.power_text()})"
        for c in comps
        if c.significant
    ]
    return Verdict(
        task=task,
        recommended=pick.arm,
        metric=metric,
        reasons=reasons,
        comparisons=comps,
        would_change=_would_change(runs, ranked, ties, excluded, pick, metric, spec)
        + cost_flips(pick.arm, tied, results, task),
    )


def _against_best(
    results: Results,
    run_dir: Path,
    task: str,
    metric: str,
    hib: bool,
    ranked: list[RunRecord],
    spec: DecisionSpec,
) -> list[Comparison]:
    """Paired comparisons of every other eligible arm with the best (clustered where items share
    a cluster), Holm-adjusted together, with the suite's equivalence margin."""
    seed = results.environment.seed or 0
    best = ranked[0]
    best_scores = item_scores(run_dir, best)
    clusters = item_clusters(run_dir, best)
    margin = spec.equivalence_margin
    comps = []
    for r in ranked[1:]:
        scores = item_scores(run_dir, r)
        c = paired(task, metric, best.arm, best_scores, r.arm, scores, hib, seed, clusters, margin)
        if c is not None:
            comps.append(c)
    return adjust(comps)


def _unsettled(comps: list[Comparison]) -> str:
    """A caveat when the preference falls among arms whose quality is not shown equivalent."""
    open_ = [f"`{c.b}`" for c in comps if not c.significant and not c.power.equivalent]
    if not open_:
        return ""
    return (
        f" (quality does not settle it: {', '.join(open_)} not shown equivalent to the best; "
        "more items could change the verdict)"
    )


def _not_different_lines(
    comps: list[Comparison], ranked: list[RunRecord], metric: str
) -> list[str]:
    """One line per arm not significantly different from the best: which kind of "not
    different" (equivalent within the margin, or underpowered) and what the items could show."""
    by_arm = {r.arm: r for r in ranked}
    lines = []
    for c in comps:
        if c.significant:
            continue
        r = c.result
        lines.append(
            f"{_fmt(by_arm[c.b], metric)} against it: {c.status} (delta {r.delta:+.3f}, 95% CI "
            f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}], {r.test} {c.p_text()} "
            f"Holm-adjusted; {c.power_text()})"
        )
    return lines


def _would_change(
    runs: list[RunRecord],
    ranked: list[RunRecord],
    ties: list[RunRecord],
    excluded: list[tuple[RunRecord, str]],
    pick: RunRecord,
    metric: str,
    spec: DecisionSpec,
) -> list[str]:
    changes = [
        f"`{r.arm}` is excluded: {why}; relaxing that limit would let it compete"
        for r, why in excluded
    ]
    runner_up = next((r for r in ranked if r not in ties), None)
    if runner_up is not None:
        changes.append(
            f"`{runner_up.arm}` would need {metric} above {_val(pick, metric):.3f} (now {_val(runner_up, metric):.3f}) to take over"
        )
    if not spec.knowledge_changes_often and any(r.changes_weights for r in runs):
        changes.append(
            "if the knowledge changes often, set decision.knowledge_changes_often: retrieval arms need no retraining"
        )
    return changes


def _oriented(r: RunRecord, metric: str, higher_is_better: bool) -> float:
    """The metric turned so that larger is better; missing values rank last."""
    v = r.value(metric)
    return float("-inf") if v is None else (v if higher_is_better else -v)


def _breaks_limit(r: RunRecord, spec: DecisionSpec) -> str | None:
    eff = r.efficiency
    most_latency, most_memory = spec.max_latency_p95_s, spec.max_memory_bytes
    if most_latency and (eff.latency_p95_s or 0) > most_latency:
        return f"p95 latency {eff.latency_p95_s:.2f} s > {most_latency} s"
    if most_memory and (eff.peak_memory_bytes or 0) > most_memory:
        return f"peak memory {fmt_bytes(eff.peak_memory_bytes)} > {fmt_bytes(most_memory)}"
    far, most_far = r.value("false_answer_rate"), spec.max_false_answer_rate
    if most_far is not None and far is not None and far > most_far:
        return f"false_answer_rate {far:.3f} > {most_far}"
    return _forgets_too_much(r, spec.max_forgetting)


def _forgets_too_much(r: RunRecord, limit: float | dict | None) -> str | None:
    """Why a weight-changing arm breaks `max_forgetting` (the upper 95% bound of its forgetting
    is above the limit, or forgetting was not measured so the limit cannot be checked)."""
    if limit is None or not r.changes_weights:
        return None
    limits = {"mean": limit} if isinstance(limit, (int, float)) else limit
    for probe, most in limits.items():
        overall = probe in ("mean", "overall")
        measured = _forgetting(r, None if overall else probe)
        where = "the mean over retention probes" if overall else f"probe {probe}"
        if measured is None or measured.ci_high is None:
            return (
                f"forgetting on {where} was not measured, so decision.max_forgetting ({most}) "
                "cannot be checked (add the probe under retention: probes)"
            )
        if measured.ci_high > most:
            return (
                f"forgetting on {where} is {measured.value:.3f} with upper 95% bound "
                f"{measured.ci_high:.3f} > decision.max_forgetting {most}"
            )
    return None


def _forgetting(r: RunRecord, probe: str | None) -> MetricSummary | None:
    """A run's forgetting on one retention probe, or the mean over them (probe None)."""
    f = r.forgetting
    if f is None:
        return None
    if probe is None:
        return f.mean
    return f.probes.get(probe)


def _tie_break(r: RunRecord, spec: DecisionSpec, costs: dict[str, ArmCost] | None = None) -> tuple:
    """Knowledge that changes often first, then (when prices are given) the monthly cost at
    the stated usage (harness.reports.costs), then p95 latency."""
    latency = r.efficiency.latency_p95_s or float("inf")
    cost = costs[r.arm] if costs and r.arm in costs else None
    monthly = (cost.monthly if cost else None) or 0.0
    return (r.changes_weights if spec.knowledge_changes_often else 0, monthly, latency)


def _tie_reason(r: RunRecord, spec: DecisionSpec, costs: dict | None = None) -> str:
    if spec.knowledge_changes_often and not r.changes_weights:
        return "it needs no retraining when the knowledge changes"
    if costs:
        return "it costs the least a month at the stated usage"
    return f"lower p95 latency ({r.efficiency.latency_p95_s or 0:.2f} s)"


def _val(r: RunRecord, metric: str) -> float:
    return r.value(metric) or 0.0


def _fmt(r: RunRecord, metric: str) -> str:
    m = r.metrics[metric] if metric in r.metrics else MetricSummary(value=0, ci_low=0, ci_high=0)
    return f"`{r.arm}` ({m.value:.3f} [{m.ci_low:.2f}, {m.ci_high:.2f}])"
