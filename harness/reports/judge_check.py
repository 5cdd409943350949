"""How far each hallucination detector can be trusted: its scores against human labels.

Detectors are the per-item metrics that flag a wrong or unsupported answer, lexical and judged
alike, each turned so that a higher score means "more likely hallucinated" (DETECTORS). Against
binary labels (`hallucinated: true/false`, or `correct`/a correctness grade in [0, 1], a grade
below 0.5 counting as hallucinated) each gets: its ROC AUC, its accuracy when it flags at score
>= 0.5 (a per-item rate or share over half), and Cohen's kappa of those flags with the labels,
each with a 95% stratified bootstrap interval (harness.common.agreement). Items a detector does
not apply to (an abstaining answer, no passages) are left out of its figures, and its n says so.

Labelled answers come from a labelled set (JSONL: question, gold, passages, answer, label; the
shipped one is suites/data/judge-labels/) or from a run folder's samples plus a labels file
that names items by `id` (and `task`/`arm` where several cells hold the same id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.arms.prompting import is_abstention
from harness.common.agreement import accuracy, auc, cohen_kappa, stratified_interval
from harness.data.tasks import Item
from harness.metrics import Prediction, get_metric
from harness.reports.runfiles import read_samples
from harness.spec.config import DEFAULT_ABSTAIN_PATTERNS

# Detector -> whether its metric's value is turned around (1 - value) to read as hallucination.
DETECTORS = {
    "unsupported_share": False,
    "unsupported_by_context": False,
    "false_answer_rate": False,
    "answer_correctness": True,
    "groundedness": True,
    "contradicted_share": False,
    "grounding_score": True,
}
LEXICAL = ("unsupported_share", "unsupported_by_context", "false_answer_rate")
THRESHOLD = 0.5


class LabelError(ValueError):
    """A labels or labelled-set file that cannot be read; the message names file and line."""


@dataclass
class Labelled:
    """One labelled answer: the item it answers, the prediction, and its label."""

    item: Item
    pred: Prediction
    hallucinated: bool


def label_of(row: dict, where: str) -> bool:
    """A row's label as "hallucinated": `hallucinated`, else `correct` (a bool or a grade)."""
    flag = _as_flag(row.get("hallucinated"))
    if flag is not None:
        return flag
    grade = row.get("correct")
    if _as_flag(grade) is not None:
        return not _as_flag(grade)
    if isinstance(grade, bool):
        return not grade
    if isinstance(grade, (int, float)) and 0 <= grade <= 1:
        return grade < 0.5
    raise LabelError(
        f"{where}: no label: give `hallucinated: true/false` or `correct` (true/false or a "
        "grade in [0, 1])"
    )


def _as_flag(value) -> bool | None:
    """true/false as JSON, 0/1, or the words true, false, yes, no (labels exported from sheets)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
        return value.strip().lower() in ("true", "yes")
    return None


# Other names labelled sets use for the same columns (the first present is read).
ALIASES = {
    "answer": ("answer", "response", "output", "prediction"),
    "passages": ("passages", "contexts", "context", "passage", "source"),
    "gold": ("gold", "answers", "reference", "references"),
}


def _column(row: dict, key: str) -> object:
    return next((row[k] for k in ALIASES[key] if k in row), None)


def _rows(path: Path) -> list[tuple[str, dict]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelError(f"{path}: cannot read ({exc})") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise LabelError(f"{path}:{n}: not JSON ({exc})") from None
        if not isinstance(row, dict):
            raise LabelError(f"{path}:{n}: not a JSON object")
        out.append((f"{path}:{n}", row))
    return out


def load_labelled_set(path: Path) -> list[Labelled]:
    """A labelled set: each row an answer with its question, gold answers and passages."""
    out = []
    for where, row in _rows(path):
        if "question" not in row:
            raise LabelError(f"{where}: missing key 'question'")
        for key in ("answer", "passages"):
            if _column(row, key) is None:
                raise LabelError(f"{where}: missing key {key!r} (or one of {ALIASES[key][1:]})")
        passages = _column(row, "passages")
        passages = [passages] if isinstance(passages, str) else passages
        if not isinstance(passages, list) or not all(isinstance(p, str) for p in passages):
            raise LabelError(f"{where}: `passages` must be a string or a list of strings")
        gold = _column(row, "gold") or ()
        gold = (gold,) if isinstance(gold, str) else tuple(str(g) for g in gold)
        item = Item(
            id=str(row.get("id", where)),
            question=row["question"],
            answers=gold,
            answerable=True,
            source=where,
        )
        answer = str(_column(row, "answer"))
        pred = Prediction(
            output=answer,
            abstained=is_abstention(answer, DEFAULT_ABSTAIN_PATTERNS),
            extra={
                "retrieved": [{"doc_id": f"passage-{i}"} for i in range(len(passages))],
                "passages": passages,
            },
        )
        out.append(Labelled(item, pred, label_of(row, where)))
    if not out:
        raise LabelError(f"{path}: no labelled answers")
    return out


def detector_scores(labelled: list[Labelled], names: list[str]) -> dict[str, list[float | None]]:
    """Each detector's hallucination score per labelled answer (None where it does not apply)."""
    out = {}
    for name in names:
        metric, flip = get_metric(name), DETECTORS[name]
        values = []
        for x in labelled:
            if name == "false_answer_rate" and not x.item.answers:
                values.append(None)  # no gold answer to be false against
                continue
            s = metric(x.item, x.pred)
            values.append(None if s is None else (1.0 - s.value if flip else s.value))
        out[name] = values
    return out


def run_scores(run_dir: Path, labels_path: Path) -> tuple[dict[str, list[float]], list[bool]]:
    """Detector scores read from a run folder's samples, paired with a labels file's labels
    (matched on id, and on task and arm where the label names them)."""
    labels = []
    for where, row in _rows(labels_path):
        if "id" not in row:
            raise LabelError(f"{where}: missing key 'id'")
        labels.append((row, label_of(row, where)))
    scores: dict[str, list[float | None]] = {d: [] for d in DETECTORS}
    truth: list[bool] = []
    for samples in sorted((run_dir / "samples").glob("*.jsonl")):
        task, _, arm = samples.stem.partition("__")
        for row in read_samples(samples):  # checked: a damaged file is an error naming the line
            match = [
                lab
                for r, lab in labels
                if str(r["id"]) == row.id
                and r.get("task", task) == task
                and r.get("arm", arm) == arm
            ]
            if not match:
                continue
            truth.append(match[0])
            for d, flip in DETECTORS.items():
                v = row.score(d)
                scores[d].append(None if v is None else (1.0 - v if flip else v))
    if not truth:
        raise LabelError(f"{labels_path}: no label matches a sample of {run_dir}")
    return {d: v for d, v in scores.items() if any(x is not None for x in v)}, truth


def measure(scores: dict[str, list[float | None]], labels: list[bool], seed: int = 0) -> list[dict]:
    """Each detector's AUC, accuracy and Cohen's kappa against the labels, with 95% CIs."""
    table = []
    for name, values in scores.items():
        keep = [i for i, v in enumerate(values) if v is not None]
        s = np.array([values[i] for i in keep], dtype=float)
        y = np.array([labels[i] for i in keep], dtype=bool)
        row = {"detector": name, "n": len(keep), "positives": int(y.sum()), "threshold": THRESHOLD}
        table.append(row | _figures(s, y, seed))
    return table


def _figures(s: np.ndarray, y: np.ndarray, seed: int) -> dict:
    flags = s >= THRESHOLD
    stats = {
        "auc": lambda idx: auc(s[idx], y[idx]),
        "accuracy": lambda idx: accuracy(flags[idx], y[idx]),
        "kappa": lambda idx: cohen_kappa(flags[idx], y[idx]),
    }
    out = {}
    for key, fn in stats.items():
        value = fn(np.arange(len(s))) if len(s) else None
        lo, hi = stratified_interval(y, fn, seed=seed) if value is not None else (None, None)
        out[key] = {"value": value, "ci_low": lo, "ci_high": hi}
    return out


def _fmt(stat: dict) -> str:
    if stat["value"] is None:
        return "n/a"
    return f"{stat['value']:.3f} [{stat['ci_low']:.3f}, {stat['ci_high']:.3f}]"


def render(table: list[dict], title: str) -> str:
    """The detectors' figures as a Markdown table."""
    lines = [
        f"### {title}",
        "",
        "| detector | n | hallucinated | AUC [95% CI] | accuracy at >= 0.5 | Cohen's kappa |",
        "|---|---:|---:|---|---|---|",
    ]
    for r in table:
        lines.append(
            f"| {r['detector']} | {r['n']} | {r['positives']} | {_fmt(r['auc'])} | "
            f"{_fmt(r['accuracy'])} | {_fmt(r['kappa'])} |"
        )
    lines.append("")
    lines.append(
        "AUC: chance a hallucinated answer scores above a right one (ties count half). "
        "Intervals: 2000 bootstrap resamples within each label class."
    )
    return "\n".join(lines) + "\n"
