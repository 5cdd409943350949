"""report.html: one self-contained page per run (tables, inline SVG plots, failing items).

The page opens offline: no JavaScript, no external fonts, stylesheets or images. Everything
that comes from results or model outputs goes through jinja2 autoescaping; the only raw
markup is the SVG that matplotlib writes here (its text is XML-escaped by matplotlib, and the
XML comments that would repeat labels are stripped).

Plots use matplotlib's object API (`matplotlib.figure.Figure`), which needs no pyplot and no
global backend switch, so importing this module changes nothing elsewhere.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import jinja2
from matplotlib import rc_context
from matplotlib.figure import Figure

from harness.reports.costs_view import cost_view
from harness.reports.curve import catch_up_text, learning_curves
from harness.reports.formats import DASH, fmt_bytes, fmt_count, fmt_float, fmt_seconds
from harness.reports.judges import COLUMNS as JUDGE_COLUMNS
from harness.reports.judges import judge_rows
from harness.reports.knowledge_notes import html_tables as knowledge_tables
from harness.reports.runfiles import load_samples
from harness.reports.verdict import Verdict
from harness.reports.view import ReportView
from harness.spec.record import (
    Efficiency,
    MetricDefinition,
    MetricSummary,
    Results,
    RunRecord,
    SpreadGroup,
    TaskInfo,
    direction,
    ok_runs,
    primary_metric,
)
from harness.spec.samples import SampleRow

# Lower is better for each: wrong answers, answers to unanswerable items, and answers (or, for
# paragraph answers, the share of their content) the retrieved passages do not support.
HALLUCINATION_METRICS = (
    "false_answer_rate",
    "unanswerable_answered",
    "unsupported_by_context",
    "unsupported_share",
)
FAILING_CAP = 50
PROMPT_TAIL_CHARS = 600
TEMPLATE_PATH = Path(__file__).parent / "templates" / "report.html.j2"
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")

_svg_ids = count(1)


# --------------------------------------------------------------------------------------------
# small formatters


def _fmt_gold(gold: Any) -> str:
    if gold is None:
        return DASH
    if isinstance(gold, list):
        return " | ".join(str(g) for g in gold) if gold else "(none: unanswerable)"
    return str(gold)


def _plot_label(text: str) -> str:
    """Arm names as matplotlib text: `$` would start mathtext, so escape it."""
    return str(text).replace("$", r"\$")


# --------------------------------------------------------------------------------------------
# reading the record


def _metric_names(runs: list[RunRecord]) -> list[str]:
    names: list[str] = []
    for r in runs:
        for name in r.metrics:
            if name not in names:
                names.append(name)
    return names


def _metric(run: RunRecord, name: str) -> MetricSummary | None:
    """The run's summary of a metric, if it has a value."""
    return run.metrics[name] if name in run.metrics and run.value(name) is not None else None


def _lookup(part: dict | None, *keys: str) -> Any:
    """A figure in a free-form part of the record (an arm's own efficiency keys, a phase),
    None where any level is missing."""
    for key in keys:
        part = (part or {}).get(key)
    return part


def _extra(e: Efficiency, key: str, figure: str) -> Any:
    """A figure an arm adds to its efficiency under its own key (`training`, `retrieval`)."""
    part = getattr(e, key)
    return getattr(part, figure, None) if part is not None else None


def _training_seconds(run: RunRecord) -> float | None:
    seconds = _extra(run.efficiency, "training", "seconds")
    return float(seconds) if isinstance(seconds, (int, float)) else None


def _base_run(runs: list[RunRecord]) -> RunRecord | None:
    return next((r for r in runs if r.role == "baseline"), None)


def _forgetting(run: RunRecord) -> tuple[float, float | None, float | None] | None:
    """(value, ci_low, ci_high) of the mean forgetting over the retention probes."""
    mean = run.forgetting.mean if run.forgetting else None
    if mean is None or mean.value is None:
        return None
    return float(mean.value), mean.ci_low, mean.ci_high


# --------------------------------------------------------------------------------------------
# tables


def _best_arms(runs: list[RunRecord], name: str, higher_is_better: bool | None) -> set[str]:
    if higher_is_better is None:
        return set()
    values = {r.arm: m.value for r in ok_runs(runs) if (m := _metric(r, name))}
    if len(values) < 2:
        return set()
    best = max(values.values()) if higher_is_better else min(values.values())
    if all(math.isclose(v, best, abs_tol=1e-12) for v in values.values()):
        return set()  # all tied: nobody is best
    return {arm for arm, v in values.items() if math.isclose(v, best, abs_tol=1e-12)}


def _metric_table(runs: list[RunRecord], definitions: dict[str, MetricDefinition]) -> dict:
    names = _metric_names(runs)
    arrows = {True: "↑", False: "↓", None: ""}
    directions = {n: direction(n, definitions, runs) for n in names}
    best = {n: _best_arms(runs, n, directions[n]) for n in names}
    columns = [
        {
            "name": n,
            "label": n.replace("_", "_\u200b"),  # zero-width space: long names may wrap
            "arrow": arrows[directions[n]],
            "description": definitions[n].description if n in definitions else "",
        }
        for n in names
    ]
    rows = []
    for r in runs:
        cells = []
        for n in names:
            m = _metric(r, n)
            if m is None:
                cells.append({"value": DASH, "ci": "", "n": "", "best": False})
                continue
            lo, hi = m.ci_low, m.ci_high
            ci = f"[{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""
            cells.append(
                {
                    "value": f"{m.value:.3f}",
                    "ci": ci,
                    "n": f"n={m.n}",
                    "best": r.arm in best[n],
                }
            )
        rows.append(
            {
                "arm": r.arm,
                "kind": r.kind,
                "status": r.status_label(),
                "ok": r.ok,
                "reason": r.reason or "",
                "cells": cells,
            }
        )
    return {"columns": columns, "rows": rows}


def _memory(r: RunRecord) -> str:
    e = r.efficiency
    text = fmt_bytes(e.peak_memory_bytes)
    return f"{text} ({e.memory_kind})" if text != DASH and e.memory_kind else text


def _params(r: RunRecord) -> str:
    e = r.efficiency
    if e.params_total is None:
        return DASH
    return f"{fmt_count(e.params_total)} / {fmt_count(e.params_trainable or 0)}"


# Per column: its heading and how a run's cell reads.
EFFICIENCY_COLUMNS: list[tuple[str, Callable[[RunRecord], str]]] = [
    ("gen tokens/s", lambda r: fmt_float(r.efficiency.tokens_per_s, 1)),
    ("latency p50", lambda r: fmt_seconds(r.efficiency.latency_p50_s)),
    ("latency p95", lambda r: fmt_seconds(r.efficiency.latency_p95_s)),
    ("retrieval p50", lambda r: fmt_seconds(r.efficiency.retrieval_latency_p50_s)),
    ("retrieval p95", lambda r: fmt_seconds(r.efficiency.retrieval_latency_p95_s)),
    ("peak memory", _memory),
    ("params total / trainable", _params),
    ("server tokens in / out per request", lambda r: r.server_tokens() or DASH),
    ("index size", lambda r: fmt_bytes(_extra(r.efficiency, "retrieval", "index_bytes"))),
    ("index build", lambda r: fmt_seconds(_extra(r.efficiency, "retrieval", "build_seconds"))),
    ("training time", lambda r: fmt_seconds(_extra(r.efficiency, "training", "seconds"))),
    (
        "training tokens/s",
        lambda r: fmt_float(_extra(r.efficiency, "training", "tokens_per_s"), 1),
    ),
    ("prepare", lambda r: fmt_seconds(r.efficiency.phase_seconds("prepare"))),
    ("predict", lambda r: fmt_seconds(r.efficiency.phase_seconds("predict"))),
]


def _efficiency_table(runs: list[RunRecord]) -> dict:
    """Arms x efficiency columns; columns empty for every arm are left out."""
    grid = [[fmt(r) for _, fmt in EFFICIENCY_COLUMNS] for r in runs]
    keep = [i for i in range(len(EFFICIENCY_COLUMNS)) if any(row[i] != DASH for row in grid)]
    return {
        "columns": ["runs on"] + [EFFICIENCY_COLUMNS[i][0] for i in keep],
        "rows": [
            {"arm": r.arm, "cells": [r.runs_on()] + [row[i] for i in keep]}
            for r, row in zip(runs, grid)
        ],
    }


# --------------------------------------------------------------------------------------------
# plots


@dataclass
class Plot:
    title: str
    caption: str
    svg: str | None = None
    note: str = ""


@dataclass
class Point:
    arm: str
    x: float
    y: float
    y_low: float | None = None
    y_high: float | None = None
    color: str = COLORS[0]
    extra: dict = field(default_factory=dict)
    shown_x: float | None = None  # x as drawn (arms with identical x are spread apart a little)


def _new_figure(width: float = 6.4, height: float = 4.2) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _to_svg(fig: Figure) -> str:
    """Inline SVG: no XML prolog, no comments, ids made unique within the page."""
    buf = io.StringIO()
    with rc_context({"svg.fonttype": "path", "svg.hashsalt": "adaptbench"}):
        fig.savefig(
            buf,
            format="svg",
            metadata={"Creator": None, "Date": None, "Format": None, "Type": None},
        )
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.DOTALL)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    prefix = f"ab{next(_svg_ids)}-"
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(
        r"(href=\"#|url\(#)([^\")]+)",
        lambda m: m.group(1) + (prefix + m.group(2) if m.group(2) in ids else m.group(2)),
        svg,
    )
    # let CSS size the plot to the column while keeping the aspect ratio
    svg = re.sub(r'^<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", svg, count=1)
    return svg.replace("<svg", '<svg class="plot" role="img"', 1)


def _axis_fraction(value: float, low: float, high: float, log: bool) -> float:
    if log:
        value, low, high = math.log10(value), math.log10(low), math.log10(high)
    return 0.5 if high == low else (value - low) / (high - low)


def _limits(values: list[float], log: bool, pad: float = 0.08) -> tuple[float, float]:
    low, high = min(values), max(values)
    if log:
        span = math.log10(high) - math.log10(low) or 1.0
        return low / 10 ** (span * pad), high * 10 ** (span * pad)
    if high == low:
        width = abs(high) * 0.5 or 1.0
        return low - width, high + width
    span = high - low
    return low - span * pad, high + span * pad


def _dodge(points: list[Point], x_lim: tuple[float, float], x_log: bool) -> None:
    """Spread points that share an x by a few percent of the axis so their CIs stay visible."""
    step = 0.035
    groups: dict[float, list[Point]] = {}
    for p in points:
        groups.setdefault(p.x, []).append(p)
    for x, group in groups.items():
        for i, p in enumerate(group):
            offset = (i - (len(group) - 1) / 2) * step
            if x_log:
                span = math.log10(x_lim[1]) - math.log10(x_lim[0])
                p.shown_x = x * 10 ** (offset * span)
            else:
                p.shown_x = x + offset * (x_lim[1] - x_lim[0])


def _scatter(
    ax,
    points: list[Point],
    x_log: bool = False,
    y_bounds: tuple[float, float] | None = None,
    include_origin: bool = False,
) -> None:
    """Points with CI error bars and arm labels nudged apart so they do not overlap.

    `y_bounds` clips the y range (e.g. (0, 1) for rates) so padding never shows impossible values;
    `include_origin` keeps x = 0 and y = 0 in view (the reference lines of a gain plot).
    """
    xs = [p.x for p in points] + ([0.0] if include_origin else [])
    y_values = [v for p in points for v in (p.y, p.y_low, p.y_high) if v is not None]
    y_values += [0.0] if include_origin else []
    x_lim = _limits(xs, x_log, pad=0.12)
    y_lim = _limits(y_values, False, pad=0.12)
    if y_bounds is not None:
        margin = 0.04 * (y_bounds[1] - y_bounds[0])
        y_lim = (max(y_lim[0], y_bounds[0] - margin), min(y_lim[1], y_bounds[1] + margin))
    if x_log:
        ax.set_xscale("log")
    ax.set_xlim(*x_lim)
    ax.set_ylim(*y_lim)
    _dodge(points, x_lim, x_log)
    for p in points:
        yerr = None
        if p.y_low is not None and p.y_high is not None:
            yerr = [[max(p.y - p.y_low, 0.0)], [max(p.y_high - p.y, 0.0)]]
        ax.errorbar(
            [p.shown_x], [p.y], yerr=yerr, fmt="o", color=p.color, capsize=4, markersize=7, zorder=3
        )
    _label_points(ax, points, x_lim, y_lim, x_log)
    ax.grid(True, alpha=0.3)


def _label_points(
    ax, points: list[Point], x_lim: tuple[float, float], y_lim: tuple[float, float], x_log: bool
) -> None:
    gap = 0.075

    def fraction(p: Point) -> float:
        return _axis_fraction(p.x if p.shown_x is None else p.shown_x, *x_lim, x_log)

    # labels of points spread apart by _dodge start beside the whole group, not on a neighbour
    group_edges: dict[float, tuple[float, float]] = {}
    for p in points:
        low, high = group_edges.get(p.x, (fraction(p), fraction(p)))
        group_edges[p.x] = (min(low, fraction(p)), max(high, fraction(p)))
    placed: list[tuple[float, float]] = []
    order = sorted(points, key=lambda p: (p.y, p.x))
    for p in order:
        x = p.x if p.shown_x is None else p.shown_x
        fx = fraction(p)
        fy = _axis_fraction(p.y, *y_lim, False)
        ty = fy
        for _ in range(len(placed) + 1):
            clash = [py for px, py in placed if abs(px - fx) < 0.35 and abs(py - ty) < gap]
            if not clash:
                break
            ty = max(clash) + gap
        placed.append((fx, ty))
        right = fx < 0.62
        left_edge, right_edge = group_edges[p.x]
        tx = right_edge + 0.03 if right else left_edge - 0.03
        ax.annotate(
            _plot_label(p.arm),
            xy=(x, p.y),
            xytext=(tx, ty),
            textcoords="axes fraction",
            ha="left" if right else "right",
            va="center",
            fontsize=9,
            color=p.color,
            arrowprops={"arrowstyle": "-", "color": "#999", "lw": 0.6}
            if abs(ty - fy) > 0.01 or abs(tx - fx) > 0.045
            else None,
            zorder=4,
        )


def _accuracy_points(runs: list[RunRecord], primary: str, colors: dict[str, str]) -> list[Point]:
    points = []
    for r in ok_runs(runs):
        m = _metric(r, primary)
        if m is not None:
            points.append(
                Point(r.arm, 0.0, m.value, m.ci_low, m.ci_high, colors[r.arm], {"run": r})
            )
    return points


def _plot_training_cost(runs: list[RunRecord], primary: str | None, colors: dict[str, str]) -> Plot:
    title = f"{primary or 'accuracy'} vs training cost"
    caption = "Good: top-left (accurate without paying for training)."
    if primary is None:
        return Plot(
            title,
            caption,
            note="No accuracy metric (exact_match, choice_accuracy, token_f1) in this task.",
        )
    points = _accuracy_points(runs, primary, colors)
    if not points:
        return Plot(title, caption, note="No finished arm to plot.")
    trains = any(_training_seconds(p.extra["run"]) is not None for p in points)
    note = ""
    if trains:
        for p in points:
            p.x = _training_seconds(p.extra["run"]) or 0.0
        x_label = "training time (s; 0 = no training)"
    else:
        for p in points:
            p.x = float(p.extra["run"].efficiency.params_trainable or 0)
        x_label = "trainable parameters"
        note = "No arm trains in this run: x is the number of trainable parameters."
    fig = _new_figure()
    ax = fig.add_subplot()
    _scatter(ax, points, y_bounds=(0.0, 1.0))
    distinct = sorted({p.x for p in points})
    if len(distinct) <= 3:  # e.g. every arm at 0 trainable parameters: no fractional ticks
        ax.set_xticks(distinct, [fmt_count(x) if not trains else f"{x:g}" for x in distinct])
    ax.set_title(title)
    ax.set_xlabel(x_label)
    ax.set_ylabel(f"{primary} (95% CI)")
    return Plot(title, caption, _to_svg(fig), note)


def _pareto(points: list[Point]) -> list[Point]:
    """Arms no other arm beats on both accuracy (higher) and latency (lower)."""

    def dominated(p: Point) -> bool:
        return any(
            q is not p and q.y >= p.y and q.x <= p.x and (q.y > p.y or q.x < p.x) for q in points
        )

    return sorted((p for p in points if not dominated(p)), key=lambda p: p.x)


def _plot_latency(runs: list[RunRecord], primary: str | None, colors: dict[str, str]) -> Plot:
    title = f"{primary or 'accuracy'} vs latency p95"
    caption = (
        "Good: top-left (accurate and fast). The dashed line joins the Pareto frontier: "
        "arms no other arm beats on both."
    )
    if primary is None:
        return Plot(title, caption, note="No accuracy metric in this task.")
    points = []
    for p in _accuracy_points(runs, primary, colors):
        latency = p.extra["run"].efficiency.latency_p95_s
        if isinstance(latency, (int, float)):
            p.x = float(latency)
            points.append(p)
    if not points:
        return Plot(title, caption, note="No finished arm with a latency to plot.")
    xs = [p.x for p in points]
    x_log = min(xs) > 0 and max(xs) / min(xs) > 20
    fig = _new_figure()
    ax = fig.add_subplot()
    _scatter(ax, points, x_log=x_log, y_bounds=(0.0, 1.0))
    frontier = _pareto(points)
    ax.plot(
        [p.shown_x for p in frontier],
        [p.y for p in frontier],
        linestyle="--",
        color="#444",
        linewidth=1.2,
        marker="o",
        markersize=13,
        markerfacecolor="none",
        markeredgecolor="#444",
        label="Pareto frontier",
        zorder=2,
    )
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title)
    ax.set_xlabel("latency p95 per item (s" + (", log scale)" if x_log else ")"))
    ax.set_ylabel(f"{primary} (95% CI)")
    return Plot(title, caption, _to_svg(fig))


def _plot_forgetting(runs: list[RunRecord], primary: str | None, colors: dict[str, str]) -> Plot:
    title = "forgetting vs gain"
    caption = "Good: bottom-right (large gain over the base arm, little forgetting)."
    ok = ok_runs(runs)
    forgetting = {r.arm: f for r in ok if (f := _forgetting(r)) is not None}
    if not forgetting:
        return Plot(
            title,
            caption,
            note="No arm in this task measured forgetting (only fine-tuning arms with "
            "forgetting probes do), so there is nothing to plot.",
        )
    if primary is None:
        return Plot(title, caption, note="No accuracy metric in this task, so no gain.")
    base = _base_run(ok)
    base_metric = _metric(base, primary) if base else None
    points = []
    for r in ok:
        m = _metric(r, primary)
        if m is None or r.arm not in forgetting:
            continue
        value, low, high = forgetting[r.arm]
        x = m.value - base_metric.value if base_metric else m.value
        points.append(Point(r.arm, x, value, low, high, colors[r.arm]))
    if not points:
        return Plot(title, caption, note="No arm has both forgetting and accuracy.")
    fig = _new_figure()
    ax = fig.add_subplot()
    _scatter(ax, points, include_origin=True)
    if base and base_metric:
        ax.axvline(0, color="#888", linewidth=0.8)
        x_label = f"gain in {primary} over base arm '{_plot_label(base.arm)}'"
        note = ""
    else:
        x_label = primary
        note = "No base arm in this task: x is the accuracy itself, not a gain."
    ax.axhline(0, color="#888", linewidth=0.8)
    ax.set_title(title)
    ax.set_xlabel(x_label)
    ax.set_ylabel("forgetting (mean over probes, 95% CI)")
    return Plot(title, caption, _to_svg(fig), note)


def _plot_hallucination(runs: list[RunRecord], colors: dict[str, str]) -> Plot:
    title = "hallucination per arm"
    caption = "Good: short bars (lower is better for every bar); whiskers are 95% CIs."
    ok = ok_runs(runs)
    metrics = [n for n in HALLUCINATION_METRICS if any(_metric(r, n) for r in ok)]
    if not metrics:
        return Plot(title, caption, note="No hallucination metric in this task.")
    width = 0.8 / len(metrics)
    fig = _new_figure(width=max(6.4, 1.1 * len(ok) + 2.5))
    ax = fig.add_subplot()
    for j, name in enumerate(metrics):
        xs, ys, errs_low, errs_high = [], [], [], []
        for i, r in enumerate(ok):
            m = _metric(r, name)
            if m is None:
                continue
            lo = m.ci_low if m.ci_low is not None else m.value
            hi = m.ci_high if m.ci_high is not None else m.value
            xs.append(i - 0.4 + width * (j + 0.5))
            ys.append(m.value)
            errs_low.append(max(m.value - lo, 0.0))
            errs_high.append(max(hi - m.value, 0.0))
        ax.bar(
            xs,
            ys,
            width=width * 0.92,
            yerr=[errs_low, errs_high],
            capsize=3,
            color=COLORS[(j + 3) % len(COLORS)],
            label=name,
            error_kw={"elinewidth": 1, "ecolor": "#333"},
        )
    ax.set_xticks(range(len(ok)))
    ax.set_xticklabels(
        [_plot_label(r.arm) for r in ok],
        rotation=20 if len(ok) > 3 else 0,
        ha="right" if len(ok) > 3 else "center",
    )
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("rate (95% CI)")
    ax.set_xlabel("arm")
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    fig.legend(loc="outside lower center", ncol=len(metrics), fontsize=8, frameon=False)
    return Plot(title, caption, _to_svg(fig))


def _plot_learning_curves(results: Results, task: str, colors: dict[str, str]) -> list[Plot]:
    """The decision metric against training items for each `train_fractions` curve
    (harness.reports.curve), arms that train nothing as flat dashed lines; none without curves."""
    found = next((t for t in learning_curves(results) if t.task == task), None)
    if found is None:
        return []
    metric = found.metric
    title = f"{metric} vs training items"
    caption = (
        "Learning curve: each trained arm on nested shares of the train split (95% CIs); dashed "
        "lines are arms that train nothing. Where a curve crosses a line, fine-tuning caught up."
    )
    fig = _new_figure()
    ax = fig.add_subplot()
    for c in found.curves:
        pts = [p for p in c.points if p.value is not None and p.train_items]
        if not pts:
            continue
        color = colors.get(c.arm, COLORS[0])
        low = [max(p.value - (p.ci_low if p.ci_low is not None else p.value), 0) for p in pts]
        high = [max((p.ci_high if p.ci_high is not None else p.value) - p.value, 0) for p in pts]
        ax.errorbar(
            [p.train_items for p in pts],
            [p.value for p in pts],
            yerr=[low, high],
            fmt="o-",
            color=color,
            capsize=4,
            label=_plot_label(c.arm),
        )
    for f in found.flat:
        ax.axhline(
            f.value,
            ls="--",
            lw=1,
            color=colors.get(f.arm, "#777"),
            label=_plot_label(f.arm),
        )
    ax.set_xlabel("training items")
    ax.set_ylabel(f"{metric} (95% CI)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    note = "; ".join(catch_up_text(c, metric) for c in found.curves).replace("`", "") + "."
    return [Plot(title, caption, _to_svg(fig), note)]


# --------------------------------------------------------------------------------------------
# failing items


def _item_view(row: SampleRow) -> dict:
    prompt = row.prompt or ""
    tail = prompt[-PROMPT_TAIL_CHARS:]
    output = row.output
    if output is None and row.choice is not None:
        output = f"choice {row.choice}"
    reasons = [
        {"metric": name, "value": fmt_float(s.value, 3), "reason": s.reason or ""}
        for name, s in row.scores.items()
    ]
    return {
        "id": row.id,
        "answerable": row.answerable,
        "prompt_tail": ("…" if len(prompt) > len(tail) else "") + tail,
        "output": DASH if output is None else output,
        "gold": _fmt_gold(row.gold),
        "reasons": reasons,
    }


def _failing_items(
    runs: list[RunRecord], primary: str | None, run_dir: Path
) -> tuple[list[dict], bool]:
    """Per finished arm, the items a reader wants to see, and whether the metric is graded.

    On a 0/1 metric those are the items scoring 0. On a graded one (token_f1 on paragraph
    answers) hardly any answer scores exactly 0, so they are the lowest-scoring items short of
    full credit, lowest first. At most FAILING_CAP per arm are shown.
    """
    if primary is None:
        return [], False
    scored: dict[str, tuple[list[tuple[SampleRow, float]], int]] = {}
    for r in ok_runs(runs):
        rows = load_samples(run_dir, r)  # checked: missing or altered samples are an error
        pairs = [(row, v) for row in rows if (v := row.score(primary)) is not None]
        scored[r.arm] = (pairs, len(rows))
    graded = any(v not in (0, 1) for pairs, _ in scored.values() for _, v in pairs)
    blocks = []
    for arm, (pairs, total) in scored.items():
        zero = [row for row, v in pairs if v == 0]
        if graded:
            worst = sorted((p for p in pairs if p[1] < 1), key=lambda p: p[1])
            shown, more = [row for row, _ in worst[:FAILING_CAP]], 0
        else:
            shown, more = zero[:FAILING_CAP], max(len(zero) - FAILING_CAP, 0)
        blocks.append(
            {
                "arm": arm,
                "shown": [_item_view(row) for row in shown],
                "failing": len(zero),
                "total": total,
                "more": more,
            }
        )
    return blocks, graded


# --------------------------------------------------------------------------------------------
# page


def _header(results: Results) -> dict:
    env, model = results.environment, results.model
    sha = str(env.git_sha or DASH)[:10] + (" (dirty)" if env.git_dirty else "")
    device = env.device or DASH
    if env.device_name and env.device_name != device:
        device = f"{device} ({env.device_name})"
    return {
        "suite": results.suite or DASH,
        "facts": [
            (
                "model",
                f"{model.name if model else DASH} ({model.source if model else DASH}, "
                f"fingerprint {model.fingerprint if model else DASH})",
            ),
            ("device", device),
            ("dtype", env.dtype or DASH),
            ("created", results.created or DASH),
            ("git", sha),
            ("adaptbench", env.adaptbench or DASH),
            ("seed", str(env.seed if env.has("seed") else DASH)),
            ("item limit", str(results.limit) if results.limit else "none"),
        ],
    }


def _task_view(
    name: str, info: TaskInfo, results: Results, run_dir: Path, decisions: list[Verdict]
) -> dict:
    runs = [r for r in results.runs if r.task == name]
    primary = primary_metric(_metric_names(runs))
    colors = {r.arm: COLORS[i % len(COLORS)] for i, r in enumerate(runs)}
    splits = ", ".join(f"{k} {v}" for k, v in info.splits.items())
    leakage = info.leakage
    failing, graded = _failing_items(runs, primary, run_dir)
    return {
        "name": name,
        "anchor": "task-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name),
        "eval_items": info.eval_items,
        "eval_items_total": info.eval_items_total,
        "splits": splits,
        "leakage": leakage.total or 0,
        "leakage_threshold": leakage.threshold,
        "training_warnings": [w.replace("`", "") for r in runs if (w := r.training_warning())],
        "primary": primary,
        "metrics": _metric_table(runs, results.metric_definitions),
        "efficiency": _efficiency_table(runs),
        "failed": [r for r in runs if not r.ok],
        "plots": [
            _plot_training_cost(runs, primary, colors),
            _plot_latency(runs, primary, colors),
            _plot_forgetting(runs, primary, colors),
            _plot_hallucination(runs, colors),
            *_plot_learning_curves(results, name, colors),
        ],
        "costs": cost_view(results, name),  # harness.reports.costs_view
        "judges": judge_rows(runs, run_dir),  # harness.reports.judges
        "knowledge": knowledge_tables(results, name),  # issue 25: harness.reports.knowledge_notes
        "failing": failing,
        "failing_graded": graded,
        "seeds": _spread_rows(results.seed_groups, name, "per_seed"),
        "variants": _spread_rows(results.variant_groups, name, "per_variant"),
        "style": _style_line(info),
        "decision": next((d for d in decisions if d.task == name), None),
    }


def _style_line(info: TaskInfo) -> str | None:
    """The task's answer style, what it set, and the ceiling the length limit allows."""
    st = info.style
    if not st:
        return None
    how = f"inferred: {st.reason}" if st.inferred else "set in the suite"
    text = (
        f"Answer style {st.answer_style} ({how}): max_new_tokens {st.max_new_tokens}, "
        f"prompt budget {st.max_prompt_tokens} tokens."
    )
    ceiling = info.ceiling
    if ceiling and ceiling.metrics:
        parts = ", ".join(f"{n} {m.value:.3f}" for n, m in ceiling.metrics.items())
        text += f" Ceiling (gold answers cut to {ceiling.max_new_tokens} tokens): {parts}."
    return text


def _spread_rows(groups: list[SpreadGroup], task: str, per: str) -> list[dict]:
    """Rows of mean ± sd, range and per-cell values for arms repeated over seeds (`per_seed`)
    or wordings (`per_variant`)."""
    rows = []
    for g in groups:
        if g.task != task:
            continue
        metrics = list(g.metrics.items())
        if g.forgetting_mean:
            metrics.append(("forgetting (mean over probes)", g.forgetting_mean))
        for name, m in metrics:
            sd = f" ± {m.std:.3f}" if m.std is not None else ""
            rows.append(
                {
                    "arm": g.arm,
                    "metric": name,
                    "mean": f"{m.mean:.3f}{sd}",
                    "range": f"{m.min:.3f} – {m.max:.3f}",
                    "per_seed": ", ".join(f"{k}: {v:.3f}" for k, v in getattr(m, per).items()),
                }
            )
    return rows


def _definitions(results: Results) -> list[dict]:
    used = sorted({n for r in results.runs for n in r.metrics})
    definitions = results.metric_definitions
    arrows = {True: "↑ higher is better", False: "↓ lower is better", None: "no direction"}
    return [
        {
            "name": n,
            "direction": arrows[definitions[n].higher_is_better],
            "description": definitions[n].description,
        }
        for n in used
        if n in definitions
    ]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)


def render_html(view: ReportView) -> str:
    """The whole report as one self-contained HTML page (samples are read from `run_dir`)."""
    results = view.results
    tasks = dict(results.tasks)
    for r in results.runs:  # tasks that only appear in runs still get a section
        tasks.setdefault(r.task, TaskInfo())
    template = _environment().from_string(TEMPLATE_PATH.read_text(encoding="utf-8"))
    return template.render(
        header=_header(results),
        tasks=[
            _task_view(name, info, results, view.run_dir, view.decisions)
            for name, info in tasks.items()
        ],
        definitions=_definitions(results),
        failing_cap=FAILING_CAP,
        judge_columns=JUDGE_COLUMNS,
        prompt_tail_chars=PROMPT_TAIL_CHARS,
    )


__all__ = ["render_html"]
