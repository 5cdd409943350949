"""Shape checks for what a run folder and a baseline hold, so a damaged or foreign file is bad
input with a message naming it and the key, never a KeyError deep inside a report.

Only the keys and types the readers (reports, compare, gate) rely on are checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class RunFolderError(ValueError):
    """A run folder, samples file or baseline that cannot be used; says which file and key."""


_RESULTS_KEYS: dict[str, type] = {"suite": str, "environment": dict, "tasks": dict, "runs": list}
_REPORT_KEYS: dict[str, type] = {"created": str, "model": dict}
_RUN_KEYS: dict[str, type] = {"task": str, "arm": str, "kind": str, "status": str}
_ENV_KEYS: dict[str, type] = {"device": str, "dtype": str, "seed": int, "adaptbench": str}
_MODEL_KEYS: dict[str, type] = {"name": str, "source": str, "fingerprint": str}
_TASK_KEYS: dict[str, type] = {"eval_items": int, "eval_items_total": int, "splits": dict}
_METRIC_KEYS = ("value", "ci_low", "ci_high", "n")
_BASELINE_KEYS: dict[str, type] = {"suite": str, "environment": dict, "runs": list}
_BASELINE_RUN_KEYS: dict[str, type] = {
    "task": str,
    "arm": str,
    "metrics": dict,
    "item_scores": dict,
}


def _require(obj: Any, keys: dict[str, type], where: str) -> None:
    if not isinstance(obj, dict):
        raise RunFolderError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for key, kind in keys.items():
        if key not in obj:
            raise RunFolderError(f"{where}: missing key {key!r}")
        if not isinstance(obj[key], kind):
            raise RunFolderError(
                f"{where}: key {key!r} must be a {kind.__name__}, got {type(obj[key]).__name__}"
            )


def _check_metrics(run: dict, where: str) -> None:
    metrics = run.get("metrics", {})
    if not isinstance(metrics, dict):
        raise RunFolderError(f"{where}.metrics: expected an object")
    for name, m in metrics.items():
        if not isinstance(m, dict) or not all(k in m for k in _METRIC_KEYS):
            raise RunFolderError(
                f"{where}.metrics.{name}: expected an object with {', '.join(_METRIC_KEYS)}"
            )


def check_results(payload: Any, path: Path) -> dict:
    """A results.json payload as the reports read it (not an adaptbench results file: error)."""
    if not isinstance(payload, dict):
        raise RunFolderError(
            f"{path}: not an adaptbench results file (expected a JSON object, got "
            f"{type(payload).__name__})"
        )
    _require(payload, _RESULTS_KEYS, f"{path}: not an adaptbench results file")
    for i, run in enumerate(payload["runs"]):
        where = f"{path}: runs[{i}]"
        _require(run, _RUN_KEYS, where)
        _check_metrics(run, where)
    return payload


def check_reportable(payload: dict, path: Path) -> dict:
    """What the reports read beyond `check_results`: the run's header and per-task summary."""
    _require(payload, _REPORT_KEYS, f"{path}: not an adaptbench results file")
    _require(payload["environment"], _ENV_KEYS, f"{path}: environment")
    _require(payload["model"], _MODEL_KEYS, f"{path}: model")
    for name, info in payload["tasks"].items():
        _require(info, _TASK_KEYS, f"{path}: tasks.{name}")
    return payload


def check_baseline(data: Any, path: Path) -> dict:
    """A baseline file's payload as `gate` reads it."""
    _require(data, _BASELINE_KEYS, f"{path}: not an adaptbench baseline")
    for i, run in enumerate(data["runs"]):
        where = f"{path}: runs[{i}]"
        _require(run, _BASELINE_RUN_KEYS, where)
        _check_metrics(run, where)
    return data


def read_samples(path: Path) -> list[dict]:
    """The rows of a samples file; a line that does not parse is an error naming the line."""
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RunFolderError(f"{path}: not UTF-8 text (a damaged samples file?)") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RunFolderError(
                f"{path}:{lineno}: samples line does not parse ({exc.msg}); the file is truncated "
                "or damaged: rerun the arm (`adaptbench run ... --force`)"
            ) from None
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            raise RunFolderError(f"{path}:{lineno}: a samples row must be an object with an 'id'")
        scores = row.get("scores", {})
        if not isinstance(scores, dict) or not all(
            isinstance(s, dict) and "value" in s for s in scores.values()
        ):
            raise RunFolderError(f"{path}:{lineno}: 'scores' must map metric -> {{value, ...}}")
        rows.append(row)
    return rows
