"""What the decision adds about training budgets and, on label tasks, nearest-neighbour lookup.

Two rules (issue 28):
- A fine-tuned arm that saw part of its train split (fewer items, or under one epoch) scores a
  lower bound. The decision says so next to the verdict ("`lora` saw 64 of 1,155 training items:
  its score is a lower bound"), never counts that score alone against fine-tuning, and says what
  full training would take at the rate the arm measured, and how to run it.
- On a label task the nearest train item's label (`retrieval_only` over train items) is the
  reference every fine-tune must beat: one that does not is not worth its training cost.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from harness.reports.compare import adjust, item_scores, paired
from harness.reports.curve import is_curve_point
from harness.reports.runfiles import load_samples
from harness.reports.verdict import Verdict
from harness.spec.record import Results, RunRecord
from harness.spec.record_efficiency import TrainingFigures

FULL_EPOCHS = 3  # what "full training" means in the estimate: the whole split, 3 epochs


def annotate(
    results: Results, run_dir: Path, task: str, runs: list[RunRecord], verdict: Verdict
) -> Verdict:
    """The verdict with the lower-bound and nearest-neighbour notes added to its reasons."""
    runs = [r for r in runs if not is_curve_point(r)]  # learning-curve cells are partial on purpose
    metric = verdict.metric
    reasons = list(verdict.reasons)
    changes = list(verdict.would_change)
    partial = [(r, share) for r in runs if (share := training_share(r)) and share["partial"]]
    notes = [lower_bound_text(r, share) for r, share in partial]
    picked = next((r for r in runs if r.arm == verdict.recommended), None)
    for r, share in partial:
        changes.append(full_training_text(r, share, results.suite_path))
    if partial and picked is not None and not picked.changes_weights:
        notes.append(
            "this does not rule out fine-tuning: "
            + ", ".join(f"`{r.arm}`" for r, _ in partial)
            + " trained on part of the data, and a lower bound alone is no case against it"
        )
    if is_label_task(results, task):
        notes += cut_label_notes(run_dir, runs)
        if metric:
            notes += neighbour_notes(results, run_dir, task, runs, metric)
    return replace(verdict, reasons=notes + reasons, would_change=changes)


def training_share(run: RunRecord) -> dict | None:
    """Items seen, split size and epochs of a trained run (None: not trained, or a record from
    before shares were recorded)."""
    training = run.efficiency.training or TrainingFigures()
    seen, split = training.train_items, training.train_split_items
    if not run.changes_weights or not seen or not split:
        return None
    epochs = (training.epochs_run if training.has("epochs_run") else training.epochs) or 0
    planned = training.epochs or epochs
    return {
        "seen": seen,
        "split": split,
        "epochs": planned,
        "partial": seen < split or planned < 1,
        "tokens_per_s": training.tokens_per_s,
        "real_tokens": training.real_tokens,
        "epochs_run": epochs,
        "device": training.device,
    }


def lower_bound_text(run: RunRecord, share: dict) -> str:
    epochs = f"{share['epochs']:g} epoch" + ("" if share["epochs"] == 1 else "s")
    return (
        f"`{run.arm}` saw {share['seen']:,} of {share['split']:,} training items "
        f"({epochs}): its score is a lower bound"
    )


def full_training_text(run: RunRecord, share: dict, suite_path: str | None) -> str:
    """What training on the whole split for FULL_EPOCHS would take at the measured rate."""
    suite = suite_path or "SUITE"
    how = (
        f"on a GPU, drop max_train_items from `{run.arm}` and set epochs: {FULL_EPOCHS}, then "
        f"`adaptbench run {suite} --arms {run.arm}`"
    )
    rate, tokens, done = share["tokens_per_s"], share["real_tokens"], share["epochs_run"]
    if not rate or not tokens or not done:
        return f"full training of `{run.arm}` ({share['split']:,} items): {how}"
    per_item = tokens / (share["seen"] * done)
    full = per_item * share["split"] * FULL_EPOCHS
    minutes = full / rate / 60
    where = f" on {share['device']}" if share["device"] else ""
    return (
        f"full training of `{run.arm}` ({share['split']:,} items x {FULL_EPOCHS} epochs, "
        f"about {full:,.0f} tokens) would take about {minutes:,.0f} minutes at its measured "
        f"{rate:,.0f} tokens/s{where}; {how}"
    )


def is_label_task(results: Results, task: str) -> bool:
    if task not in results.tasks:
        return False
    style = results.tasks[task].style
    return style is not None and style.answer_style == "label"


def cut_label_notes(run_dir: Path, runs: list[RunRecord]) -> list[str]:
    """Arms whose prompts could not list every label within the prompt budget."""
    out = []
    for r in runs:
        if r.has("item_scores") or not r.samples:  # a baseline: no samples to read
            continue
        listed = [
            row.extras()["labels_listed"]
            for row in load_samples(run_dir, r)
            if "labels_listed" in row.extras()
        ]
        if listed:
            out.append(
                f"`{r.arm}`: {len(listed)} prompt(s) listed only {min(listed)}-{max(listed)} "
                "labels, all the prompt budget held; `scoring: choice` scores every label"
            )
    return out


def neighbour_notes(
    results: Results, run_dir: Path, task: str, runs: list[RunRecord], metric: str
) -> list[str]:
    """Nearest-neighbour lookup quoted, and each fine-tune set against it (paired test)."""
    knn = next((r for r in runs if r.kind == "retrieval_only"), None)
    trained = [r for r in runs if r.changes_weights]
    if knn is None:
        return [
            "no nearest-neighbour reference: add `retrieval_only` (params {k: 1}) over the train "
            "items; a fine-tune of a label task should beat looking up the nearest train item"
        ]
    if metric not in knn.metrics or knn.metrics[metric].value is None:
        return []
    m = knn.metrics[metric]
    notes = [
        f"nearest-neighbour lookup (`{knn.arm}`: the nearest train item's label) scores "
        f"{m.value:.3f} [{m.ci_low or 0:.2f}, {m.ci_high or 0:.2f}] {metric}"
    ]
    definitions = results.metric_definitions
    hib = definitions[metric].higher_is_better if metric in definitions else None
    seed = results.environment.seed if results.environment.has("seed") else 0
    base_scores = item_scores(run_dir, knn)
    comps = [
        c
        for r in trained
        if (
            c := paired(
                task,
                metric,
                knn.arm,
                base_scores,
                r.arm,
                item_scores(run_dir, r),
                hib is not False,
                seed,
            )
        )  # fmt: skip
    ]
    adjust(comps)
    shares = {r.arm: training_share(r) for r in trained}
    for c in comps:
        delta = c.result.delta
        share = shares[c.b]  # every compared arm is a trained one
        lower = " (at its training share, a lower bound)" if share and share["partial"] else ""
        if c.verdict == "better":
            notes.append(
                f"`{c.b}` beats nearest-neighbour lookup by {abs(delta):.3f} (p={c.p_adjusted:.2g})"
            )
        else:
            notes.append(
                f"`{c.b}` does not beat nearest-neighbour lookup ({delta:+.3f}, "
                f"p={c.p_adjusted:.2g}){lower}: a fine-tune that does not beat looking up the "
                "nearest train item is not worth its training cost"
            )
    return notes
