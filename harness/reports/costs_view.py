"""The cost section of report.md and report.html: per arm one-off, per 1,000 queries, per
knowledge update and monthly cost at the stated usage, and every fine-tuned arm's break-even
against every retrieval arm (the figures come from harness.reports.costs)."""

from __future__ import annotations

from typing import Any

from harness.reports.costs import (
    FORMULA,
    money,
    prices,
    task_break_evens,
    task_costs,
    usage_text,
)
from harness.reports.formats import fmt_bytes
from harness.spec.costs import CostsSpec
from harness.spec.record import Results
from harness.spec.record_costs import ArmCost, BreakEven

COLUMNS = (
    "device",
    "training (device-s)",
    "index build (s)",
    "per query",
    "peak memory",
    "one-off",
    "per 1,000 queries",
    "per knowledge update",
    "monthly",
)
BREAK_EVEN_COLUMNS = (
    "fine-tuned",
    "retrieval",
    "break-even queries/month (¹)",
    "pays back after",
)


def cost_view(results: Results, task: str) -> dict[str, Any] | None:
    """Rows and notes of one task's cost table (None when no arm finished)."""
    costs, usage = prices(results)
    table = task_costs(results, task)
    if not table:
        return None
    cur = costs.currency
    rows = [
        {
            "arm": c.arm,
            "cells": [
                c.device,
                f"{c.train_seconds * c.train_devices:.1f}" if c.train_seconds else "–",
                f"{c.index_build_seconds:.2f}" if c.index_build_seconds else "–",
                _per_query(c),
                fmt_bytes(c.peak_memory_bytes) if c.peak_memory_bytes else "–",
                money(c.one_off, cur),
                money(c.per_1k_queries, cur),
                money(c.per_update, cur) + ("*" if c.update_seconds is not None else ""),
                money(c.monthly, cur),
            ],
        }
        for c in table.values()
    ]
    evens = [
        {
            "cells": [
                f"`{b.fine_tuned}`",
                f"`{b.retrieval}`",
                _volume(b, costs.priced),
                f"{b.payback_queries:,.0f} queries" if b.payback_queries is not None else "–",
            ]
        }
        for b in task_break_evens(table, usage)
    ]
    return {
        "priced": costs.priced,
        "prices": _price_text(costs),
        "usage": usage_text(usage),
        "rows": rows,
        "break_even": evens,
        "formula": FORMULA,
        "update_note": UPDATE_NOTE
        if any(c.update_seconds is not None for c in table.values())
        else None,
    }


def _per_query(c: ArmCost) -> str:
    if c.device == "endpoint":
        return (
            f"{c.prompt_tokens_per_query or 0:.0f} in + "
            f"{c.output_tokens_per_query or 0:.1f} out tokens"
        )
    return f"{c.query_seconds:.3f} device-s" if c.query_seconds is not None else "–"


def _volume(b: BreakEven, priced: bool) -> str:
    if not priced:
        return "– (no prices given)"
    if b.queries_per_month is None:
        return b.note
    if b.queries_per_month == 0:
        return "0: the fine-tune costs less at any volume"
    return f"{b.queries_per_month:,.0f}"


def _price_text(costs: CostsSpec) -> str:
    c = costs.currency
    return (
        f"GPU-hour {money(costs.gpu_hour, c)}, CPU-hour {money(costs.cpu_hour, c)}, endpoint "
        f"tokens {money(costs.input_per_million, c)} in / {money(costs.output_per_million, c)} "
        "out per million"
    )


UPDATE_NOTE = (
    "* per update as the knowledge-update drill measured it (its re-index, or its retraining), "
    "in place of the one-off work again; results.json holds the seconds under "
    "costs.tasks.TASK.arms[].update_seconds."
)
UNPRICED = (
    "**No prices were given: every cost below is 0** (the defaults of `costs:`). Set "
    '`costs:` and `usage:` in the suite, or pass `--costs prices.yaml` (README "Cost at your '
    'volume"); the measured device time and tokens are shown so the table can be priced by hand.'
)


def cost_lines(results: Results) -> list[str]:
    """report.md's cost section."""
    views = [(t, v) for t in results.tasks if (v := cost_view(results, t))]
    if not views:
        return []
    first = views[0][1]
    lines = ["", "## Cost at your volume", ""]
    lines.append(UNPRICED if not first["priced"] else f"Prices: {first['prices']}.")
    lines += [
        "",
        f"Usage: {first['usage']}. One-off = training and index build; per query = device time "
        "per item at the run's batch size (endpoint models: tokens); a knowledge update redoes "
        "the one-off work (retrain, re-index); monthly = one-off / months + updates x update + "
        "queries x per query.",
    ]
    for task, v in views:
        lines += [
            "",
            "| task | arm | " + " | ".join(COLUMNS) + " |",
            "|---" * (len(COLUMNS) + 2) + "|",
        ]
        lines += [f"| {task} | `{r['arm']}` | " + " | ".join(r["cells"]) + " |" for r in v["rows"]]
        if v["break_even"]:
            lines += [
                "",
                "| task | " + " | ".join(BREAK_EVEN_COLUMNS) + " |",
                "|---" * (len(BREAK_EVEN_COLUMNS) + 1) + "|",
            ]
            lines += [f"| {task} | " + " | ".join(b["cells"]) + " |" for b in v["break_even"]]
        if v["update_note"]:
            lines += ["", v["update_note"]]
    if any(v["break_even"] for _, v in views):
        lines += [
            "",
            f"(¹) {first['formula']}. 'Pays back after' leaves out updates and amortisation: "
            "(one-off F - one-off R) / (per-query R - per-query F) queries in all. Every input "
            "is in results.json under `costs.tasks.<task>.break_even[].inputs`.",
        ]
    return lines
