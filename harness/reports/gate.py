"""Baselines and gates: what a CI job trusts.

`write_baseline` freezes a run into one JSON file of results.json's shape (`Baseline`): its
finished records as the run wrote them, each with its items' scores, hashes and clusters.
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

from harness.common.files import write_json_atomic
from harness.reports import efficiency_gate
from harness.reports.compare import (
    PairedTest,
    item_clusters,
    item_hashes,
    item_scores,
    only,
    paired,
)
from harness.reports.matching import MismatchError, check_sides, check_tasks, shared_items
from harness.reports.runfiles import RunFolderError, check_baseline, load_results
from harness.spec.config import GateSpec
from harness.spec.record import (
    SCHEMA_VERSION,
    Baseline,
    BaselineRun,
    MetricDefinition,
    RunRecord,
    metric_value,
)


def write_baseline(run_dir: Path, name: str, folder: Path) -> Path:
    """Freeze a run's finished arms as `folder/NAME.json`: results.json's shape (a `Baseline`),
    each run the record as results.json holds it plus its items' scores, content hashes and
    clusters, which a gate pairs with a new run's."""
    results = load_results(run_dir)
    runs = [
        BaselineRun.model_validate(
            r.model_dump(exclude_unset=True)
            | {
                "item_scores": item_scores(run_dir, r),
                "item_hashes": item_hashes(run_dir, r),  # gate pairs items on id and content
                "item_clusters": item_clusters(run_dir, r),  # what its paired tests resample
            }
        )
        for r in results.ok_runs()
    ]
    if not runs:
        raise RunFolderError(f"{run_dir}: no finished (ok) runs to make a baseline from")
    # The run's header and task summaries as they are; the report aggregates over all of its
    # cells (spreads, costs, curves, drills) are not what a gate reads.
    frozen = results.model_dump(exclude_unset=True, exclude=_NOT_FROZEN)
    baseline = Baseline.model_validate(
        frozen
        | {
            "schema_version": SCHEMA_VERSION,
            "name": name,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "source_run": str(run_dir),
            "runs": runs,
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    write_json_atomic(path, baseline.model_dump(mode="json", exclude_unset=True))
    return path


_NOT_FROZEN = {"runs", "seed_groups", "variant_groups", "costs", "learning_curves", "knowledge"}


def load_baseline(path: Path) -> Baseline:
    """A baseline file, checked (`check_baseline`); one written before baselines took
    results.json's shape (schema_version 1) reads as its runs migrated to the current layout."""
    if not path.is_file():
        raise RunFolderError(
            f"{path}: baseline file not found (create one with `adaptbench baseline RUN_DIR --name NAME`)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{path}: not valid JSON ({exc})") from None
    if (
        isinstance(data, dict)
        and data.get("schema_version") == 1
        and isinstance(data.get("runs"), list)
    ):
        # The previous release's writer copied a record without a spec as `spec: null`.
        data["runs"] = [
            {k: v for k, v in r.items() if k != "spec" or v is not None}
            if isinstance(r, dict)
            else r
            for r in data["runs"]
        ]
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
    baseline: Baseline,
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
    results = load_results(run_dir)
    agreement = check_sides(
        baseline, results, f"baseline {baseline.name!r}", f"run {run_dir}", allow
    )
    check_tasks(agreement, {r.task for r in baseline.runs}, {r.task for r in results.runs})
    definitions = results.metric_definitions | baseline.metric_definitions
    seed = results.environment.seed or 0
    base_runs = {(r.task, r.arm): r for r in baseline.runs}
    shared: dict[tuple[str, str], set[str]] = {}
    for r in results.ok_runs():
        key = (r.task, r.arm)
        if key in base_runs:
            base = base_runs[key]
            _same_model(r, base, baseline, allow)
            shared[key] = shared_items(
                agreement,
                f"{r.task}/{r.arm}",
                set(base.item_scores),
                base.item_hashes,
                set(item_scores(run_dir, r)),
                item_hashes(run_dir, r),
            )
    # Arms only the run has are new (see _new_arm_check), but a run must share some items
    # with its baseline, or nothing is gated against it at all.
    finished = results.ok_runs()
    if finished and not shared:
        raise MismatchError(
            f"run {run_dir} shares no items with baseline {baseline.name!r}: none of its "
            f"finished arms ({_cells(finished)}) is in the baseline ({_cells(baseline.runs)}), "
            "so nothing can be gated against it"
        )
    if finished and not any(shared.values()):
        raise MismatchError(
            f"run {run_dir} shares no items (same id and content) with baseline "
            f"{baseline.name!r}: nothing to gate against"
        )
    checks: list[Check] = []
    for gate in gates:
        matched = [
            r
            for r in results.runs
            if (gate.task is None or r.task == gate.task)
            and (gate.arm is None or r.arm == gate.arm)
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
            if not record.ok:
                msg = f"run did not finish: {record.status}: {record.reason}"
                checks.append(Check(label, record.task, record.arm, False, msg))
                continue
            key = (record.task, record.arm)
            base = base_runs.get(key)
            if base is None and (gate.max_drop is not None or gate.max_increase is not None):
                check = _new_arm_check(gate, label, record, run_dir, seed, strict)
            elif gate.metric is not None:
                hib = _higher_is_better(definitions, gate.metric)
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


def _higher_is_better(definitions: dict[str, MetricDefinition], metric: str) -> bool | None:
    """A gated metric's direction as the definitions give it; higher is better where they do
    not say (a metric they lack, or a definition without a direction)."""
    if metric not in definitions:
        return True
    d = definitions[metric]
    return d.higher_is_better if d.has("higher_is_better") else True


def _same_model(
    run: RunRecord, base: BaselineRun, baseline: Baseline, allow: frozenset[str]
) -> None:
    """An arm with its own `model:` is compared on its own weights (the suite's model
    fingerprint, which check_sides compares, does not cover it)."""
    a, b = base.model_fingerprint, run.model_fingerprint
    if a and b and a != b and "model" not in allow:
        raise MismatchError(
            f"{run.task}/{run.arm}: its model differs from baseline "
            f"{baseline.name!r}'s (fingerprint {a} there, {b} here); "
            "--allow-mismatch model compares anyway"
        )


def _cells(runs: list[RunRecord]) -> str:
    names = sorted({f"{r.task}/{r.arm}" for r in runs})
    return ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")


NEW_ARM = "new, no baseline"


def _new_arm_check(
    gate: GateSpec, label: str, record: RunRecord, run_dir: Path, seed: int, strict: bool
) -> Check:
    """A gate with a baseline comparison on an arm the baseline lacks: its absolute bounds are
    checked, the comparison is skipped (a failure with `strict`)."""
    task, arm = record.task, record.arm
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
    record: RunRecord,
    base: BaselineRun | None,
    run_dir: Path,
    hib: bool | None,
    seed: int,
    shared: set[str],
) -> Check:
    task, arm = record.task, record.arm
    value = record.value(gate.metric)
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
                only(base.item_scores, shared),
                "run",
                only(item_scores(run_dir, record), shared),
                hib,
                seed,
                # Correlated items: a cluster bootstrap (the run's clusters, else the baseline's).
                item_clusters(run_dir, record) or base.item_clusters,
            )
            if test is not None:
                delta = test.result.delta  # run - baseline
                notes.append(
                    f"baseline {base_value:.3f}, change {delta:+.3f} on {test.result.n} "
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
                elif test.result.p_value < gate.alpha:
                    r = test.result
                    problems.append(
                        f"worse than the baseline by {worse_by:.3f} (> tolerance "
                        f"{gate.max_drop}), significant: {r.test} "
                        f"p={r.p_value:.3g} on {r.n} shared items" + _clustering(r)
                    )
                else:
                    r = test.result
                    notes.append(
                        f"drop {worse_by:.3f} exceeds {gate.max_drop} but is not significant "
                        f"({r.test} p={r.p_value:.3g}, n={r.n}{_clustering(r)}): passes"
                    )
    if problems:
        return Check(label, task, arm, False, "; ".join(problems))
    return Check(label, task, arm, True, "; ".join(notes))


def _clustering(result: PairedTest) -> str:
    """How the clusters widened a paired test, with the item-level p beside it ('' for none)."""
    item = result.item_level
    if item is None:
        return ""
    return (
        f" in {result.clusters} clusters, design effect {result.design_effect:.2f}; "
        f"item-level {item.test} p={item.p_value:.3g}"
    )


def _efficiency_check(
    gate: GateSpec, label: str, record: RunRecord, base: BaselineRun | None, strict: bool = False
) -> Check:
    """Time normalised by each side's calibration, work measures as they are
    (harness.reports.efficiency_gate)."""
    v = efficiency_gate.check(gate, record, base, strict)
    return Check(label, record.task, record.arm, v.passed, v.message, skipped=v.skipped)


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
