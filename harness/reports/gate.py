"""Baselines and gates: what a CI job trusts.

`write_baseline` freezes a run (metrics, per-item scores, spec, environment) into one JSON file.
`gate_run` checks a new run against the suite's gates and that baseline. A drop fails only when
it is larger than the gate's tolerance AND a paired test on the items both runs scored finds it
significant; when significance cannot be tested (no shared items) a drop past the tolerance
fails, and the reason says so.

An arm the baseline lacks is new: its absolute bounds (min, max) are checked, its comparison
with the baseline (max_drop, max_increase) cannot be, and is reported as "new, no baseline" and
skipped; `strict` makes that a failure, for a CI that must gate every arm it ships.
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from harness.base.files import write_json_atomic
from harness.reports import efficiency_gate
from harness.reports.compare import item_clusters, item_hashes, item_scores, only, paired
from harness.reports.matching import MismatchError, check_sides, check_tasks, shared_items
from harness.reports.runfiles import RunFolderError, check_baseline, load_results
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
                "model_fingerprint": r.get("model_fingerprint"),
                "metrics": r["metrics"],
                "efficiency": {
                    k: v
                    for k, v in r.get("efficiency", {}).items()
                    if not isinstance(v, dict) or k == "calibration"
                },
                # What its time measures depend on (harness.reports.efficiency_gate.conditions).
                "environment": {
                    k: (r.get("environment") or {}).get(k)
                    for k in ("device", "device_name", "cpu_threads")
                },
                "backend": r.get("backend"),
                "forgetting": r.get("forgetting"),
                "spec": r.get("spec"),
                "item_scores": item_scores(run_dir, r),
                "item_hashes": item_hashes(run_dir, r),  # gate pairs items on id and content
                "item_clusters": item_clusters(run_dir, r),  # what its paired tests resample
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
    new: bool = False  # the arm is not in the baseline: its baseline comparison was not made

    @property
    def name(self) -> str:
        return f"{self.task}/{self.arm}: {self.gate}"


def gate_run(
    run_dir: Path,
    baseline: dict,
    gates: list[GateSpec],
    allow: frozenset[str] = frozenset(),
    strict: bool = False,
) -> tuple[list[Check], list[str]]:
    """The checks of a run against the gates and a baseline, and notes on what was allowed.

    The run and the baseline must agree on suite, tasks, model and metric definitions, and
    items pair on id and content hash (harness.reports.matching), unless `allow` names the kinds of
    mismatch to accept; a run sharing no items with the baseline cannot be gated. Raises
    MismatchError (bad input, not a failed gate). An arm the baseline lacks is "new, no
    baseline": its baseline comparisons are skipped, or fail with `strict`.
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
            _same_model(r, base, baseline, allow)
            shared[key] = shared_items(
                agreement,
                f"{r['task']}/{r['arm']}",
                set(base.get("item_scores") or {}),
                item_hashes(run_dir, base),
                set(item_scores(run_dir, r)),
                item_hashes(run_dir, r),
            )
    # Arms only the run has are new (see _new_arm_check), but a run must share some items
    # with its baseline, or nothing is gated against it at all.
    finished = ok_runs(payload["runs"])
    if finished and not shared:
        raise MismatchError(
            f"run {run_dir} shares no items with baseline {baseline.get('name')!r}: none of its "
            f"finished arms ({_cells(finished)}) is in the baseline ({_cells(baseline['runs'])}), "
            "so nothing can be gated against it"
        )
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
            if base is None and (gate.max_drop is not None or gate.max_increase is not None):
                check = _new_arm_check(gate, label, record, run_dir, seed, strict)
            elif gate.metric is not None:
                hib = definitions.get(gate.metric, {}).get("higher_is_better", True)
                check = _metric_check(
                    gate, label, record, base, run_dir, hib, seed, shared.get(key, set())
                )
            else:
                check = _efficiency_check(gate, label, record, base, strict)
            if base is None:
                check.new = True
                if NEW_ARM not in check.message:
                    check.message += f"; {NEW_ARM}"
            checks.append(check)
    return checks, agreement.notes


def _same_model(run: dict, base: dict, baseline: dict, allow: frozenset[str]) -> None:
    """An arm with its own `model:` is compared on its own weights (the suite's model
    fingerprint, which check_sides compares, does not cover it)."""
    a, b = base.get("model_fingerprint"), run.get("model_fingerprint")
    if a and b and a != b and "model" not in allow:
        raise MismatchError(
            f"{run['task']}/{run['arm']}: its model differs from baseline "
            f"{baseline.get('name')!r}'s (fingerprint {a} there, {b} here); "
            "--allow-mismatch model compares anyway"
        )


def _cells(runs: list[dict]) -> str:
    names = sorted({f"{r['task']}/{r['arm']}" for r in runs})
    return ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")


NEW_ARM = "new, no baseline"


def _new_arm_check(
    gate: GateSpec, label: str, record: dict, run_dir: Path, seed: int, strict: bool
) -> Check:
    """A gate with a baseline comparison on an arm the baseline lacks: its absolute bounds are
    checked, the comparison is skipped (a failure with `strict`)."""
    task, arm = record["task"], record["arm"]
    what = "max_drop" if gate.max_drop is not None else "max_increase"
    why = f"{NEW_ARM}: {task}/{arm} is not in the baseline, so its {what} was not checked"
    if strict:
        return Check(label, task, arm, False, f"{why} (--strict fails an arm without a baseline)")
    bounds = gate.model_copy(update={"max_drop": None, "max_increase": None})
    if bounds.min is None and bounds.max is None:
        return Check(label, task, arm, True, f"{why}: skipped", skipped=True)
    # The floor and ceiling need no baseline: they are checked as for any arm.
    if gate.metric is not None:
        check = _metric_check(bounds, label, record, None, run_dir, None, seed, set())
    else:
        check = _efficiency_check(bounds, label, record, None)
    check.message = f"{check.message}; {why}"
    return check


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
                # Correlated items: a cluster bootstrap (the run's clusters, else the baseline's).
                item_clusters(run_dir, record) or item_clusters(run_dir, base),
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
                        + _clustering(test.result)
                    )
                else:
                    notes.append(
                        f"drop {worse_by:.3f} exceeds {gate.max_drop} but is not significant "
                        f"({test.result['test']} p={test.result['p_value']:.3g}, "
                        f"n={test.result['n']}{_clustering(test.result)}): passes"
                    )
    if problems:
        return Check(label, task, arm, False, "; ".join(problems))
    return Check(label, task, arm, True, "; ".join(notes))


def _clustering(result: dict) -> str:
    """How the clusters widened a paired test, with the item-level p beside it ('' for none)."""
    item = result.get("item_level")
    if not item:
        return ""
    return (
        f" in {result['clusters']} clusters, design effect {result['design_effect']:.2f}; "
        f"item-level {item['test']} p={item['p_value']:.3g}"
    )


def _efficiency_check(
    gate: GateSpec, label: str, record: dict, base: dict | None, strict: bool = False
) -> Check:
    """Time normalised by each side's calibration, work measures as they are
    (harness.reports.efficiency_gate)."""
    v = efficiency_gate.check(gate, record, base, strict)
    return Check(label, record["task"], record["arm"], v.passed, v.message, skipped=v.skipped)


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
    new = sorted({f"{c.task}/{c.arm}" for c in checks if c.new})
    lines = [
        f"## adaptbench gate: {verdict}",
        "",
        f"Baseline: `{baseline_path}`",
        "",
        *[f"**Note:** {n}.\n" for n in notes],
        *(
            [
                f"**New arms ({NEW_ARM}):** {', '.join(f'`{n}`' for n in new)}: their "
                "comparisons with the baseline were not made (re-freeze the baseline to gate "
                "them; `--strict` fails them).\n"
            ]
            if new
            else []
        ),
        "| | check | detail |",
        "|---|---|---|",
    ]
    for c in checks:
        mark = "⏭️" if c.skipped else ("✅" if c.passed else "❌")
        lines.append(f"| {mark} | `{c.name}` | {c.message.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
