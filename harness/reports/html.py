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
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import jinja2
from matplotlib import rc_context
from matplotlib.figure import Figure

from harness.reports.costs_view import cost_view
from harness.reports.curve import catch_up_text, learning_curves
from harness.reports.decision import decide
from harness.reports.judges import COLUMNS as JUDGE_COLUMNS
from harness.reports.judges import judge_rows
from harness.reports.knowledge_notes import html_tables as knowledge_tables
from harness.reports.runfiles import load_samples
from harness.spec.record import (
    direction,
    primary_metric,
    runs_on,
    server_tokens,
    status_label,
)

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
DASH = "–"

_svg_ids = count(1)


# --------------------------------------------------------------------------------------------
# small formatters


def _fmt_float(value: Any, digits: int = 3) -> str:
    return DASH if not isinstance(value, (int, float)) else f"{value:.{digits}f}"


def _fmt_seconds(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return DASH
    if value < 1:
        return f"{value * 1000:.1f} ms"
    if value < 10:
        return f"{value:.2f} s"
    return f"{value:.1f} s" if value < 1000 else f"{value:.0f} s"


def _fmt_bytes(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return DASH
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


def _fmt_count(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return DASH
    if value >= 1e9:
        return f"{value / 1e9:.2f}B"
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    return f"{value:,.0f}"


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
# reading the payload


def _ok_runs(runs: list[dict]) -> list[dict]:
    return [r for r in runs if r.get("status") == "ok" and r.get("metrics")]


def _metric_names(runs: list[dict]) -> list[str]:
    names: list[str] = []
    for r in runs:
        for name in r.get("metrics") or {}:
            if name not in names:
                names.append(name)
    return names


def _primary_metric(runs: list[dict]) -> str | None:
    present = set(_metric_names(runs))
    return primary_metric(present)


def _metric(run: dict, name: str) -> dict | None:
    m = (run.get("metrics") or {}).get(name)
    return m if m and isinstance(m.get("value"), (int, float)) else None


def _training_seconds(run: dict) -> float | None:
    training = (run.get("efficiency") or {}).get("training") or {}
    seconds = training.get("seconds")
    return float(seconds) if isinstance(seconds, (int, float)) else None


def _base_run(runs: list[dict]) -> dict | None:
    for r in runs:
        if r.get("kind") == "base":
            return r
    return next((r for r in runs if r.get("arm") == "base"), None)


def _forgetting(run: dict) -> tuple[float, float | None, float | None] | None:
    """(value, ci_low, ci_high) of record["forgetting"]["mean"], a number or a metric dict."""
    mean = (run.get("forgetting") or {}).get("mean")
    if isinstance(mean, (int, float)):
        return float(mean), None, None
    if isinstance(mean, dict) and isinstance(mean.get("value"), (int, float)):
        return float(mean["value"]), mean.get("ci_low"), mean.get("ci_high")
    return None


# --------------------------------------------------------------------------------------------
# tables


def _best_arms(runs: list[dict], name: str, higher_is_better: bool | None) -> set[str]:
    if higher_is_better is None:
        return set()
    values = {r["arm"]: m["value"] for r in _ok_runs(runs) if (m := _metric(r, name))}
    if len(values) < 2:
        return set()
    best = max(values.values()) if higher_is_better else min(values.values())
    if all(math.isclose(v, best, abs_tol=1e-12) for v in values.values()):
        return set()  # all tied: nobody is best
    return {arm for arm, v in values.items() if math.isclose(v, best, abs_tol=1e-12)}


def _metric_table(runs: list[dict], definitions: dict) -> dict:
    names = _metric_names(runs)
    arrows = {True: "↑", False: "↓", None: ""}
    directions = {n: direction(n, definitions, runs) for n in names}
    best = {n: _best_arms(runs, n, directions[n]) for n in names}
    columns = [
        {
            "name": n,
            "label": n.replace("_", "_\u200b"),  # zero-width space: long names may wrap
            "arrow": arrows[directions[n]],
            "description": definitions.get(n, {}).get("description", ""),
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
            lo, hi = m.get("ci_low"), m.get("ci_high")
            ci = f"[{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""
            cells.append(
                {
                    "value": f"{m['value']:.3f}",
                    "ci": ci,
                    "n": f"n={m.get('n')}",
                    "best": r["arm"] in best[n],
                }
            )
        rows.append(
            {
                "arm": r["arm"],
                "kind": r.get("kind", ""),
                "status": status_label(r),
                "ok": r.get("status") == "ok",
                "reason": r.get("reason") or "",
                "cells": cells,
            }
        )
    return {"columns": columns, "rows": rows}


def _memory(e: dict) -> str:
    text = _fmt_bytes(e.get("peak_memory_bytes"))
    return f"{text} ({e['memory_kind']})" if text != DASH and e.get("memory_kind") else text


def _params(e: dict) -> str:
    if e.get("params_total") is None:
        return DASH
    return f"{_fmt_count(e['params_total'])} / {_fmt_count(e.get('params_trainable') or 0)}"


EFFICIENCY_COLUMNS: list[tuple[str, Any]] = [
    ("gen tokens/s", lambda e: _fmt_float(e.get("tokens_per_s"), 1)),
    ("latency p50", lambda e: _fmt_seconds(e.get("latency_p50_s"))),
    ("latency p95", lambda e: _fmt_seconds(e.get("latency_p95_s"))),
    ("retrieval p50", lambda e: _fmt_seconds(e.get("retrieval_latency_p50_s"))),
    ("retrieval p95", lambda e: _fmt_seconds(e.get("retrieval_latency_p95_s"))),
    ("peak memory", _memory),
    ("params total / trainable", _params),
    ("server tokens in / out per request", lambda e: server_tokens(e) or DASH),
    ("index size", lambda e: _fmt_bytes((e.get("retrieval") or {}).get("index_bytes"))),
    ("index build", lambda e: _fmt_seconds((e.get("retrieval") or {}).get("build_seconds"))),
    ("training time", lambda e: _fmt_seconds((e.get("training") or {}).get("seconds"))),
    (
        "training tokens/s",
        lambda e: _fmt_float((e.get("training") or {}).get("tokens_per_s"), 1),
    ),
    (
        "prepare",
        lambda e: _fmt_seconds(((e.get("phases") or {}).get("prepare") or {}).get("seconds")),
    ),
    (
        "predict",
        lambda e: _fmt_seconds(((e.get("phases") or {}).get("predict") or {}).get("seconds")),
    ),
]


def _efficiency_table(runs: list[dict]) -> dict:
    """Arms x efficiency columns; columns empty for every arm are left out."""
    grid = [[fmt(r.get("efficiency") or {}) for _, fmt in EFFICIENCY_COLUMNS] for r in runs]
    keep = [i for i in range(len(EFFICIENCY_COLUMNS)) if any(row[i] != DASH for row in grid)]
    return {
        "columns": ["runs on"] + [EFFICIENCY_COLUMNS[i][0] for i in keep],
        "rows": [
            {"arm": r["arm"], "cells": [runs_on(r)] + [row[i] for i in keep]}
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


def _accuracy_points(runs: list[dict], primary: str, colors: dict[str, str]) -> list[Point]:
    points = []
    for r in _ok_runs(runs):
        m = _metric(r, primary)
        if m is not None:
            points.append(
                Point(
                    r["arm"],
                    0.0,
                    m["value"],
                    m.get("ci_low"),
                    m.get("ci_high"),
                    colors[r["arm"]],
                    {"run": r},
                )
            )
    return points


def _plot_training_cost(runs: list[dict], primary: str | None, colors: dict[str, str]) -> Plot:
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
            p.x = float((p.extra["run"].get("efficiency") or {}).get("params_trainable") or 0)
        x_label = "trainable parameters"
        note = "No arm trains in this run: x is the number of trainable parameters."
    fig = _new_figure()
    ax = fig.add_subplot()
    _scatter(ax, points, y_bounds=(0.0, 1.0))
    distinct = sorted({p.x for p in points})
    if len(distinct) <= 3:  # e.g. every arm at 0 trainable parameters: no fractional ticks
        ax.set_xticks(distinct, [_fmt_count(x) if not trains else f"{x:g}" for x in distinct])
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


def _plot_latency(runs: list[dict], primary: str | None, colors: dict[str, str]) -> Plot:
    title = f"{primary or 'accuracy'} vs latency p95"
    caption = (
        "Good: top-left (accurate and fast). The dashed line joins the Pareto frontier: "
        "arms no other arm beats on both."
    )
    if primary is None:
        return Plot(title, caption, note="No accuracy metric in this task.")
    points = []
    for p in _accuracy_points(runs, primary, colors):
        latency = (p.extra["run"].get("efficiency") or {}).get("latency_p95_s")
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


def _plot_forgetting(runs: list[dict], primary: str | None, colors: dict[str, str]) -> Plot:
    title = "forgetting vs gain"
    caption = "Good: bottom-right (large gain over the base arm, little forgetting)."
    ok = _ok_runs(runs)
    forgetting = {r["arm"]: f for r in ok if (f := _forgetting(r)) is not None}
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
        if m is None or r["arm"] not in forgetting:
            continue
        value, low, high = forgetting[r["arm"]]
        x = m["value"] - base_metric["value"] if base_metric else m["value"]
        points.append(Point(r["arm"], x, value, low, high, colors[r["arm"]]))
    if not points:
        return Plot(title, caption, note="No arm has both forgetting and accuracy.")
    fig = _new_figure()
    ax = fig.add_subplot()
    _scatter(ax, points, include_origin=True)
    if base and base_metric:
        ax.axvline(0, color="#888", linewidth=0.8)
        x_label = f"gain in {primary} over base arm '{_plot_label(base['arm'])}'"
        note = ""
    else:
        x_label = primary
        note = "No base arm in this task: x is the accuracy itself, not a gain."
    ax.axhline(0, color="#888", linewidth=0.8)
    ax.set_title(title)
    ax.set_xlabel(x_label)
    ax.set_ylabel("forgetting (mean over probes, 95% CI)")
    return Plot(title, caption, _to_svg(fig), note)


def _plot_hallucination(runs: list[dict], colors: dict[str, str]) -> Plot:
    title = "hallucination per arm"
    caption = "Good: short bars (lower is better for every bar); whiskers are 95% CIs."
    ok = _ok_runs(runs)
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
            lo = m.get("ci_low") if m.get("ci_low") is not None else m["value"]
            hi = m.get("ci_high") if m.get("ci_high") is not None else m["value"]
            xs.append(i - 0.4 + width * (j + 0.5))
            ys.append(m["value"])
            errs_low.append(max(m["value"] - lo, 0.0))
            errs_high.append(max(hi - m["value"], 0.0))
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
        [_plot_label(r["arm"]) for r in ok],
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


def _plot_learning_curves(payload: dict, task: str, colors: dict[str, str]) -> list[Plot]:
    """The decision metric against training items for each `train_fractions` curve
    (harness.reports.curve), arms that train nothing as flat dashed lines; none without curves."""
    found = next((t for t in learning_curves(payload) if t["task"] == task), None)
    if found is None:
        return []
    metric = found["metric"]
    title = f"{metric} vs training items"
    caption = (
        "Learning curve: each trained arm on nested shares of the train split (95% CIs); dashed "
        "lines are arms that train nothing. Where a curve crosses a line, fine-tuning caught up."
    )
    fig = _new_figure()
    ax = fig.add_subplot()
    for c in found["curves"]:
        pts = [p for p in c["points"] if p["value"] is not None and p["train_items"]]
        if not pts:
            continue
        color = colors.get(c["arm"], COLORS[0])
        low = [
            max(p["value"] - (p["ci_low"] if p["ci_low"] is not None else p["value"]), 0)
            for p in pts
        ]
        high = [
            max((p["ci_high"] if p["ci_high"] is not None else p["value"]) - p["value"], 0)
            for p in pts
        ]
        ax.errorbar(
            [p["train_items"] for p in pts],
            [p["value"] for p in pts],
            yerr=[low, high],
            fmt="o-",
            color=color,
            capsize=4,
            label=_plot_label(c["arm"]),
        )
    for f in found["flat"]:
        ax.axhline(
            f["value"],
            ls="--",
            lw=1,
            color=colors.get(f["arm"], "#777"),
            label=_plot_label(f["arm"]),
        )
    ax.set_xlabel("training items")
    ax.set_ylabel(f"{metric} (95% CI)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    note = "; ".join(catch_up_text(c, metric) for c in found["curves"]).replace("`", "") + "."
    return [Plot(title, caption, _to_svg(fig), note)]


# --------------------------------------------------------------------------------------------
# failing items


def _item_view(row: dict) -> dict:
    prompt = str(row.get("prompt") or "")
    tail = prompt[-PROMPT_TAIL_CHARS:]
    output = row.get("output")
    if output is None and row.get("choice") is not None:
        output = f"choice {row['choice']}"
    reasons = [
        {
            "metric": name,
            "value": _fmt_float((s or {}).get("value"), 3),
            "reason": (s or {}).get("reason") or "",
        }
        for name, s in (row.get("scores") or {}).items()
    ]
    return {
        "id": str(row.get("id", "?")),
        "answerable": row.get("answerable"),
        "prompt_tail": ("…" if len(prompt) > len(tail) else "") + tail,
        "output": DASH if output is None else str(output),
        "gold": _fmt_gold(row.get("gold")),
        "reasons": reasons,
    }


def _failing_items(runs: list[dict], primary: str | None, run_dir: Path) -> tuple[list[dict], bool]:
    """Per finished arm, the items a reader wants to see, and whether the metric is graded.

    On a 0/1 metric those are the items scoring 0. On a graded one (token_f1 on paragraph
    answers) hardly any answer scores exactly 0, so they are the lowest-scoring items short of
    full credit, lowest first. At most FAILING_CAP per arm are shown.
    """
    if primary is None:
        return [], False
    scored: dict[str, tuple[list[tuple[dict, float]], int]] = {}
    for r in _ok_runs(runs):
        rows = load_samples(run_dir, r)  # checked: missing or altered samples are an error
        pairs = [(row, v) for row in rows if (v := _score(row, primary)) is not None]
        scored[r["arm"]] = (pairs, len(rows))
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


def _score(row: dict, metric: str) -> float | None:
    return ((row.get("scores") or {}).get(metric) or {}).get("value")


# --------------------------------------------------------------------------------------------
# page


def _header(payload: dict) -> dict:
    env = payload.get("environment") or {}
    model = payload.get("model") or {}
    sha = str(env.get("git_sha") or DASH)[:10] + (" (dirty)" if env.get("git_dirty") else "")
    device = env.get("device") or DASH
    if env.get("device_name") and env.get("device_name") != device:
        device = f"{device} ({env['device_name']})"
    return {
        "suite": payload.get("suite") or DASH,
        "facts": [
            (
                "model",
                f"{model.get('name', DASH)} ({model.get('source', DASH)}, "
                f"fingerprint {model.get('fingerprint', DASH)})",
            ),
            ("device", device),
            ("dtype", env.get("dtype") or DASH),
            ("created", payload.get("created") or DASH),
            ("git", sha),
            ("adaptbench", env.get("adaptbench") or DASH),
            ("seed", str(env.get("seed", DASH))),
            ("item limit", str(payload.get("limit")) if payload.get("limit") else "none"),
        ],
    }


def _task_view(name: str, info: dict, payload: dict, run_dir: Path, decisions: list[dict]) -> dict:
    runs = [r for r in payload.get("runs", []) if r.get("task") == name]
    definitions = payload.get("metric_definitions") or {}
    primary = _primary_metric(runs)
    colors = {r["arm"]: COLORS[i % len(COLORS)] for i, r in enumerate(runs)}
    splits = ", ".join(f"{k} {v}" for k, v in (info.get("splits") or {}).items())
    leakage = info.get("leakage") or {}
    failing, graded = _failing_items(runs, primary, run_dir)
    return {
        "name": name,
        "anchor": "task-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name),
        "eval_items": info.get("eval_items"),
        "eval_items_total": info.get("eval_items_total"),
        "splits": splits,
        "leakage": leakage.get("total") or 0,
        "leakage_threshold": leakage.get("threshold"),
        "primary": primary,
        "metrics": _metric_table(runs, definitions),
        "efficiency": _efficiency_table(runs),
        "failed": [r for r in runs if r.get("status") != "ok"],
        "plots": [
            _plot_training_cost(runs, primary, colors),
            _plot_latency(runs, primary, colors),
            _plot_forgetting(runs, primary, colors),
            _plot_hallucination(runs, colors),
            *_plot_learning_curves(payload, name, colors),
        ],
        "costs": cost_view(payload, name),  # harness.reports.costs_view
        "judges": judge_rows(runs, run_dir),  # harness.reports.judges
        "knowledge": knowledge_tables(payload, name),  # issue 25: harness.reports.knowledge_notes
        "failing": failing,
        "failing_graded": graded,
        "seeds": _seed_rows(payload.get("seed_groups") or [], name),
        "variants": _variant_rows(payload.get("variant_groups") or [], name),
        "style": _style_line(info),
        "decision": next((d for d in decisions if d["task"] == name), None),
    }


def _style_line(info: dict) -> str | None:
    """The task's answer style, what it set, and the ceiling the length limit allows."""
    st = info.get("style")
    if not st:
        return None
    how = f"inferred: {st['reason']}" if st.get("inferred") else "set in the suite"
    text = (
        f"Answer style {st['answer_style']} ({how}): max_new_tokens {st['max_new_tokens']}, "
        f"prompt budget {st['max_prompt_tokens']} tokens."
    )
    ceiling = info.get("ceiling")
    if ceiling and ceiling.get("metrics"):
        parts = ", ".join(f"{n} {m['value']:.3f}" for n, m in ceiling["metrics"].items())
        text += f" Ceiling (gold answers cut to {ceiling['max_new_tokens']} tokens): {parts}."
    return text


def _seed_rows(groups: list[dict], task: str) -> list[dict]:
    return _spread_rows(groups, task, "per_seed")


def _variant_rows(groups: list[dict], task: str) -> list[dict]:
    return _spread_rows(groups, task, "per_variant")


def _spread_rows(groups: list[dict], task: str, per: str) -> list[dict]:
    """Rows of mean ± sd, range and per-cell values for arms repeated over seeds or wordings."""
    rows = []
    for g in groups:
        if g.get("task") != task:
            continue
        metrics = list(g["metrics"].items())
        if g.get("forgetting_mean"):
            metrics.append(("forgetting (mean over probes)", g["forgetting_mean"]))
        for name, m in metrics:
            sd = f" ± {m['std']:.3f}" if m.get("std") is not None else ""
            rows.append(
                {
                    "arm": g["arm"],
                    "metric": name,
                    "mean": f"{m['mean']:.3f}{sd}",
                    "range": f"{m['min']:.3f} – {m['max']:.3f}",
                    "per_seed": ", ".join(f"{k}: {v:.3f}" for k, v in m[per].items()),
                }
            )
    return rows


def _definitions(payload: dict) -> list[dict]:
    used = sorted({n for r in payload.get("runs", []) for n in r.get("metrics") or {}})
    definitions = payload.get("metric_definitions") or {}
    arrows = {True: "↑ higher is better", False: "↓ lower is better", None: "no direction"}
    return [
        {
            "name": n,
            "direction": arrows[definitions[n].get("higher_is_better")],
            "description": definitions[n].get("description", ""),
        }
        for n in used
        if n in definitions
    ]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)


def render_html(payload: dict, run_dir: Path) -> str:
    """The whole report as one self-contained HTML page (samples are read from `run_dir`)."""
    run_dir = Path(run_dir)
    tasks = dict(payload.get("tasks") or {})
    for r in payload.get("runs", []):  # tasks that only appear in runs still get a section
        tasks.setdefault(r.get("task"), {})
    template = _environment().from_string(TEMPLATE_PATH.read_text(encoding="utf-8"))
    decisions = decide(payload, run_dir) if payload.get("environment") else []
    return template.render(
        header=_header(payload),
        tasks=[_task_view(name, info, payload, run_dir, decisions) for name, info in tasks.items()],
        definitions=_definitions(payload),
        failing_cap=FAILING_CAP,
        judge_columns=JUDGE_COLUMNS,
        prompt_tail_chars=PROMPT_TAIL_CHARS,
    )


__all__ = ["render_html"]
