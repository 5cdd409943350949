"""The `adaptbench` command: init, validate, run, report, compare, baseline, gate, judge-check,
log-mlflow, ls, schema (`adaptbench --help` lists them).

Exit codes: 0 success; 1 a run finished but some arm failed; 2 bad usage or bad input
(suite, data, model). Error messages name the file and the line or key.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import click

from harness import __version__
from harness.cli.judge_check import judge_check
from harness.reports.matching import MISMATCH_KINDS
from harness.spec.config import SpecError, SuiteSpec, price_sheet_overrides
from harness.spec.record import json_schema


def _load_suite(path: Path, overrides: list[str] | None = None) -> SuiteSpec:
    """`harness.run.suite.load_suite`, imported on first use: the arm registry it validates
    against imports torch, and commands that read no suite (help, schema, compare) start
    without it."""
    from harness.run.suite import load_suite

    return load_suite(path, overrides)


_ALLOW_MISMATCH = click.option(
    "--allow-mismatch",
    "allow",
    multiple=True,
    type=click.Choice(MISMATCH_KINDS),
    help="Compare anyway when this differs between the two sides (repeatable); the output "
    "says so. Without it a mismatch of suite, task, items, metrics or model is exit 2.",
)

SUITES_DIR = Path(__file__).resolve().parents[2] / "suites"


def _fail(msg: str) -> None:
    click.echo(f"error: {msg}", err=True)
    sys.exit(2)


class _Group(click.Group):
    """The last line of defence: an unexpected exception is a short message, not a traceback.

    Every expected bad input is caught where it happens (exit 2); what reaches here is a bug,
    reported with exit 3 and shown in full with ADAPTBENCH_DEBUG=1. Finished work is already
    on disk by then (records are written as each arm finishes).
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if os.environ.get("ADAPTBENCH_DEBUG"):
                raise
            click.echo(
                f"error: internal error ({type(exc).__name__}: {exc}); this is a bug in "
                "adaptbench, please report it (ADAPTBENCH_DEBUG=1 shows the traceback)",
                err=True,
            )
            sys.exit(3)


def _check_writable(folder: Path, what: str) -> None:
    """Fail before any work when a folder the run writes to cannot be created or written.
    The folders it created for the check are removed again: the run makes them when it writes,
    so one that stops early leaves no empty folder behind."""
    from harness.common.files import missing_dirs, remove_empty

    created = missing_dirs(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check"):
            pass
    except OSError as exc:
        _fail(f"{what} {folder}: cannot write there ({exc.strerror or exc})")
    finally:
        remove_empty(created)


_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="adaptbench")
def main() -> None:
    """Fine-tune, retrieve or prompt? Build every contender from one dataset and measure them all.

    Start with `adaptbench ls suites`, then `adaptbench run suites/insurance-policy-qa.yaml`.
    """


@main.command()
@click.argument("suite", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--arms", help="Comma-separated arm names from the suite (default: all).")
@click.option(
    "--limit", type=click.IntRange(min=1), help="Score only N eval items (a seeded sample)."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: reports/<suite>/<UTC timestamp>/).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Recompute every arm even if a finished run with the same inputs exists.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a suite key, e.g. model.batch_size=8.",
)
@click.option(
    "--costs",
    "price_sheet",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A price sheet (YAML with `costs:` and/or `usage:`) that replaces the suite's prices "
    'key by key; --set still wins (README "Cost at your volume").',
)
@click.option(
    "--strict-leakage",
    is_flag=True,
    help="Fail when eval/dev questions (near-)duplicate train questions.",
)
@click.option(
    "--knowledge",
    is_flag=True,
    help="Run the knowledge drills (known/unknown items, counterfactual passages, a "
    "knowledge update) with their defaults when the suite has no `knowledge:` block.",
)
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option(
    "--mlflow",
    metavar="URI",
    help="Also log the run to this MLflow tracking server (a suite's `tracking:` block does "
    'the same; pip install "adaptbench[mlflow]"; README "Logging to MLflow").',
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: every cell in this process, one after another. ray: cells and training jobs "
    'as Ray tasks, in parallel (pip install "adaptbench[ray]"; README "Scaling out").',
)
@click.option(
    "--address",
    help="With --executor ray: the cluster to join (auto, or ray://HOST:PORT); "
    "default: a new Ray instance on this machine.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=None,
    help="With --executor ray: how often a unit whose worker died is run again (default 2).",
)
@click.option(
    "--cpus-per-unit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="With --executor ray: CPUs (and torch threads) each unit asks for when it needs no "
    "GPU. Default: all cores of the smallest node, the threads a local run uses, so the "
    "numbers match it; fewer run more units per node, with float-level differences.",
)
def run(
    suite: Path,
    arms: str | None,
    limit: int | None,
    out: Path | None,
    force: bool,
    overrides: tuple[str, ...],
    price_sheet: Path | None,
    strict_leakage: bool,
    knowledge: bool,
    no_progress: bool,
    mlflow: str | None,
    executor: str,
    address: str | None,
    retries: int | None,
    cpus_per_unit: float | None,
) -> None:
    """Run a suite: every (task, arm) cell, scored on the same eval items.

    Writes results.json, results.csv, report.md, records/ and samples/ into the output folder.
    A finished arm is reused unless its inputs (model, data, parameters, scoring code) changed.
    """
    from harness.data.tasks import DataError
    from harness.models.resolve import ModelError, cache_dir
    from harness.run.executors import ExecutorError, make_executor
    from harness.run.runner import run_suite
    from harness.spec.knowledge import default_knowledge

    try:
        sheet = price_sheet_overrides(price_sheet) if price_sheet else []
        spec = _load_suite(suite, sheet + list(overrides))
        if knowledge:  # every drill on; what the suite sets wins (harness/spec/knowledge.py)
            spec.knowledge = default_knowledge(spec.knowledge)
        runner = make_executor(executor, address, retries, cpus_per_unit)
    except (SpecError, ExecutorError) as exc:
        _fail(str(exc))
    if out is None:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        out = Path("reports") / spec.name / stamp
    arm_list = [a.strip() for a in arms.split(",") if a.strip()] if arms is not None else None
    if arm_list is not None and not arm_list:
        _fail(f"--arms {arms!r}: no arm names given (omit --arms to run them all)")
    _check_writable(out, "--out")
    _check_writable(cache_dir(), "cache folder (set ADAPTBENCH_CACHE to move it)")
    tracker = _tracker(spec, mlflow)  # checked before any work; logged after the results
    try:
        result = run_suite(
            spec,
            out,
            arms=arm_list,
            limit=limit,
            force=force,
            strict_leakage=strict_leakage,
            progress=not no_progress,
            suite_path=str(suite),
            executor=runner,
        )
    except (DataError, ModelError, ValueError, ExecutorError) as exc:
        _fail(str(exc))
    click.echo(f"report: {out / 'report.md'}")
    click.echo(f"results: {out / 'results.json'}")
    _log_to_tracker(out, tracker)
    if result.failed:
        names = ", ".join(f"{r['task']}/{r['arm']} ({r['status']})" for r in result.failed)
        click.echo(f"some arms did not finish: {names}; see report.md", err=True)
        sys.exit(1)


def _tracker(spec: SuiteSpec, uri: str | None):
    """`--mlflow URI` or the suite's `tracking:` block (harness/reports/tracking.py); a bad
    URI, a missing mlflow package or a server that does not answer is exit 2 before any work."""
    from harness.reports.tracking import Target, TrackingError, check_target

    block = spec.tracking
    if uri is None and block is None:
        return None
    target = Target(uri or block.mlflow, block.experiment if block else None)
    try:
        check_target(target)
    except TrackingError as exc:
        _fail(str(exc))
    return target


def _log_to_tracker(out: Path, target) -> None:
    """Log the finished run folder; a tracker that fails now is a warning, not a failed run."""
    from harness.reports.tracking import log_or_warn

    if target is not None:
        logged, warning = log_or_warn(out, target)
        click.echo(f"warning: {warning}" if warning else logged.summary(), err=bool(warning))


@main.command(name="log-mlflow")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--mlflow",
    "uri",
    metavar="URI",
    help="MLflow tracking URI (default: the run's `tracking:` block, else $MLFLOW_TRACKING_URI).",
)
@click.option("--experiment", help="MLflow experiment (default: the block's, else the suite name).")
def log_mlflow(run_dir: Path, uri: str | None, experiment: str | None) -> None:
    """Log a run folder to MLflow: a parent run for the suite run, a child run per cell.

    Logging the same folder again completes an interrupted log and duplicates nothing.
    """
    from harness.reports.runfiles import RunFolderError, load_results
    from harness.reports.tracking import (
        TrackingError,
        check_target,
        default_target,
        log_run_folder,
    )

    try:
        results = load_results(run_dir)
        target = default_target(results, uri, experiment)
        check_target(target)
        logged = log_run_folder(run_dir, target, results)
    except (RunFolderError, TrackingError) as exc:
        _fail(str(exc))
    click.echo(logged.summary())


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--data/--no-data", default=True, help="Also load every task's data files and check them."
)
@click.option(
    "--strict-leakage",
    is_flag=True,
    help="Fail when eval/dev questions (near-)duplicate train questions, as `run` would.",
)
def validate(paths: tuple[Path, ...], data: bool, strict_leakage: bool) -> None:
    """Check suite files (or folders of them, recursively) without running anything.

    With data (the default) it also finds what `run` would: retrieval from a missing corpus,
    `k` above the chunks a corpus gives, and train/eval leakage (a warning, as in `run`).
    """
    from harness.data.tasks import DataError, load_task
    from harness.run.checks import check_task

    files: list[Path] = []
    for p in paths:
        files += sorted(p.rglob("*.y*ml")) if p.is_dir() else [p]
    files = [f for f in files if f.suffix in (".yaml", ".yml")]
    if not files:
        _fail(f"no .yaml/.yml files under {', '.join(map(str, paths))}")
    bad = 0
    tokenizers: dict = {}
    for f in files:
        problems: list[str] = []
        try:
            spec = _load_suite(f)
            for task in spec.tasks if data else []:
                found, warnings = check_task(
                    spec, load_task(task, strict_leakage=strict_leakage), tokenizers
                )
                problems += [f"{f}: {p}" for p in found]
                for w in warnings:
                    click.echo(f"{f}: {w}", err=True)
        except (SpecError, DataError) as exc:
            problems.append(str(exc))
        for p in problems:
            click.echo(f"FAIL {p}", err=True)
        bad += bool(problems)
        if not problems:
            click.echo(f"ok   {f}")
    if bad:
        click.echo(f"{bad} of {len(files)} suite(s) invalid", err=True)
        sys.exit(2)


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--costs",
    "price_sheet",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Reprice the run with a price sheet (YAML `costs:`/`usage:`); results.json's prices, "
    "usage and costs are rewritten with the reports.",
)
def report(run_dir: Path, price_sheet: Path | None) -> None:
    """Rewrite report.md, report.html and results.csv of a run folder from its results.json.

    Refuses (exit 2, naming the file) when results.json or a samples file it needs is missing,
    damaged or edited; the three files are then left as they were.
    """
    from harness.common.files import write_json_atomic
    from harness.reports.costs import reprice
    from harness.reports.runfiles import RunFolderError, check_reportable, load_results
    from harness.reports.write import write_reports

    try:
        results = load_results(run_dir)
        check_reportable(results, run_dir / "results.json")
        if price_sheet is not None:
            results = reprice(results, price_sheet)  # harness.reports.costs
        write_reports(run_dir, results)
        if price_sheet is not None:
            # what the file held, with the repriced suite and costs
            write_json_atomic(
                run_dir / "results.json", results.model_dump(mode="json", exclude_unset=True)
            )
    except (RunFolderError, SpecError) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{exc.filename or run_dir}: cannot write the reports ({exc.strerror or exc})")
    for name in ("report.md", "report.html", "results.csv"):
        if (run_dir / name).is_file():
            click.echo(f"wrote {run_dir / name}")


@main.command()
@click.argument("run_a", type=click.Path(file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the comparison as JSON.",
)
@_ALLOW_MISMATCH
def compare(run_a: Path, run_b: Path, json_out: Path | None, allow: tuple[str, ...]) -> None:
    """Per-metric deltas of RUN_B against RUN_A with paired tests on shared items, and flipped items.

    Items pair on id and content; the runs must share suite, tasks, model and metric definitions.
    """
    import json

    from harness.reports.compare import compare_runs, comparison_markdown
    from harness.reports.matching import MismatchError
    from harness.reports.runfiles import RunFolderError

    try:
        result = compare_runs(run_a, run_b, frozenset(allow))
    except (RunFolderError, MismatchError) as exc:
        _fail(str(exc))
    if json_out:
        try:
            json_out.write_text(json.dumps(result.as_dict(), indent=2) + "\n")
        except OSError as exc:
            _fail(f"--json {json_out}: cannot write ({exc.strerror or exc})")
    click.echo(comparison_markdown(result))


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", required=True, help="Baseline name: writes baselines/NAME.json.")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("baselines"),
    show_default=True,
)
def baseline(run_dir: Path, name: str, folder: Path) -> None:
    """Freeze a run (metrics, per-item scores, spec, environment) as a baseline for `gate`."""
    from harness.reports.gate import write_baseline
    from harness.reports.runfiles import RunFolderError

    if not _PLAIN_NAME.match(name) or ".." in name:
        _fail(
            f"--name {name!r}: a baseline name is a plain file name (letters, digits, _ . + -; "
            "not starting with a dot, no path separators, no '..')"
        )
    try:
        path = write_baseline(run_dir, name, folder)
    except RunFolderError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"--dir {folder}: cannot write the baseline there ({exc.strerror or exc})")
    click.echo(f"wrote {path}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--baseline", "baseline_path", required=True, type=click.Path(dir_okay=False, path_type=Path)
)
@click.option(
    "--suite",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Take the gates from this suite instead of the run's.",
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the checks as JUnit XML.",
)
@click.option(
    "--md", type=click.Path(dir_okay=False, path_type=Path), help="Write the checks as Markdown."
)
@_ALLOW_MISMATCH
@click.option(
    "--strict",
    is_flag=True,
    help="Fail the gate for an arm the baseline lacks (default: reported as 'new, no "
    "baseline', its baseline comparisons skipped).",
)
def gate(
    run_dir: Path,
    baseline_path: Path,
    suite: Path | None,
    junit: Path | None,
    md: Path | None,
    allow: tuple[str, ...],
    strict: bool,
) -> None:
    """Check a run against the suite's gates and a baseline. Exit 0 pass, 1 a gate failed, 2 bad input.

    A drop fails only when it is past the gate's tolerance and significant by a paired test on
    the per-item scores both runs share. An arm the baseline lacks is "new, no baseline": its
    floors and ceilings are checked, its comparisons with the baseline skipped (--strict: failed).
    """
    from pydantic import ValidationError

    from harness.reports.gate import gate_markdown, gate_run, junit_xml, load_baseline
    from harness.reports.matching import MismatchError
    from harness.reports.runfiles import RunFolderError, load_results
    from harness.spec.config import GateSpec

    try:
        base = load_baseline(baseline_path)
        if suite is not None:
            gates = _load_suite(suite).gates
        else:
            gates = [GateSpec.model_validate(g) for g in load_results(run_dir).section("gates")]
        if not gates:
            _fail(
                f"no gates defined: add a `gates:` list to the suite (or pass --suite) for {run_dir}"
            )
        checks, notes = gate_run(run_dir, base, gates, frozenset(allow), strict=strict)
    except (RunFolderError, SpecError, ValidationError, MismatchError) as exc:
        _fail(str(exc))
    text = gate_markdown(checks, str(baseline_path), notes)
    for target, content in ((junit, junit_xml(checks) if junit else ""), (md, text)):
        if target:
            try:
                target.write_text(content, encoding="utf-8")
            except OSError as exc:
                _fail(f"{target}: cannot write ({exc.strerror or exc})")
    click.echo(text)
    if any(not c.passed for c in checks):
        sys.exit(1)


@main.command()
@click.option(
    "--items",
    type=click.Path(exists=True, path_type=Path),
    help="One file of all items, split for you.",
)
@click.option("--train", type=click.Path(exists=True, path_type=Path), help="Train items.")
@click.option("--eval", "eval_", type=click.Path(exists=True, path_type=Path), help="Eval items.")
@click.option("--dev", type=click.Path(exists=True, path_type=Path), help="Dev items (optional).")
@click.option("--docs", help="A folder (or glob) of documents: .md .txt .html .pdf .docx.")
@click.option("--sheet", help="The .xlsx sheet of the items (default: the first with questions).")
@click.option("--name", help="Suite and task name (default: from the items file).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("suite.yaml"),
    show_default=True,
)
@click.option("--force", is_flag=True, help="Overwrite an existing suite file.")
@click.option("--train-budget", help="Training time per fine-tuning arm, e.g. 20m, 1h (default: 10m on a CPU, 30m on a GPU).")  # fmt: skip
@click.option("--train-rate", type=click.FloatRange(min=0, min_open=True), help="Training tokens/s to size by (default: the newest cached training's measured rate).")  # fmt: skip
def init(
    items: Path | None,
    train: Path | None,
    eval_: Path | None,
    dev: Path | None,
    docs: str | None,
    sheet: str | None,
    name: str | None,
    out: Path,
    force: bool,
    train_budget: str | None,
    train_rate: float | None,
) -> None:
    """Write a suite from your items (and documents): guessed, commented, validated."""
    from harness.cli.init_labels import Budget
    from harness.cli.suite_init import InitError, write_suite
    from harness.cli.train_budget import BudgetError, parse_budget

    sheet_arg: str | int | None = int(sheet) if sheet is not None and sheet.isdigit() else sheet
    try:
        spec, lines = write_suite(
            out,
            items=items,
            train=train,
            eval_=eval_,
            dev=dev,
            docs=docs,
            sheet=sheet_arg,
            name=name,
            force=force,
            budget=Budget(parse_budget(train_budget) if train_budget else None, train_rate),
        )
    except (InitError, BudgetError) as exc:
        _fail(str(exc))
    for line in lines:
        click.echo(line)
    arms = ", ".join(a.label for a in spec.arms)
    click.echo(f"wrote {out} (validated): task {spec.tasks[0].name}; arms {arms}")
    click.echo(f"next: adaptbench run {out}   (try --limit 40 first)")


@main.command(name="ls")
@click.argument("what", type=click.Choice(["arms", "metrics", "suites"]))
def ls_cmd(what: str) -> None:
    """List the arms, metrics or shipped suites."""
    if what == "arms":
        from harness.arms import ARMS

        for name, cls in sorted(ARMS.items()):
            params = ", ".join(
                f"{k}={'(required)' if v.is_required() else repr(v.get_default(call_default_factory=True))}"
                for k, v in cls.Params.model_fields.items()
            )
            click.echo(f"{name:<12} {cls.summary}" + (f"  [params: {params}]" if params else ""))
    elif what == "metrics":
        from harness.metrics import METRICS

        arrows = {True: "higher is better", False: "lower is better", None: "descriptive"}
        for name, m in sorted(METRICS.items()):
            click.echo(f"{name:<22} ({arrows[m.higher_is_better]}) {m.description}")
        from harness.common.stats import INTERVALS
        from harness.reports.knowledge_notes import DRILL_DEFINITIONS

        click.echo(f"\n{INTERVALS}\n\n{DRILL_DEFINITIONS}")
    else:
        for f in sorted(SUITES_DIR.rglob("*.yaml")):
            try:
                spec = _load_suite(f)
                desc = spec.description.strip().splitlines()[0] if spec.description.strip() else ""
                click.echo(f"{f.relative_to(SUITES_DIR.parent)}  {spec.name}: {desc}")
            except SpecError as exc:
                click.echo(f"{f}  (invalid: {str(exc).splitlines()[0]})")


main.add_command(judge_check)  # harness/cli/judge_check.py


@main.command()
def schema() -> None:
    """Print the JSON Schema of results.json (the run record, every field described)."""
    click.echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))
