"""Learning curves: a trained arm's decision metric against the number of training items it saw
(`train_fractions`, harness/spec/curve.py), next to the flat lines of the arms that train nothing.

A curve is one trained cell (the 1.0 point) and its `@frac<f>` cells; with `seeds`, one curve per
seed. Pure functions over results.json; report.md shows a table (`curve_lines`), report.html a
plot (harness.reports.html).
"""

from __future__ import annotations

from typing import Any

from harness.spec.curve import CURVE_MARK, is_curve_label
from harness.spec.record import changes_weights, direction, ok_runs, primary_metric

# Reference rows read the gold document: drawn, but never what fine-tuning must catch up with.
REFERENCE_KINDS = ("oracle_context",)


def is_curve_point(run: dict) -> bool:
    """A cell that trained on a share of the split below 1 to draw a curve (never recommended)."""
    return is_curve_label(run.get("arm", ""))


def decision_metric(payload: dict, runs: list[dict]) -> str | None:
    spec = (payload.get("suite_spec") or {}).get("decision") or {}
    names = {n for r in runs for n in r.get("metrics") or {}}
    return spec.get("metric") or primary_metric(names)


def learning_curves(payload: dict) -> list[dict[str, Any]]:
    """Per task with curve points: the metric, each curve's points (fraction, training items,
    value and CI) and the flat lines of the arms that train nothing."""
    out = []
    for task in payload.get("tasks") or {}:
        runs = ok_runs(payload.get("runs") or [], task)
        heads = list(
            dict.fromkeys(r["arm"].split(CURVE_MARK)[0] for r in runs if is_curve_point(r))
        )
        metric = decision_metric(payload, runs)
        if not heads or metric is None:
            continue
        split = ((payload["tasks"].get(task) or {}).get("splits") or {}).get("train")
        curves = [_curve(head, runs, metric, split) for head in heads]
        flat = [_flat(r, metric) for r in runs if not changes_weights(r) and not is_curve_point(r)]
        flat = [f for f in flat if f["value"] is not None]
        hib = direction(metric, payload.get("metric_definitions") or {}, runs) is not False
        for c in curves:
            c["catches_up"] = _catches_up(c, flat, hib)
        out.append({"task": task, "metric": metric, "curves": curves, "flat": flat})
    return out


def _curve(head: str, runs: list[dict], metric: str, split: int | None) -> dict:
    points = []
    for r in runs:
        if r["arm"] != head and r["arm"].split(CURVE_MARK)[0] != head:
            continue
        if r["arm"] != head and not is_curve_point(r):
            continue
        fraction = float(((r.get("spec") or {}).get("params") or {}).get("train_fraction") or 1.0)
        training = (r.get("efficiency") or {}).get("training") or {}
        items = training.get("train_items")
        if items is None and split:
            items = max(1, round(fraction * split))
        m = (r.get("metrics") or {}).get(metric) or {}
        points.append(
            {
                "arm": r["arm"],
                "fraction": fraction,
                "train_items": items,
                "value": m.get("value"),
                "ci_low": m.get("ci_low"),
                "ci_high": m.get("ci_high"),
            }
        )
    points.sort(key=lambda p: p["fraction"])
    return {"arm": head, "points": points}


def _flat(run: dict, metric: str) -> dict:
    m = (run.get("metrics") or {}).get(metric) or {}
    return {
        "arm": run["arm"],
        "kind": run["kind"],
        "retrieves": bool((run.get("efficiency") or {}).get("retrieval")),
        "value": m.get("value"),
        "ci_low": m.get("ci_low"),
        "ci_high": m.get("ci_high"),
    }


def _catches_up(curve: dict, flat: list[dict], higher_is_better: bool) -> dict | None:
    """The fewest training items at which the curve reaches the best deployable retrieval arm
    (else the best arm that trains nothing); None when there is nothing to reach."""
    pool = [f for f in flat if f["kind"] not in REFERENCE_KINDS]
    target_pool = [f for f in pool if f["retrieves"]] or pool
    if not target_pool:
        return None
    sign = 1 if higher_is_better else -1
    target = max(target_pool, key=lambda f: sign * f["value"])
    reached = [
        p
        for p in curve["points"]
        if p["value"] is not None and sign * p["value"] >= sign * target["value"]
    ]
    first = min(reached, key=lambda p: p["fraction"]) if reached else None
    return {
        "target": target["arm"],
        "target_value": target["value"],
        "train_items": first["train_items"] if first else None,
        "fraction": first["fraction"] if first else None,
    }


def catch_up_text(curve: dict, metric: str) -> str:
    c = curve.get("catches_up")
    if not c:
        return f"`{curve['arm']}`: no arm that trains nothing to compare with"
    most = max((p["train_items"] or 0 for p in curve["points"]), default=0)
    if c["train_items"] is None:
        return (
            f"`{curve['arm']}` does not reach `{c['target']}` ({metric} {c['target_value']:.3f}) "
            f"within the {most} training items measured"
        )
    return (
        f"`{curve['arm']}` reaches `{c['target']}` ({metric} {c['target_value']:.3f}) "
        f"from {c['train_items']} training items (fraction {c['fraction']:g}) of {most} measured"
    )


def curve_lines(payload: dict) -> list[str]:
    """report.md: a table per task of each curve's points, the flat lines and the catch-up."""
    found = learning_curves(payload)
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
        metric = t["metric"]
        lines += [
            "",
            f"| task | arm | fraction | training items | {metric} [95% CI] |",
            "|---|---|---|---|---|",
        ]
        for c in t["curves"]:
            for p in c["points"]:
                lines.append(
                    f"| {t['task']} | `{p['arm']}` | {p['fraction']:g} | "
                    f"{p['train_items'] if p['train_items'] is not None else '–'} | {_value(p)} |"
                )
        for f in t["flat"]:
            lines.append(f"| {t['task']} | `{f['arm']}` (flat) | – | – | {_value(f)} |")
        lines += [""] + [f"- {catch_up_text(c, metric)}." for c in t["curves"]]
    return lines


def _value(p: dict) -> str:
    if p.get("value") is None:
        return "–"
    ci = ""
    if p.get("ci_low") is not None and p.get("ci_high") is not None:
        ci = f" [{p['ci_low']:.2f}, {p['ci_high']:.2f}]"
    return f"{p['value']:.3f}{ci}"
