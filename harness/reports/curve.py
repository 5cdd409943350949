"""Learning curves: a trained arm's decision metric against the number of training items it saw
(`train_fractions`, harness/spec/curve.py), next to the flat lines of the arms that train nothing.

A curve is one trained cell (the 1.0 point) and its `@frac<f>` cells; with `seeds`, one curve per
seed. Pure functions over results.json; report.md shows a table (`curve_lines`), report.html a
plot (harness.reports.html).
"""

from __future__ import annotations

from harness.spec.curve import CURVE_MARK, is_curve_label
from harness.spec.record import MetricSummary, Results, RunRecord, direction, primary_metric
from harness.spec.record_costs import (
    CatchUp,
    Curve,
    CurvePoint,
    FlatLine,
    LearningCurve,
)


def is_curve_point(run: RunRecord) -> bool:
    """A cell that trained on a share of the split below 1 to draw a curve (never recommended)."""
    return is_curve_label(run.arm)


def decision_metric(results: Results, runs: list[RunRecord]) -> str | None:
    chosen = results.section("decision").get("metric")
    return chosen or primary_metric({n for r in runs for n in r.metrics})


def learning_curves(results: Results) -> list[LearningCurve]:
    """Per task with curve points: the metric, each curve's points (fraction, training items,
    value and CI) and the flat lines of the arms that train nothing."""
    out = []
    for task, info in results.tasks.items():
        runs = results.ok_runs(task)
        heads = list(dict.fromkeys(r.arm.split(CURVE_MARK)[0] for r in runs if is_curve_point(r)))
        metric = decision_metric(results, runs)
        if not heads or metric is None:
            continue
        split = info.splits.get("train")
        curves = [_curve(head, runs, metric, split) for head in heads]
        flat_runs = [
            r
            for r in runs
            if not r.changes_weights and not is_curve_point(r) and _value_of(r, metric) is not None
        ]
        flat = [_flat(r, metric) for r in flat_runs]
        # Reference rows (they read the gold document or generate nothing) are drawn, but are
        # never what fine-tuning must catch up with.
        pool = [f for r, f in zip(flat_runs, flat, strict=True) if r.role != "reference"]
        hib = direction(metric, results.metric_definitions, runs) is not False
        for c in curves:
            c.catches_up = _catches_up(c, pool, hib)
        out.append(LearningCurve(task=task, metric=metric, curves=curves, flat=flat))
    return out


def _curve(head: str, runs: list[RunRecord], metric: str, split: int | None) -> Curve:
    points = []
    for r in runs:
        if r.arm != head and r.arm.split(CURVE_MARK)[0] != head:
            continue
        if r.arm != head and not is_curve_point(r):
            continue
        fraction = float(r.spec.params.train_fraction or 1.0)
        items = r.efficiency.training.train_items if r.efficiency.training else None
        if items is None and split:
            items = max(1, round(fraction * split))
        m = _summary(r, metric)
        points.append(
            CurvePoint(
                arm=r.arm,
                fraction=fraction,
                train_items=items,
                value=m.value if m else None,
                ci_low=m.ci_low if m else None,
                ci_high=m.ci_high if m else None,
            )
        )
    points.sort(key=lambda p: p.fraction)
    return Curve(arm=head, points=points)


def _summary(run: RunRecord, metric: str) -> MetricSummary | None:
    return run.metrics.get(metric)


def _value_of(run: RunRecord, metric: str) -> float | None:
    m = _summary(run, metric)
    return m.value if m else None


def _flat(run: RunRecord, metric: str) -> FlatLine:
    m = run.metrics[metric]  # the arms drawn flat have a value
    return FlatLine(
        arm=run.arm,
        kind=run.kind,
        retrieves=run.efficiency.retrieval is not None,
        value=m.value,
        ci_low=m.ci_low,
        ci_high=m.ci_high,
    )


def _catches_up(curve: Curve, pool: list[FlatLine], higher_is_better: bool) -> CatchUp | None:
    """The fewest training items at which the curve reaches the best deployable retrieval arm
    (else the best deployable arm that trains nothing); None when there is nothing to reach."""
    target_pool = [f for f in pool if f.retrieves] or pool
    if not target_pool:
        return None
    sign = 1 if higher_is_better else -1
    target = max(target_pool, key=lambda f: sign * f.value)
    reached = [
        p for p in curve.points if p.value is not None and sign * p.value >= sign * target.value
    ]
    first = min(reached, key=lambda p: p.fraction) if reached else None
    return CatchUp(
        target=target.arm,
        target_value=target.value,
        train_items=first.train_items if first else None,
        fraction=first.fraction if first else None,
    )


def catch_up_text(curve: Curve, metric: str) -> str:
    c = curve.catches_up
    if not c:
        return f"`{curve.arm}`: no arm that trains nothing to compare with"
    most = max((p.train_items or 0 for p in curve.points), default=0)
    if c.train_items is None:
        return (
            f"`{curve.arm}` does not reach `{c.target}` ({metric} {c.target_value:.3f}) "
            f"within the {most} training items measured"
        )
    return (
        f"`{curve.arm}` reaches `{c.target}` ({metric} {c.target_value:.3f}) "
        f"from {c.train_items} training items (fraction {c.fraction:g}) of {most} measured"
    )


def curve_lines(results: Results) -> list[str]:
    """report.md: a table per task of each curve's points, the flat lines and the catch-up."""
    found = learning_curves(results)
    if not found:
        return []
    lines = [
        "",
        "## Learning curve (`train_fractions`)",
        "",
        "Each trained arm below also trained on nested shares of the train split (the same seed "
        "draws the same items; a smaller share is inside a larger one). Arms that train nothing "
        "do not depend on the number of training items: their value is a flat line.",
    ]
    for t in found:
        metric = t.metric
        lines += [
            "",
            f"| task | arm | fraction | training items | {metric} [95% CI] |",
            "|---|---|---|---|---|",
        ]
        for c in t.curves:
            for p in c.points:
                lines.append(
                    f"| {t.task} | `{p.arm}` | {p.fraction:g} | "
                    f"{p.train_items if p.train_items is not None else '–'} | {_value(p)} |"
                )
        for f in t.flat:
            lines.append(f"| {t.task} | `{f.arm}` (flat) | – | – | {_value(f)} |")
        lines += [""] + [f"- {catch_up_text(c, metric)}." for c in t.curves]
    return lines


def _value(p: CurvePoint | FlatLine) -> str:
    if p.value is None:
        return "–"
    ci = ""
    if p.ci_low is not None and p.ci_high is not None:
        ci = f" [{p.ci_low:.2f}, {p.ci_high:.2f}]"
    return f"{p.value:.3f}{ci}"
