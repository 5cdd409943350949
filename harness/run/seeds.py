"""Arms repeated over seeds or prompt wordings: mean, spread and per-cell values of every metric.

One training run is one draw: its score moves with the seed (data order, adapter init, dropout).
One prompt is one wording: its score moves with the phrasing. An arm with `seeds` runs once per
seed as cells `<label>@seed<n>`, an arm with `prompt_variants` once per wording as cells
`<label>~<variant>`; this module folds those cells back into one row per metric, so a report can
show whether a difference between arms is larger than the seed-to-seed or wording spread.
"""

from __future__ import annotations

import statistics

from harness.spec.config import ArmSpec
from harness.spec.curve import is_curve_label


def seed_groups(arm_specs: list[ArmSpec], records: list[dict]) -> list[dict]:
    """One entry per (task, arm with seeds): per metric mean, sample std, min, max, per-seed values."""
    groups = []
    tasks = list(dict.fromkeys(r["task"] for r in records))
    for spec in arm_specs:
        if spec.seeds is None:
            continue
        cells = {
            c.label: c.seed
            for c in spec.cells()
            if c.variant is None and not is_curve_label(c.label)  # curve points: other data
        }
        for task in tasks:
            runs = [r for r in records if r["task"] == task and r["arm"] in cells]
            if not runs:
                continue
            ok = [r for r in runs if r["status"] == "ok"]
            names = list(dict.fromkeys(n for r in ok for n in r.get("metrics", {})))
            metrics = {}
            for name in names:
                per_seed = {
                    cells[r["arm"]]: r["metrics"][name]["value"]
                    for r in ok
                    if r["metrics"].get(name, {}).get("value") is not None
                }
                if per_seed:
                    metrics[name] = summarize_seeds(per_seed)
            forgetting = {
                cells[r["arm"]]: r["forgetting"]["mean"]["value"]
                for r in ok
                if ((r.get("forgetting") or {}).get("mean") or {}).get("value") is not None
            }
            groups.append(
                {
                    "task": task,
                    "arm": spec.label,
                    "seeds": list(spec.seeds),
                    "cells": [r["arm"] for r in runs],
                    "not_ok": {cells[r["arm"]]: r["status"] for r in runs if r["status"] != "ok"},
                    "metrics": metrics,
                    "forgetting_mean": summarize_seeds(forgetting) if forgetting else None,
                }
            )
    return groups


def summarize_seeds(per_cell: dict, unit: str = "seed") -> dict:
    """Mean, sample std, range and each value over an arm's cells (`unit`: seed or variant)."""
    values = list(per_cell.values())
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else None,
        "min": min(values),
        "max": max(values),
        f"n_{unit}s": len(values),
        f"per_{unit}": {str(k): v for k, v in per_cell.items()},
    }


def variant_groups(records: list[dict]) -> list[dict]:
    """One entry per (task, arm run under several wordings): per metric the spread over them.

    Cells of the same wording and several seeds are averaged first, so the spread is the
    wording's alone.
    """
    groups = []
    keyed = [r for r in records if r.get("variant")]
    for task, family in dict.fromkeys((r["task"], r["family"]) for r in keyed):
        runs = [r for r in keyed if r["task"] == task and r["family"] == family]
        ok = [r for r in runs if r["status"] == "ok"]
        names = list(dict.fromkeys(n for r in ok for n in r.get("metrics", {})))
        metrics = {}
        for name in names:
            per_variant: dict[str, list[float]] = {}
            for r in ok:
                value = r["metrics"].get(name, {}).get("value")
                if value is not None:
                    per_variant.setdefault(r["variant"], []).append(value)
            if per_variant:
                metrics[name] = summarize_seeds(
                    {v: statistics.fmean(x) for v, x in per_variant.items()}, unit="variant"
                )
        groups.append(
            {
                "task": task,
                "arm": family,
                "variants": list(dict.fromkeys(r["variant"] for r in runs)),
                "not_ok": {r["arm"]: r["status"] for r in runs if r["status"] != "ok"},
                "metrics": metrics,
            }
        )
    return groups
