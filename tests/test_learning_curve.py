"""`train_fractions`: nested, seeded subsets of the train split, one cached cell per fraction,
and the learning curve in results.json and both reports."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.data.fractions import nested_subset
from harness.data.tasks import Item
from harness.reports.curve import curve_lines, is_curve_point, learning_curves
from harness.reports.html import render_html
from harness.reports.view import ReportView
from harness.run.suite import load_suite
from harness.spec.config import ArmSpec, SpecError
from harness.spec.record import Results


def _items(n: int) -> list[Item]:
    return [Item(id=f"i{k}", question=f"q{k}", answers=("a",)) for k in range(n)]


def test_fractions_give_nested_subsets_that_the_seed_decides():
    items = _items(40)
    quarter, half, whole = (nested_subset(items, f, seed=3) for f in (0.25, 0.5, 1.0))
    assert (len(quarter), len(half), whole) == (10, 20, items)
    assert set(i.id for i in quarter) < set(i.id for i in half)  # nested
    assert [i.id for i in half] == [i.id for i in items if i in half]  # file order kept
    assert nested_subset(items, 0.5, seed=3) == half  # deterministic
    assert nested_subset(list(reversed(items)), 0.5, seed=3)[::-1] == half  # not by position
    assert {i.id for i in nested_subset(items, 0.5, seed=4)} != {i.id for i in half}
    assert len(nested_subset(_items(10), 0.3, seed=1)) == 3  # 0.3 x 10 is 3, not 4
    assert len(nested_subset(_items(3), 0.01, seed=1)) == 1  # never empty
    with pytest.raises(ValueError, match="train_fraction"):
        nested_subset(items, 0.0, seed=1)


def test_one_cell_per_fraction_and_the_arm_itself_is_the_whole_split():
    cells = ArmSpec(arm="lora", params={"r": 4}, train_fractions=[1.0, 0.25, 0.5]).cells()
    assert [c.label for c in cells] == ["lora", "lora@frac0.25", "lora@frac0.5"]
    assert [c.params.get("train_fraction") for c in cells] == [None, 0.25, 0.5]
    assert all(c.train_fractions is None and c.family == "lora" for c in cells)
    # The whole-split cell is the plain arm's cell, so its cache entry is shared with it.
    assert cells[0] == ArmSpec(arm="lora", params={"r": 4}).cells()[0]
    seeded = ArmSpec(arm="lora", seeds=[1, 2], train_fractions=[0.5]).cells()
    assert [c.label for c in seeded] == [
        "lora@seed1",
        "lora@seed1@frac0.5",
        "lora@seed2",
        "lora@seed2@frac0.5",
    ]
    with pytest.raises(ValueError, match="repeats"):
        ArmSpec(arm="lora", train_fractions=[0.5, 0.5])
    with pytest.raises(ValueError):
        ArmSpec(arm="lora", train_fractions=[1.5])


def test_only_a_trained_arm_takes_train_fractions(tiny_suite):
    text = tiny_suite.read_text().replace(
        "  - arm: base\n", "  - arm: base\n    train_fractions: [0.5]\n"
    )
    tiny_suite.write_text(text)
    with pytest.raises(SpecError, match=r"suite.yaml:\d+: arm 'base' trains nothing"):
        load_suite(tiny_suite)


def test_a_learning_curve_on_the_tiny_model(tiny_suite, tmp_path):
    text = tiny_suite.read_text().replace(
        "arms:\n",
        "arms:\n  - arm: lora\n    train_fractions: [0.5, 1.0]\n    params: {epochs: 1, r: 4, "
        "alpha: 8, learning_rate: 0.01, rows_per_step: 2, max_seq_len: 128}\n",
    )
    tiny_suite.write_text(text)
    out = tmp_path / "out"
    args = ["run", str(tiny_suite), "--out", str(out), "--no-progress", "--arms", "lora"]
    args += ["--limit", "2"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    results = json.loads((out / "results.json").read_text())
    by_arm = {x["arm"]: x for x in results["runs"]}
    assert set(by_arm) == {"lora", "lora@frac0.5"}
    trained = {
        a: by_arm[a]["efficiency"]["training"]["train_items"] for a in ("lora", "lora@frac0.5")
    }
    assert trained == {"lora": 6, "lora@frac0.5": 3}  # the train split has 6 items
    (curve,) = results["learning_curves"]
    (lora,) = curve["curves"]
    assert [(p["arm"], p["train_items"]) for p in lora["points"]] == [
        ("lora@frac0.5", 3),
        ("lora", 6),
    ]
    assert "## Learning curve (`train_fractions`)" in (out / "report.md").read_text()
    assert "vs training items" in (out / "report.html").read_text()
    # A curve point is never what the decision recommends.
    assert "recommend `lora`" in (out / "report.md").read_text()
    # Each fraction is its own cached cell: a rerun reuses both.
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert "lora@frac0.5: unchanged, reusing" in again.output
    assert "lora: unchanged, reusing" in again.output
    # A finished run is repriced without running anything: results.json and the reports.
    sheet = tmp_path / "prices.yaml"
    sheet.write_text("costs: {cpu_hour: 3.6}\nusage: {queries_per_month: 1000}\n")
    priced = CliRunner().invoke(main, ["report", str(out), "--costs", str(sheet)])
    assert priced.exit_code == 0, priced.output
    costs = json.loads((out / "results.json").read_text())["costs"]
    lora = next(a for a in costs["tasks"]["qa"]["arms"] if a["arm"] == "lora")
    assert [a["arm"] for a in costs["tasks"]["qa"]["arms"]] == ["lora"]  # curve points unpriced
    assert costs["priced"] and lora["one_off"] == pytest.approx(lora["train_seconds"] * 0.001)
    assert "Prices: GPU-hour USD 0, CPU-hour USD 3.60" in (out / "report.md").read_text()


def _run(arm: str, kind: str, value: float, fraction: float | None = None, items=None) -> dict:
    eff = {"training": {"train_items": items}} if items else {}
    return {
        "task": "t",
        "arm": arm,
        "kind": kind,
        "status": "ok",
        "changes_weights": kind == "lora",
        "spec": {"params": {"train_fraction": fraction} if fraction else {}},
        "metrics": {"exact_match": {"value": value, "ci_low": value - 0.1, "ci_high": value + 0.1}},
        "efficiency": eff | ({"retrieval": {"build_seconds": 1.0}} if kind == "rag" else {}),
    }


def test_the_curve_says_from_how_many_items_fine_tuning_catches_up(tmp_path):
    payload = {
        "suite": "s",
        "environment": {},
        "suite_spec": {"decision": {"metric": "exact_match"}},
        "metric_definitions": {"exact_match": {"higher_is_better": True}},
        "tasks": {"t": {"splits": {"train": 80}}},
        "runs": [
            _run("base", "base", 0.2),
            _run("rag", "rag", 0.5),
            _run("lora@frac0.25", "lora", 0.3, 0.25, items=20),
            _run("lora@frac0.5", "lora", 0.55, 0.5),  # no recorded count: 0.5 x 80
            _run("lora", "lora", 0.6, None, items=80),
        ],
    }
    results = Results.model_validate(payload)
    (t,) = learning_curves(results)
    (c,) = t.curves
    assert [(p.train_items, p.value) for p in c.points] == [
        (20, 0.3),
        (40, 0.55),
        (80, 0.6),
    ]
    assert {f.arm for f in t.flat} == {"base", "rag"}
    assert c.catches_up.model_dump() == {
        "target": "rag",
        "target_value": 0.5,
        "train_items": 40,
        "fraction": 0.5,
    }
    md = "\n".join(curve_lines(results))
    assert "| t | `lora@frac0.5` | 0.5 | 40 | 0.550 [0.45, 0.65] |" in md
    assert "`lora` reaches `rag` (exact_match 0.500) from 40 training items" in md
    (tmp_path / "samples").mkdir()
    for r in payload["runs"]:
        r["samples"] = f"samples/t__{r['arm']}.jsonl"
        row = {"id": "q1", "scores": {"exact_match": {"value": 1.0}}}
        (tmp_path / r["samples"]).write_text(json.dumps(row) + "\n")
    results = Results.model_validate(payload)
    assert "exact_match vs training items" in render_html(ReportView.of(results, tmp_path))
    payload["runs"][1]["metrics"]["exact_match"]["value"] = 0.9
    results = Results.model_validate(payload)
    assert "does not reach `rag`" in "\n".join(curve_lines(results))
    assert is_curve_point(results.runs[2]) and not is_curve_point(results.runs[4])
