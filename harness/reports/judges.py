"""The report's judge section: who judged the judged metrics, how far the judge's repeats agreed,
how far it agreed with labels (when `judge-check RUN_DIR --labels FILE` wrote
`judge_check.json` into the run folder), and what the judging cost, apart from the arms'.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.metrics.judged import GROUNDING_METRICS, JUDGE_METRICS
from harness.spec.record import RunRecord
from harness.spec.record_judges import (
    DetectorCheck,
    GroundingInfo,
    JudgeCheck,
    JudgeInfo,
    Judges,
    JudgeUsage,
    RepeatAgreement,
)

CHECK_FILE = "judge_check.json"  # written by `adaptbench judge-check RUN_DIR --labels FILE`
NO_LABELS = "no labels (run `adaptbench judge-check RUN_DIR --labels FILE`)"
COLUMNS = ["arm", "metric", "value", "judge", "repeat agreement", "label agreement", "judge cost"]


def _num(v, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def label_checks(run_dir: Path | None) -> dict[str, DetectorCheck]:
    """Each detector's figures against labels, by name, when the run folder holds them."""
    if run_dir is None:
        return {}
    try:
        data = json.loads((Path(run_dir) / CHECK_FILE).read_text(encoding="utf-8"))
        return {d.detector: d for d in JudgeCheck.model_validate(data).detectors}
    except (OSError, ValueError):  # no file, not JSON, or not a check's shape
        return {}


def label_text(check: DetectorCheck | None) -> str:
    if check is None or check.auc is None or check.auc.value is None:
        return NO_LABELS
    a, k = check.auc, check.kappa
    return (
        f"AUC {_num(a.value)} [{_num(a.ci_low)}, {_num(a.ci_high)}], Cohen's kappa "
        f"{_num(k.value)} (on all {check.n} labelled answers of the run)"
    )


def repeat_text(agreement: RepeatAgreement | None) -> str:
    if agreement is None or (agreement.repeats or 0) < 2:
        return "1 repeat: not measured"
    return (
        f"{agreement.repeats} repeats: Fleiss kappa {_num(agreement.fleiss_kappa)}, "
        f"unanimous {_num(agreement.unanimous, 2)}, mean spread "
        f"{_num(agreement.spread_mean, 2)}"
    )


def judge_rows(runs: list[RunRecord], run_dir: Path | None = None) -> list[list[str]]:
    """One row per (arm, judged metric) of the task's runs (COLUMNS)."""
    checks = label_checks(run_dir)
    rows = []
    for r in runs:
        part = r.judges or Judges()
        for name in (*JUDGE_METRICS, *GROUNDING_METRICS):
            if name not in r.metrics or not r.metrics[name].n:
                continue
            m = r.metrics[name]
            if name in GROUNDING_METRICS:
                g = part.grounding or GroundingInfo()
                who = f"grounding model {Path(str(g.path if g.has('path') else '?')).name}"
                cost = f"{g.pairs} pairs, {_num(g.seconds, 1)} s"
                agree = "single pass (deterministic)"
            else:
                j = part.judge or JudgeInfo()
                rubric = f"{Path(str(j.rubric)).name} ({str(j.rubric_digest)[:8]})"
                who = f"{j.model} ({j.backend}), rubric {rubric}"
                u = j.usage or JudgeUsage()
                cost = (
                    f"{u.prompts} prompts, {u.prompt_tokens:,}+"
                    f"{u.new_tokens:,} tokens, {_num(u.seconds, 1)} s"
                    + (f", {u.unparsed} unparsed" if u.unparsed else "")
                )
                agree = repeat_text(
                    j.answer_correctness if name == "answer_correctness" else j.groundedness
                )
            rows.append(
                [
                    r.arm,
                    name,
                    f"{_num(m.value)} (n {m.n})",
                    who,
                    agree,
                    label_text(checks[name]) if name in checks else NO_LABELS,
                    cost,
                ]
            )
    return rows


def judge_lines(runs: list[RunRecord], run_dir: Path | None = None) -> list[str]:
    """The Markdown judge section of a task (nothing when no metric was judged)."""
    rows = judge_rows(runs, run_dir)
    if not rows:
        return []
    lines = ["", "### Judged metrics and how far to trust them", ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    lines += [
        "",
        "Judge cost is the judge's own (prompt+generated tokens, seconds), not counted in the "
        "arms' efficiency. Repeats show the rubric's examples in different orders; a low kappa "
        "means the score moves with them.",
    ]
    return lines


def decision_note(
    metric: str | None, runs: list[RunRecord], run_dir: Path | None = None
) -> str | None:
    """What the verdict says when it was decided on a judged metric: which judge, how well it
    agreed with itself and with labels."""
    if metric not in (*JUDGE_METRICS, *GROUNDING_METRICS):
        return None
    rows = [row for row in judge_rows(runs, run_dir) if row[1] == metric]
    if not rows:
        return f"decided on the judged metric {metric}, which no judge scored"
    _, _, _, who, agree, labels, _ = rows[0]
    return f"decided on the judged metric {metric}: judge {who}; {agree}; labels: {labels}"
