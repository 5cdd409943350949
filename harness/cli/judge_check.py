"""`adaptbench judge-check`: each hallucination detector measured against labels."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from harness.spec.config import SpecError


def _fail(msg: str) -> None:
    click.echo(f"error: {msg}", err=True)
    sys.exit(2)


@click.command(name="judge-check")
@click.argument("target", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With a suite: the labelled set to judge. With a run folder: labels by item id "
    "(`id`, optional `task`/`arm`, and `hallucinated` or `correct`).",
)
@click.option(
    "--json", "json_out", type=click.Path(path_type=Path), help="Also write the figures as JSON."
)
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap intervals.")
def judge_check(target: Path, labels: Path | None, json_out: Path | None, seed: int) -> None:
    """Measure every hallucination detector against labels: AUC, accuracy, Cohen's kappa (95% CIs).

    TARGET is a labelled set (JSONL; e.g. suites/data/judge-labels/policy-qa-labels.jsonl:
    the lexical detectors), a suite with --labels SET (the lexical detectors plus the suite's
    `judge:` and `grounding_model:`, run on the set), or a run folder with --labels FILE (every
    detector the run scored, on its own answers).
    """
    from harness.reports.judge_check import LabelError, measure, render

    try:
        if target.is_dir():
            scores, truth, title = _from_run(target, labels)
        elif target.suffix in (".yaml", ".yml"):
            scores, truth, title = _from_suite(target, labels)
        else:
            if labels is not None:
                _fail(
                    f"{target}: a labelled set carries its labels; --labels goes with a suite or run folder"
                )
            scores, truth, title = _from_set(target)
    except (LabelError, SpecError, ValueError) as exc:
        _fail(str(exc))
    table = measure(scores, truth, seed=seed)
    click.echo(render(table, title))
    if target.is_dir():  # the run's report shows label agreement next to the judged scores
        from harness.reports.judges import CHECK_FILE

        figures = {"source": str(labels), "n": len(truth), "detectors": table}
        (target / CHECK_FILE).write_text(json.dumps(figures, indent=2), encoding="utf-8")
        click.echo(f"wrote {target / CHECK_FILE}; `adaptbench report {target}` shows it")
    if json_out is not None:
        json_out.write_text(
            json.dumps({"source": str(target), "n": len(truth), "detectors": table}, indent=2)
        )


def _from_set(path: Path):
    from harness.reports.judge_check import LEXICAL, detector_scores, load_labelled_set

    rows = load_labelled_set(path)
    scores = detector_scores(rows, list(LEXICAL))
    return scores, [r.hallucinated for r in rows], f"{path.name}: {len(rows)} labelled answers"


def _from_run(run_dir: Path, labels: Path | None):
    from harness.reports.judge_check import run_scores

    if labels is None:
        _fail(f"{run_dir}: a run folder needs --labels FILE (labels by item id)")
    if not (run_dir / "samples").is_dir():
        _fail(f"{run_dir}: not a run folder (no samples/)")
    scores, truth = run_scores(run_dir, labels)
    return scores, truth, f"{run_dir.name}: {len(truth)} labelled answers"


def _from_suite(path: Path, labels: Path | None):
    from harness.models.resolve import pick_device, pick_dtype
    from harness.reports.judge_check import DETECTORS, LEXICAL, detector_scores, load_labelled_set
    from harness.run.context import RunContext
    from harness.run.judging import judge_predictions
    from harness.run.suite import load_suite

    if labels is None:
        _fail(f"{path}: a suite needs --labels SET (a labelled set to judge)")
    suite = load_suite(path)
    rows = load_labelled_set(labels)
    names = list(LEXICAL)
    if suite.judge is not None:
        names += ["answer_correctness", "groundedness", "contradicted_share"]
    if suite.grounding_model is not None:
        names.append("grounding_score")
    device = pick_device(suite.model.device)
    ctx = RunContext(suite, device=device, dtype=pick_dtype(suite.model.dtype, device))
    part = judge_predictions(
        ctx,
        suite.judge,
        suite.grounding_model,
        [r.item for r in rows],
        [r.pred for r in rows],
        names,
    )
    if part:
        click.echo(json.dumps(part, indent=2, default=str))
    scores = detector_scores(rows, [n for n in names if n in DETECTORS])
    return (
        scores,
        [r.hallucinated for r in rows],
        f"{labels.name} judged by {path.name}: {len(rows)} answers",
    )
