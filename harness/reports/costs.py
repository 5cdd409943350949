"""Cost at the stated volume: each arm's measured time and tokens priced by the suite's
`costs:` and `usage:` blocks (harness/spec/costs.py). Pure functions over the run records.

Per arm, from its record:
- one-off = (training seconds x training devices + index build seconds) / 3600 x hour price.
  The hour price is `gpu_hour` for a cell that ran on CUDA or MPS, else `cpu_hour`.
- per query = predict seconds / eval items / 3600 x hour price (in-process backends: the
  device time one item took at the run's batch size), or, for an endpoint model,
  (prompt tokens x input_per_million + generated tokens x output_per_million) / 1e6 per item.
- per knowledge update = what the knowledge-update drill measured absorbing one update took
  (its re-index, or its retraining with `retrain: true`; harness/run/knowledge_drills.py) where
  it ran for the arm, else the one-off work again: re-index (retrieval), retrain (fine-tuned).
- monthly = one-off / amortize_months + updates a month x per update + queries a month x per
  query.

Break-even of a fine-tuned arm F against a retrieval arm R, in queries a month (the volume at
which their monthly costs are equal; above it F is cheaper):

    Q* = ((one_off_F - one_off_R) / amortize_months
          + updates_per_month x (update_F - update_R)) / (per_query_R - per_query_F)

It exists only when F's queries are cheaper (per_query_R > per_query_F); Q* <= 0 means F is
cheaper at any volume. `payback_queries` = (one_off_F - one_off_R) / (per_query_R -
per_query_F) is the same without updates or amortisation: the queries after which F's training
has paid for itself.
"""

from __future__ import annotations

import copy
from pathlib import Path

from harness.reports.curve import is_curve_point
from harness.spec.config import apply_override, price_sheet_overrides
from harness.spec.costs import CostsSpec, UsageSpec
from harness.spec.record import Efficiency, Results, RunRecord
from harness.spec.record_costs import (
    ArmCost,
    BreakEven,
    BreakEvenInputs,
    CostSummary,
    TaskCosts,
)
from harness.spec.record_efficiency import RetrievalFigures, TrainingFigures

FORMULA = (
    "break-even queries/month = ((one-off F - one-off R) / amortize_months + "
    "updates/month x (update F - update R)) / (per-query R - per-query F), "
    "for a fine-tuned arm F against a retrieval arm R; above it F costs less a month"
)
GPU_DEVICES = ("cuda", "mps")


def prices(results: Results) -> tuple[CostsSpec, UsageSpec]:
    """The run's price sheet and usage (defaults for results written before they existed)."""
    return (
        CostsSpec.model_validate(results.section("costs")),
        UsageSpec.model_validate(results.section("usage")),
    )


def arm_cost(
    run: RunRecord, costs: CostsSpec, usage: UsageSpec, update_seconds: float | None = None
) -> ArmCost:
    """One arm's measured inputs and the costs they give at the stated usage; `update_seconds`:
    what absorbing a knowledge update took, when the update drill measured it."""
    eff = run.efficiency
    device = (run.environment.device or "cpu").split(":")[0]
    endpoint = run.backend is not None and run.backend.kind == "openai"
    hour = costs.gpu_hour if device in GPU_DEVICES else costs.cpu_hour
    training = eff.training or TrainingFigures()
    retrieval = eff.retrieval
    train_s = float(training.seconds or 0.0)
    train_devices = int(training.devices or training.processes or 1)
    index_s = float((retrieval or RetrievalFigures()).build_seconds or 0.0)
    items = eff.items or 0
    predict_s = _phase_seconds(eff, "predict")
    query_s = predict_s / items if predict_s is not None and items else None
    prompt_t, output_t = _tokens_per_query(eff)
    if endpoint:  # the server's tokens are what is billed; local time is the client's
        per_query = (
            (prompt_t or 0.0) * costs.input_per_million
            + (output_t or 0.0) * costs.output_per_million
        ) / 1e6
    else:
        per_query = (query_s or 0.0) * hour / 3600
    one_off = (train_s * train_devices + index_s) * hour / 3600
    if update_seconds is None:  # a knowledge update redoes the one-off work: retrain, re-index
        per_update = one_off
    else:  # measured: a retraining runs on as many devices as the training did
        per_update = update_seconds * (train_devices if run.changes_weights else 1) * hour / 3600
    return ArmCost(
        arm=run.arm,
        kind=run.kind,
        device="endpoint" if endpoint else ("gpu" if device in GPU_DEVICES else "cpu"),
        hour_price=hour,
        train_seconds=train_s,
        train_devices=train_devices,
        index_build_seconds=index_s,
        query_seconds=query_s,
        prompt_tokens_per_query=prompt_t,
        output_tokens_per_query=output_t,
        peak_memory_bytes=eff.peak_memory_bytes,
        changes_weights=run.changes_weights,
        retrieves=bool(retrieval),
        one_off=one_off,
        per_query=per_query,
        per_1k_queries=per_query * 1000,
        update_seconds=update_seconds,
        per_update=per_update,
        monthly=monthly(one_off, per_update, per_query, usage),
    )


def monthly(one_off: float, per_update: float, per_query: float, usage: UsageSpec) -> float:
    return (
        one_off / usage.amortize_months
        + usage.knowledge_updates_per_month * per_update
        + usage.queries_per_month * per_query
    )


def _phase_seconds(eff: Efficiency, phase: str) -> float | None:
    """Seconds of one phase (prepare, predict, retention); None when it was not timed."""
    return eff.phase_seconds(phase)


def _tokens_per_query(eff: Efficiency) -> tuple[float | None, float | None]:
    """Prompt and generated tokens per item: as the server billed them when it reported
    usage, else as counted here."""
    usage = eff.server_usage
    if usage is not None and usage.requests:
        n = usage.requests
        return usage.prompt_tokens / n, usage.completion_tokens / n
    items = eff.items or 0
    generated = eff.generated_tokens
    return eff.prompt_tokens_mean, (generated / items if items and generated else None)


def break_even(tuned: ArmCost, retrieval: ArmCost, usage: UsageSpec) -> BreakEven:
    """Queries a month at which fine-tuned `tuned` and retrieval arm `retrieval` cost the same,
    with every input of the formula (module docstring) so a reader can redo it."""
    saving = retrieval.per_query - tuned.per_query
    extra = (tuned.one_off - retrieval.one_off) / usage.amortize_months + (
        usage.knowledge_updates_per_month * (tuned.per_update - retrieval.per_update)
    )
    out = BreakEven(
        fine_tuned=tuned.arm,
        retrieval=retrieval.arm,
        inputs=BreakEvenInputs(
            one_off_fine_tuned=tuned.one_off,
            one_off_retrieval=retrieval.one_off,
            update_fine_tuned=tuned.per_update,
            update_retrieval=retrieval.per_update,
            per_query_fine_tuned=tuned.per_query,
            per_query_retrieval=retrieval.per_query,
            updates_per_month=usage.knowledge_updates_per_month,
            amortize_months=usage.amortize_months,
        ),
    )
    if saving <= 0:
        out.note = f"never: `{tuned.arm}`'s queries cost no less than `{retrieval.arm}`'s"
        return out
    gap = tuned.one_off - retrieval.one_off
    out.queries_per_month = max(extra / saving, 0.0)
    out.payback_queries = max(gap / saving, 0.0)
    return out


def task_costs(results: Results, task: str) -> dict[str, ArmCost]:
    """Per arm of a task's finished, deployable runs (reference rows and learning-curve points
    left out): its cost
    figures at the run's prices and usage (all zero when no price was given)."""
    costs, usage = prices(results)
    return {
        r.arm: arm_cost(r, costs, usage, measured_update_seconds(results, task, r.arm))
        for r in results.ok_runs(task)
        if r.role != "reference" and not is_curve_point(r)  # never deployed, never priced
    }


def measured_update_seconds(results: Results, task: str, arm: str) -> float | None:
    """Seconds the knowledge-update drill measured for `arm` absorbing the update: its re-index
    (or nothing, for an arm that reads the updated data as it is), or its retraining. None when
    the drill did not run for the arm, or kept its weights stale (that absorbs nothing)."""
    drills = (results.knowledge or {}).get(task)
    update = drills.update if drills is not None else None
    if update is None:
        return None
    measured = update.arms.get(f"{arm} (retrained)") or update.arms.get(arm)
    if measured is None or measured.mode == "stale" or measured.cost is None:
        return None
    return measured.cost.seconds


def task_break_evens(table: dict[str, ArmCost], usage: UsageSpec) -> list[BreakEven]:
    """Every fine-tuned arm against every arm that retrieves and changes no weights."""
    tuned = [c for c in table.values() if c.changes_weights]
    retrieval = [c for c in table.values() if c.retrieves and not c.changes_weights]
    return [break_even(f, r, usage) for f in tuned for r in retrieval]


def cost_summary(results: Results) -> CostSummary:
    """The `costs` block of results.json: prices, usage, the formula and per task every arm's
    inputs and outputs and every break-even."""
    costs, usage = prices(results)
    tasks = {}
    for task in results.tasks:
        table = task_costs(results, task)
        tasks[task] = TaskCosts(
            arms=list(table.values()), break_even=task_break_evens(table, usage)
        )
    return CostSummary(
        priced=costs.priced,
        prices=costs.model_dump(),
        usage=usage.model_dump(),
        formula=FORMULA,
        tasks=tasks,
    )


def reprice(results: Results, sheet: Path) -> Results:
    """A finished run's results with a price sheet's `costs:` and `usage:` applied key by key
    and its `costs` block recomputed (`adaptbench report RUN --costs prices.yaml`)."""
    spec = copy.deepcopy(results.suite_spec)
    for override in price_sheet_overrides(sheet):  # checked against the specs, file and line
        apply_override(spec, override)
    out = results.model_copy(update={"suite_spec": spec})
    out.costs = cost_summary(out)
    return out


# --------------------------------------------------------------------------------------------
# the verdict's tie-break: the cheaper of arms whose quality is not shown different


def money(value: float, currency: str) -> str:
    """An amount with as many digits as small amounts need."""
    if value == 0:
        return f"{currency} 0"
    exponent = int(f"{abs(value):e}".split("e")[1])  # 0.0138 -> -2: three significant digits
    digits = 2 if abs(value) >= 0.1 else 2 - exponent
    return f"{currency} {value:,.{min(digits, 8)}f}"


def usage_text(usage: UsageSpec) -> str:
    return (
        f"{usage.queries_per_month:,.0f} queries and {usage.knowledge_updates_per_month:g} "
        f"knowledge updates a month, one-off costs over {usage.amortize_months:g} months"
    )


def cheaper_reason(pick: str, tied: list[str], results: Results, task: str) -> str | None:
    """How much less `pick` costs a month than each other tied arm, when prices are given and
    it is the cheapest of them; None otherwise."""
    costs, usage = prices(results)
    table = task_costs(results, task)
    others = [table[a] for a in tied if a != pick and a in table]
    if not costs.priced or pick not in table or not others:
        return None
    mine = table[pick].monthly
    if any(o.monthly < mine for o in others):
        return None
    parts = []
    for o in sorted(others, key=lambda o: o.monthly):
        less = o.monthly - mine
        share = f", {less / o.monthly:.0%} less" if o.monthly > 0 else ""
        parts.append(f"{money(o.monthly, costs.currency)} for `{o.arm}`{share}")
    return (
        f"`{pick}` is the cheapest of the arms whose quality is not shown different, at "
        f"{usage_text(usage)}: {money(mine, costs.currency)} a month against " + "; ".join(parts)
    )


def cost_flips(pick: str, tied: list[str], results: Results, task: str) -> list[str]:
    """For each other tied arm: the query volume and the update rate at which it would cost
    less a month than `pick` (the rest of the stated usage held as it is)."""
    costs, usage = prices(results)
    table = task_costs(results, task)
    if not costs.priced or pick not in table:
        return []
    a = table[pick]
    out = []
    for b in (table[x] for x in tied if x != pick and x in table):
        if b.monthly < a.monthly:
            continue  # already cheaper: `pick` won on something else (knowledge changes often)
        fixed = (a.one_off - b.one_off) / usage.amortize_months
        per_q, per_u = a.per_query - b.per_query, a.per_update - b.per_update
        # monthly(a) - monthly(b) = fixed + U x per_u + Q x per_q; zero at the flip.
        flips = []
        q_star = _root(fixed + usage.knowledge_updates_per_month * per_u, per_q)
        if q_star is not None:
            side = "above" if per_q > 0 else "below"
            flips.append(f"{side} {q_star:,.0f} queries a month")
        u_star = _root(fixed + usage.queries_per_month * per_q, per_u)
        if u_star is not None:
            side = "above" if per_u > 0 else "below"
            flips.append(f"{side} {u_star:.3g} knowledge updates a month")
        if flips:
            out.append(f"`{b.arm}` would cost less than `{pick}` " + " or ".join(flips))
    return out


def _root(constant: float, slope: float) -> float | None:
    """x > 0 where constant + slope x = 0, else None."""
    if slope == 0:
        return None
    x = -constant / slope
    return x if x > 0 else None
