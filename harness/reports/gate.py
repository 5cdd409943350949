"""Baselines and gates: what a CI job trusts.

`write_baseline` freezes a run (metrics, per-item scores, spec, environment) into one JSON file.
`run_gates` checks a new run against the suite's gates and that baseline. A drop fails only when
it is larger than the gate's tolerance AND a paired test on the items both runs scored finds it
significant; when significance cannot be tested (no shared items) a drop past the tolerance
fails, and the reason says so.
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from harness.base.files import write_json_atomic
from harness.reports.compare import (
    RunFolderError,
    item_hashes,
    item_scores,
    load_results,
    only,
    paired,
)
from harness.reports.matching import MismatchError, check_sides, check_tasks, shared_items
from harness.reports.runfiles import check_baseline
from harness.spec.config import GateSpec
from harness.spec.record import metric_value, ok_runs

BASELINE_SCHEMA = 1


def write_baseline(run_dir: Path, name: str, folder: Path) -> Path:
    payload = load_results(run_dir)
    runs = []
    for r in payload["runs"]:
        if r["status"] != "ok":
            continue
        runs.append(
            {
                "task": r["task"],
                "arm": r["arm"],
                "kind": r["kind"],
                "status": r["status"],
                "content_hash": r.get("content_hash"),
                "metrics": r["metrics"],
                "efficiency": {
                    k: v for k, v in r.get("efficiency", {}).items() if not isinstance(v, dict)
                },
                "forgetting": r.get("forgetting"),
                "spec": r.get("spec"),
                "item_scores": item_scores(run_dir, r),
                "item_hashes": item_hashes(run_dir, r),  # gate pairs items on id and content
            }
        )
    if not runs:
        raise RunFolderError(f"{run_dir}: no finished (ok) runs to make a baseline from")
    baseline = {
        "schema_version": BASELINE_SCHEMA,
        "name": name,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "suite": payload["suite"],
        "source_run": str(run_dir),
        "model": payload.get("model"),
        "environment": payload["environment"],
        "metric_definitions": payload.get("metric_definitions", {}),
        "runs": runs,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"

    write_json_atomic(path, baseline)
    return path


def load_baseline(path: Path) -> dict:
    if not path.is_file():
        raise RunFolderError(
            f"{path}: baseline file not found (create one with `adaptbench baseline RUN_DIR --name NAME`)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("schema_version") != BASELINE_SCHEMA:
        raise RunFolderError(
            f"{path}: not an adaptbench baseline (schema_version {BASELINE_SCHEMA})"
        )
    return check_baseline(data, path)


@dataclass
class Check:
    gate: str
    task: str
    arm: str
    passed: bool
    message: str
    skipped: bool = False

    @property
    def name(self) -> str:
        return f"{self.task}/{self.arm}: {self.gate}"


def run_gates(run_dir: Path, baseline: dict, gates: list[GateSpec]) -> list[Check]:
    """`gate_run` with no mismatch allowed: the checks only."""
    return gate_run(run_dir, baseline, gates)[0]


def gate_run(
    run_dir: Path, baseline: dict, gates: list[GateSpec], allow: frozenset[str] = frozenset()
) -> tuple[list[Check], list[str]]:
    """The checks of a run against the gates and a baseline, and notes on what was allowed.

    The run and the baseline must agree on suite, tasks, model and metric definitions, and
    items pair on id and content hash (harness.reports.matching), unless `allow` names the kinds of
    mismatch to accept; a run sharing no items with the baseline cannot be gated. Raises
    MismatchError (bad input, not a failed gate).
    """
    payload = load_results(run_dir)
    agreement = check_sides(
        baseline, payload, f"baseline {baseline.get('name')!r}", f"run {run_dir}", allow
    )
    check_tasks(
        agreement, {r["task"] for r in baseline["runs"]}, {r["task"] for r in payload["runs"]}
    )
    definitions = payload.get("metric_definitions", {}) | baseline.get("metric_definitions", {})
    seed = payload["environment"].get("seed", 0)
    base_runs = {(r["task"], r["arm"]): r for r in baseline["runs"]}
    shared: dict[tuple[str, str], set[str]] = {}
    for r in payload["runs"]:
        key = (r["task"], r["arm"])
        if r["status"] == "ok" and key in base_runs:
            base = base_runs[key]
            shared[key] = shared_items(
                agreement,
                f"{r['task']}/{r['arm']}",
                set(base.get("item_scores") or {}),
                item_hashes(run_dir, base),
                set(item_scores(run_dir, r)),
                item_hashes(run_dir, r),
            )
    finished = bool(ok_runs(payload["runs"]))
    if finished and not any(shared.values()):
        raise MismatchError(
            f"run {run_dir} shares no items (same id and content) with baseline "
            f"{baseline.get('name')!r}: nothing to gate against"
        )
    checks: list[Check] = []
    for gate in gates:
        matched = [
            r
            for r in payload["runs"]
            if (gate.task is None or r["task"] == gate.task)
            and (gate.arm is None or r["arm"] == gate.arm)
        ]
        if not matched:
            checks.append(
                Check(
                    _describe(gate),
                    gate.task or "*",
                    gate.arm or "*",
                    False,
                    "no run matches this gate",
                )
            )
        for record in matched:
            label = _describe(gate)
            if record["status"] != "ok":
                msg = f"run did not finish: {record['status']}: {record.get('reason')}"
                checks.append(Check(label, record["task"], record["arm"], False, msg))
                continue
            key = (record["task"], record["arm"])
            base = base_runs.get(key)
            if gate.metric is not None:
                hib = definitions.get(gate.metric, {}).get("higher_is_better", True)
                checks.append(
                    _metric_check(
                        gate, label, record, base, run_dir, hib, seed, shared.get(key, set())
                    )
                )
            else:
                checks.append(_efficiency_check(gate, label, record, base))
    return checks, agreement.notes


def _metric_check(
    gate: GateSpec,
    label: str,
    record: dict,
    base: dict | None,
    run_dir: Path,
    hib: bool | None,
    seed: int,
    shared: set[str],
) -> Check:
    task, arm = record["task"], record["arm"]
    value = metric_value(record, gate.metric)
    if value is None:
        return Check(
            label, task, arm, True, f"{gate.metric} not measured for this arm", skipped=True
        )
    problems = []
    if gate.min is not None and value < gate.min:
        problems.append(f"{gate.metric} {value:.3f} below the floor {gate.min}")
    if gate.max is not None and value > gate.max:
        problems.append(f"{gate.metric} {value:.3f} above the ceiling {gate.max}")
    notes = [f"{gate.metric} {value:.3f}"]
    if gate.max_drop is not None:
        base_value = metric_value(base, gate.metric)
        if base_value is None:
            problems.append(f"no baseline value for {task}/{arm} {gate.metric}")
        else:
            # Like with like: the change is measured on the items both sides scored (same id
            # and content), not between means over different item sets.
            test = paired(
                task,
                gate.metric,
                "baseline",
                only(base["item_scores"], shared),
                "run",
                only(item_scores(run_dir, record), shared),
                hib,
                seed,
            )
            if test is not None:
                delta = test.result["delta"]  # run - baseline
                notes.append(
                    f"baseline {base_value:.3f}, change {delta:+.3f} on {test.result['n']} "
                    "shared items"
                )
            else:
                delta = value - base_value
                notes.append(f"baseline {base_value:.3f}, change {delta:+.3f}")
            worse_by = -delta if hib is not False else delta
            if worse_by > gate.max_drop:
                if test is None:
                    problems.append(
                        f"worse than the baseline by {worse_by:.3f} (> {gate.max_drop}); "
                        "no shared items to test significance"
                    )
                elif test.result["p_value"] < gate.alpha:
                    problems.append(
                        f"worse than the baseline by {worse_by:.3f} (> tolerance "
                        f"{gate.max_drop}), significant: {test.result['test']} "
                        f"p={test.result['p_value']:.3g} on {test.result['n']} shared items"
                    )
                else:
                    notes.append(
                        f"drop {worse_by:.3f} exceeds {gate.max_drop} but is not significant "
                        f"({test.result['test']} p={test.result['p_value']:.3g}, "
                        f"n={test.result['n']}): passes"
                    )
    if problems:
        return Check(label, task, arm, False, "; ".join(problems))
    return Check(label, task, arm, True, "; ".join(notes))


def _efficiency_check(gate: GateSpec, label: str, record: dict, base: dict | None) -> Check:
    task, arm = record["task"], record["arm"]
    value = (record.get("efficiency") or {}).get(gate.efficiency)
    if value is None:
        return Check(
            label, task, arm, True, f"{gate.efficiency} not measured for this arm", skipped=True
        )
    problems = []
    if gate.max is not None and value > gate.max:
        problems.append(f"{gate.efficiency} {value:.4g} above {gate.max}")
    if gate.min is not None and value < gate.min:
        problems.append(f"{gate.efficiency} {value:.4g} below {gate.min}")
    notes = [f"{gate.efficiency} {value:.4g}"]
    if gate.max_increase is not None:
        base_value = ((base or {}).get("efficiency") or {}).get(gate.efficiency)
        if not base_value:
            problems.append(f"no baseline value for {task}/{arm} {gate.efficiency}")
        else:
            # tokens_per_s regresses when it falls; latency and memory when they rise.
            ratio = (
                (base_value / value) if gate.efficiency == "tokens_per_s" else (value / base_value)
            )
            notes.append(
                f"baseline {base_value:.4g} ({ratio - 1:+.0%} worse)"
                if ratio > 1
                else f"baseline {base_value:.4g}"
            )
            if ratio - 1 > gate.max_increase:
                problems.append(
                    f"{ratio - 1:.0%} worse than the baseline {base_value:.4g} (> {gate.max_increase:.0%})"
                )
    if problems:
        return Check(label, task, arm, False, "; ".join(problems))
    return Check(label, task, arm, True, "; ".join(notes))


def _describe(gate: GateSpec) -> str:
    parts = [gate.target]
    for key in ("min", "max", "max_drop", "max_increase"):
        value = getattr(gate, key)
        if value is not None:
            parts.append(f"{key}={value}")
    return " ".join(parts)


def junit_xml(checks: list[Check]) -> str:
    failures = sum(not c.passed for c in checks)
    skipped = sum(c.skipped for c in checks)
    suite = ET.Element(
        "testsuite",
        name="adaptbench-gate",
        tests=str(len(checks)),
        failures=str(failures),
        skipped=str(skipped),
    )
    for c in checks:
        case = ET.SubElement(
            suite, "testcase", classname=f"adaptbench.{c.task}.{c.arm}", name=c.gate
        )
        if not c.passed:
            ET.SubElement(case, "failure", message=c.message).text = c.message
        elif c.skipped:
            ET.SubElement(case, "skipped", message=c.message)
        else:
            ET.SubElement(case, "system-out").text = c.message
    root = ET.Element("testsuites")
    root.append(suite)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def gate_markdown(checks: list[Check], baseline_path: str, notes: list[str] = ()) -> str:
    failed = [c for c in checks if not c.passed]
    verdict = (
        f"**FAILED**: {len(failed)} of {len(checks)} checks"
        if failed
        else f"**PASSED**: {len(checks)} checks"
    )
    lines = [
        f"## adaptbench gate: {verdict}",
        "",
        f"Baseline: `{baseline_path}`",
        "",
        *[f"**Note:** {n}.\n" for n in notes],
        "| | check | detail |",
        "|---|---|---|",
    ]
    for c in checks:
        mark = "⏭️" if c.skipped else ("✅" if c.passed else "❌")
        lines.append(f"| {mark} | `{c.name}` | {c.message.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
