"""The report's judge section: who judged the judged metrics, how far the judge's repeats agreed,
how far it agreed with labels (when `judge-check RUN_DIR --labels FILE` wrote
`judge_check.json` into the run folder), and what the judging cost, apart from the arms'.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.metrics.judged import GROUNDING_METRICS, JUDGE_METRICS

CHECK_FILE = "judge_check.json"  # written by `adaptbench judge-check RUN_DIR --labels FILE`
COLUMNS = ["arm", "metric", "value", "judge", "repeat agreement", "label agreement", "judge cost"]


def _num(v, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def label_checks(run_dir: Path | None) -> dict[str, dict]:
    """Each detector's figures against labels, by name, when the run folder holds them."""
    if run_dir is None:
        return {}
    try:
        data = json.loads((Path(run_dir) / CHECK_FILE).read_text(encoding="utf-8"))
        return {d["detector"]: d for d in data.get("detectors", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def label_text(check: dict | None) -> str:
    if not check or (check.get("auc") or {}).get("value") is None:
        return "no labels (run `adaptbench judge-check RUN_DIR --labels FILE`)"
    a, k = check["auc"], check["kappa"]
    return (
        f"AUC {_num(a['value'])} [{_num(a['ci_low'])}, {_num(a['ci_high'])}], Cohen's kappa "
        f"{_num(k['value'])} (on all {check['n']} labelled answers of the run)"
    )


def repeat_text(agreement: dict | None) -> str:
    if not agreement or (agreement.get("repeats") or 0) < 2:
        return "1 repeat: not measured"
    return (
        f"{agreement['repeats']} repeats: Fleiss kappa {_num(agreement.get('fleiss_kappa'))}, "
        f"unanimous {_num(agreement.get('unanimous'), 2)}, mean spread "
        f"{_num(agreement.get('spread_mean'), 2)}"
    )


def judge_rows(runs: list[dict], run_dir: Path | None = None) -> list[list[str]]:
    """One row per (arm, judged metric) of the task's runs (COLUMNS)."""
    checks = label_checks(run_dir)
    rows = []
    for r in runs:
        part = r.get("judges") or {}
        for name in (*JUDGE_METRICS, *GROUNDING_METRICS):
            m = (r.get("metrics") or {}).get(name)
            if not m or not m.get("n"):
                continue
            if name in GROUNDING_METRICS:
                g = part.get("grounding") or {}
                who = f"grounding model {Path(str(g.get('path', '?'))).name}"
                cost = f"{g.get('pairs', 0)} pairs, {_num(g.get('seconds'), 1)} s"
                agree = "single pass (deterministic)"
            else:
                j = part.get("judge") or {}
                rubric = f"{Path(str(j.get('rubric'))).name} ({str(j.get('rubric_digest'))[:8]})"
                who = f"{j.get('model')} ({j.get('backend')}), rubric {rubric}"
                u = j.get("usage") or {}
                cost = (
                    f"{u.get('prompts', 0)} prompts, {u.get('prompt_tokens', 0):,}+"
                    f"{u.get('new_tokens', 0):,} tokens, {_num(u.get('seconds'), 1)} s"
                    + (f", {u['unparsed']} unparsed" if u.get("unparsed") else "")
                )
                kind = "answer_correctness" if name == "answer_correctness" else "groundedness"
                agree = repeat_text(j.get(kind))
            rows.append(
                [
                    r["arm"],
                    name,
                    f"{_num(m.get('value'))} (n {m['n']})",
                    who,
                    agree,
                    label_text(checks.get(name)),
                    cost,
                ]
            )
    return rows


def judge_lines(runs: list[dict], run_dir: Path | None = None) -> list[str]:
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


def decision_note(metric: str | None, runs: list[dict], run_dir: Path | None = None) -> str | None:
    """What the verdict says when it was decided on a judged metric: which judge, how well it
    agreed with itself and with labels."""
    if metric not in (*JUDGE_METRICS, *GROUNDING_METRICS):
        return None
    rows = [row for row in judge_rows(runs, run_dir) if row[1] == metric]
    if not rows:
        return f"decided on the judged metric {metric}, which no judge scored"
    _, _, _, who, agree, labels, _ = rows[0]
    return f"decided on the judged metric {metric}: judge {who}; {agree}; labels: {labels}"
