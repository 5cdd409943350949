"""The `adaptbench` command: run | validate | ls.

Exit codes: 0 success; 1 a run finished but some arm failed; 2 bad usage or bad input
(suite, data, model). Error messages name the file and the line or key.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from . import __version__
from .config import SpecError, load_suite

SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"


def _fail(msg: str) -> None:
    click.echo(f"error: {msg}", err=True)
    sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    "--strict-leakage",
    is_flag=True,
    help="Fail when eval/dev questions (near-)duplicate train questions.",
)
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def run(
    suite: Path,
    arms: str | None,
    limit: int | None,
    out: Path | None,
    force: bool,
    overrides: tuple[str, ...],
    strict_leakage: bool,
    no_progress: bool,
) -> None:
    """Run a suite: every (task, arm) cell, scored on the same eval items.

    Writes results.json, results.csv, report.md, records/ and samples/ into the output folder.
    A finished arm is reused unless its inputs (model, data, parameters, scoring code) changed.
    """
    from .data import DataError
    from .models import ModelError
    from .runner import run_suite

    try:
        spec = load_suite(suite, list(overrides))
    except SpecError as exc:
        _fail(str(exc))
    if out is None:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        out = Path("reports") / spec.name / stamp
    arm_list = [a.strip() for a in arms.split(",") if a.strip()] if arms else None
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
        )
    except (DataError, ModelError, ValueError) as exc:
        _fail(str(exc))
    click.echo(f"report: {out / 'report.md'}")
    click.echo(f"results: {out / 'results.json'}")
    if result.failed:
        names = ", ".join(f"{r['task']}/{r['arm']} ({r['status']})" for r in result.failed)
        click.echo(f"some arms did not finish: {names}; see report.md", err=True)
        sys.exit(1)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--data/--no-data", default=True, help="Also load every task's data files and check them."
)
def validate(paths: tuple[Path, ...], data: bool) -> None:
    """Check suite files (or folders of them, recursively) without running anything."""
    from .data import DataError, load_task

    files: list[Path] = []
    for p in paths:
        files += sorted(p.rglob("*.y*ml")) if p.is_dir() else [p]
    files = [f for f in files if f.suffix in (".yaml", ".yml")]
    if not files:
        _fail(f"no .yaml/.yml files under {', '.join(map(str, paths))}")
    bad = 0
    for f in files:
        try:
            spec = load_suite(f)
            if data:
                for task in spec.tasks:
                    load_task(task)
        except (SpecError, DataError) as exc:
            bad += 1
            click.echo(f"FAIL {exc}", err=True)
        else:
            click.echo(f"ok   {f}")
    if bad:
        click.echo(f"{bad} of {len(files)} suite(s) invalid", err=True)
        sys.exit(2)


@main.command(name="ls")
@click.argument("what", type=click.Choice(["arms", "metrics", "suites"]))
def ls_cmd(what: str) -> None:
    """List the arms, metrics or shipped suites."""
    if what == "arms":
        from .arms import ARMS

        for name, cls in sorted(ARMS.items()):
            params = ", ".join(f"{k}={v.default!r}" for k, v in cls.Params.model_fields.items())
            click.echo(f"{name:<12} {cls.summary}" + (f"  [params: {params}]" if params else ""))
    elif what == "metrics":
        from .metrics import METRICS

        arrows = {True: "higher is better", False: "lower is better", None: "descriptive"}
        for name, m in sorted(METRICS.items()):
            click.echo(f"{name:<22} ({arrows[m.higher_is_better]}) {m.description}")
    else:
        for f in sorted(SUITES_DIR.rglob("*.yaml")):
            try:
                spec = load_suite(f)
                desc = spec.description.strip().splitlines()[0] if spec.description.strip() else ""
                click.echo(f"{f.relative_to(SUITES_DIR.parent)}  {spec.name}: {desc}")
            except SpecError as exc:
                click.echo(f"{f}  (invalid: {str(exc).splitlines()[0]})")


if __name__ == "__main__":  # pragma: no cover
    main()
