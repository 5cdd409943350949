"""Cost at the stated volume: arithmetic and break-even against a hand computation, the wording
when no price is given, price sheets, and the verdict's preference for the cheaper of arms whose
quality is not shown different."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.common.stats import summarize
from harness.reports.costs import arm_cost, break_even, cost_summary, prices
from harness.reports.costs_view import cost_lines
from harness.reports.decision import decide
from harness.reports.html import render_html
from harness.reports.view import ReportView
from harness.run.suite import load_suite
from harness.spec.config import SpecError, price_sheet_overrides
from harness.spec.costs import CostsSpec, UsageSpec
from harness.spec.record import Results, RunRecord


def _record(arm, kind, *, train_s=None, index_s=None, predict_s=100.0, items=100, **extra):
    eff = {"items": items, "phases": {"predict": {"seconds": predict_s}}, "latency_p95_s": 1.0}
    if train_s is not None:
        eff["training"] = {"seconds": train_s, "devices": extra.pop("devices", 1)}
    if index_s is not None:
        eff["retrieval"] = {"build_seconds": index_s}
    eff |= extra.pop("efficiency", {})
    return {
        "task": "t",
        "arm": arm,
        "kind": kind,
        "family": arm,
        "variant": None,
        "status": "ok",
        "changes_weights": train_s is not None,
        "environment": {"device": extra.pop("device", "cpu")},
        "metrics": {},
        "efficiency": eff,
        **extra,
    }


def _run(arm, kind, **kwargs) -> RunRecord:
    return RunRecord.model_validate(_record(arm, kind, **kwargs))


# A CPU-hour of 3.6 is 0.001 a second, so every figure below can be checked by eye.
COSTS = CostsSpec(cpu_hour=3.6, gpu_hour=36.0, input_per_million=2.0, output_per_million=8.0)
USAGE = UsageSpec(queries_per_month=10_000, knowledge_updates_per_month=2, amortize_months=12)


def test_costs_and_break_even_match_a_hand_computation():
    lora = arm_cost(_run("lora", "lora", train_s=3600.0, predict_s=100.0), COSTS, USAGE)
    rag = arm_cost(_run("rag", "rag", index_s=360.0, predict_s=500.0), COSTS, USAGE)
    # lora: one hour of training; 1 s of device time per query.
    assert lora.one_off == pytest.approx(3.6) and lora.per_update == pytest.approx(3.6)
    assert lora.per_query == pytest.approx(0.001) and lora.per_1k_queries == pytest.approx(1.0)
    assert lora.monthly == pytest.approx(3.6 / 12 + 2 * 3.6 + 10_000 * 0.001)  # 17.5
    # rag: a 360 s index build (re-done per update); 5 s per query.
    assert rag.one_off == pytest.approx(0.36) and rag.per_query == pytest.approx(0.005)
    assert rag.monthly == pytest.approx(0.36 / 12 + 2 * 0.36 + 10_000 * 0.005)  # 50.75
    b = break_even(lora, rag, USAGE)
    # ((3.6 - 0.36) / 12 + 2 x (3.6 - 0.36)) / (0.005 - 0.001) = 6.75 / 0.004
    assert b.queries_per_month == pytest.approx(1687.5)
    assert b.payback_queries == pytest.approx(3.24 / 0.004)  # 810 queries in all
    # At the break-even volume the two monthly costs are equal.
    at = USAGE.model_copy(update={"queries_per_month": b.queries_per_month})
    assert arm_cost(_run("lora", "lora", train_s=3600.0), COSTS, at).monthly == (
        pytest.approx(
            arm_cost(_run("rag", "rag", index_s=360.0, predict_s=500.0), COSTS, at).monthly
        )
    )
    # Every input of the formula is stored with it, so results.json can be recomputed by hand.
    i = b.inputs
    redo = (
        (i.one_off_fine_tuned - i.one_off_retrieval) / i.amortize_months
        + i.updates_per_month * (i.update_fine_tuned - i.update_retrieval)
    ) / (i.per_query_retrieval - i.per_query_fine_tuned)
    assert redo == pytest.approx(b.queries_per_month)
    # A fine-tune whose queries cost no less never breaks even.
    slow = arm_cost(_run("full", "full", train_s=10.0, predict_s=900.0), COSTS, USAGE)
    assert break_even(slow, rag, USAGE).queries_per_month is None


def test_device_hours_follow_the_device_and_endpoints_pay_per_token():
    gpu = arm_cost(_run("lora", "lora", train_s=1800.0, devices=2, device="cuda"), COSTS, USAGE)
    assert gpu.device == "gpu" and gpu.one_off == pytest.approx(36.0)  # 2 GPUs x 0.5 h
    usage = {"requests": 10, "prompt_tokens": 10_000, "completion_tokens": 500}
    endpoint = _run(
        "rag", "rag", index_s=36.0, efficiency={"server_usage": usage}, backend={"kind": "openai"}
    )
    e = arm_cost(endpoint, COSTS, USAGE)
    # 1,000 prompt tokens x 2/M + 50 generated x 8/M per query; the local index still costs.
    assert e.device == "endpoint" and e.per_query == pytest.approx(0.002 + 0.0004)
    assert e.one_off == pytest.approx(0.036)


def _payload(folder: Path, costs: dict | None, usage: dict | None) -> dict:
    """lora and rag with the same per-item scores (so not shown different), rag the faster."""
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    scores = [1.0, 0.0] * 30
    runs = [
        _record("rag", "rag", index_s=360.0, predict_s=500.0),
        _record("lora", "lora", train_s=3600.0, predict_s=100.0),
    ]
    runs[1]["efficiency"]["latency_p95_s"] = 2.0  # unpriced, the faster rag wins the tie
    for r in runs:
        rows = [
            {"id": f"q{i}", "scores": {"exact_match": {"value": v}}} for i, v in enumerate(scores)
        ]
        (folder / "samples" / f"t__{r['arm']}.jsonl").write_text(
            "".join(json.dumps(x) + "\n" for x in rows)
        )
        r["samples"] = f"samples/t__{r['arm']}.jsonl"
        r["metrics"] = {"exact_match": summarize(scores) | {"higher_is_better": True}}
    spec = {"decision": {"metric": "exact_match"}}
    spec |= {"costs": costs} if costs else {}
    spec |= {"usage": usage} if usage else {}
    return {
        "suite": "s",
        "environment": {"seed": 1},
        "metric_definitions": {"exact_match": {"higher_is_better": True}},
        "suite_spec": spec,
        "tasks": {"t": {}},
        "runs": runs,
    }


def test_without_prices_every_cost_is_zero_and_the_report_says_so(tmp_path):
    results = Results.model_validate(_payload(tmp_path, None, None))
    summary = cost_summary(results)
    assert summary.priced is False
    assert all(a.monthly == 0 for a in summary.tasks["t"].arms)
    md = "\n".join(cost_lines(results))
    assert "No prices were given: every cost below is 0" in md
    assert "no prices given" in md  # the break-even column
    assert "5.000 device-s" in md  # the measured device time is still shown (rag: 500 s / 100)
    assert "No prices were given" in render_html(ReportView.of(results, tmp_path))
    (d,) = decide(results, tmp_path)
    assert d.recommended == "rag"  # unpriced: the tie goes to the lower latency as before
    assert not any("a month" in r for r in d.reasons)


def test_the_verdict_prefers_the_cheaper_of_equivalent_arms_and_says_where_it_flips(tmp_path):
    costs = {"cpu_hour": 3.6}
    usage = {"queries_per_month": 10_000, "knowledge_updates_per_month": 2}
    payload = _payload(tmp_path, costs, usage)
    (d,) = decide(Results.model_validate(payload), tmp_path)
    assert d.recommended == "lora"
    why = next(r for r in d.reasons if "cheapest" in r)
    # lora 17.50 a month, rag 50.75: 33.25 less, 66%.
    assert "USD 17.50 a month against USD 50.75 for `rag`, 66% less" in why
    flip = next(c for c in d.would_change if "would cost less" in c)
    assert "`rag` would cost less than `lora` below 1,688 queries a month" in flip  # 1687.5
    # Past the flip volume the verdict turns round.
    payload["suite_spec"]["usage"]["queries_per_month"] = 1_000
    results = Results.model_validate(payload)
    (d,) = decide(results, tmp_path)
    assert d.recommended == "rag"
    assert any(
        "`lora` would cost less than `rag` above 1,688 queries a month" in c for c in d.would_change
    )
    summary = cost_summary(results)
    (b,) = summary.tasks["t"].break_even
    assert b.queries_per_month == pytest.approx(1687.5)
    assert summary.formula.startswith("break-even queries/month")
    # results.json holds the summary as plain JSON, and reads back as the same objects.
    dumped = results.model_copy(update={"costs": summary}).model_dump(mode="json")
    assert Results.model_validate(dumped).costs == summary


def test_a_price_sheet_replaces_the_suites_prices_key_by_key(tmp_path, tiny_suite):
    sheet = tmp_path / "prices.yaml"
    sheet.write_text(
        "costs:\n  gpu_hour: 2.5\n  cpu_hour: 0.2\nusage:\n  queries_per_month: 50000\n"
    )
    overrides = price_sheet_overrides(sheet)
    suite = load_suite(tiny_suite, overrides + ["costs.cpu_hour=0.3"])  # --set still wins
    assert (suite.costs.gpu_hour, suite.costs.cpu_hour) == (2.5, 0.3)
    assert suite.usage.queries_per_month == 50000 and suite.costs.currency == "USD"
    bare = {"suite": "s", "environment": {}, "tasks": {}, "runs": []}
    costs, usage = prices(Results.model_validate(bare | {"suite_spec": suite.model_dump()}))
    assert costs.priced and usage.amortize_months == 12
    sheet.write_text("costs:\n  gpu_hour: 2.5\n  gpu_hours: 3\n")
    with pytest.raises(SpecError, match=r"prices.yaml:3.*gpu_hours"):
        price_sheet_overrides(sheet)
    sheet.write_text("cost:\n  gpu_hour: 2.5\n")
    with pytest.raises(SpecError, match=r"prices.yaml:1: unknown key 'cost'"):
        price_sheet_overrides(sheet)
    sheet.write_text("costs:\n  cpu_hour: -1\n")
    with pytest.raises(SpecError, match="cpu_hour"):
        price_sheet_overrides(sheet)


def test_a_measured_knowledge_update_replaces_the_estimate_per_update(tmp_path):
    """Where the knowledge-update drill ran, an update costs what it measured (re-index, or the
    retraining); a stale arm absorbed nothing, so its update is still the one-off work again."""
    payload = _payload(tmp_path, {"cpu_hour": 3.6}, {"knowledge_updates_per_month": 2})
    update = {
        "changed_items": 3,
        "arms": {
            "rag": {"mode": "updated", "cost": {"kind": "re-index", "seconds": 12.0}},
            "lora (stale)": {"mode": "stale", "cost": {"kind": "none", "seconds": 0.0}},
            "lora (retrained)": {
                "mode": "retrained",
                "cost": {"kind": "retraining", "seconds": 900.0},
            },
        },
    }
    results = Results.model_validate(payload | {"knowledge": {"t": {"update": update}}})
    table = {c.arm: c for c in cost_summary(results).tasks["t"].arms}
    assert table["rag"].update_seconds == 12.0 and table["rag"].per_update == pytest.approx(0.012)
    assert table["lora"].update_seconds == 900.0 and table["lora"].per_update == pytest.approx(0.9)
    assert table["lora"].one_off == pytest.approx(3.6)  # the first training is still one-off
    stale_only = update | {"arms": {"lora": {"mode": "stale", "cost": {"seconds": 0.0}}}}
    results = Results.model_validate(payload | {"knowledge": {"t": {"update": stale_only}}})
    table = {c.arm: c for c in cost_summary(results).tasks["t"].arms}
    assert table["lora"].update_seconds is None and table["lora"].per_update == pytest.approx(3.6)
    assert table["rag"].update_seconds is None  # the drill did not run for it
    lines = "\n".join(
        cost_lines(Results.model_validate(payload | {"knowledge": {"t": {"update": update}}}))
    )
    assert "USD 0.0120*" in lines and "as the knowledge-update drill measured it" in lines
