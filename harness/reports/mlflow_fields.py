"""What a run folder becomes in MLflow: the parameters, metrics and tags of the suite run (the
parent) and of each cell (a child run), as plain dicts. No MLflow import here; the logging is
in harness/reports/tracking.py.

Names follow one scheme, so a query or a chart in the MLflow UI finds them:
- a metric under its own name, its interval as `<name>.ci_low` / `<name>.ci_high` and its
  item count as `<name>.n` (`recall@k` becomes `recall_at_k`: MLflow names take letters,
  digits and `_ - . / : ` and spaces only);
- efficiency figures as `efficiency.<key>`, phase times as `efficiency.<phase>_seconds`,
  training figures as `training.<key>`, with the loss curves as step series `training.loss`
  and `training.dev_loss`;
- forgetting as `forgetting` (the mean over the probes, with its interval and n), per probe
  `forgetting.<probe>` and the probe's scores `retention.<probe>.base` / `.arm`, perplexity as
  `perplexity.base` / `perplexity.arm`;
- tags under `adaptbench.`: the cell's keys, status and whether this run reused it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from harness.spec.record import status_label

TAG = "adaptbench."
# MLflow's limits on one parameter value and one tag value (mlflow.utils.validation).
_PARAM_CHARS = 6000
_TAG_CHARS = 8000
_BAD_NAME = re.compile(r"[^\w./: -]")
_INTERVAL = ("ci_low", "ci_high", "n")


def metric_key(name: str) -> str:
    """A metric or parameter name as MLflow accepts it."""
    return _BAD_NAME.sub("_", name.replace("@", "_at_"))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _summary(out: dict[str, float], key: str, summary: Any) -> None:
    """`key` = the value, `key.ci_low`, `key.ci_high`, `key.n`: whichever are numbers."""
    if not isinstance(summary, dict):
        return
    for part, name in (("value", key), *((p, f"{key}.{p}") for p in _INTERVAL)):
        number = _number(summary.get(part))
        if number is not None:
            out[name] = number


def cell_metrics(run: dict) -> dict[str, float]:
    """Every metric with its interval, the efficiency and training figures, and forgetting."""
    out: dict[str, float] = {}
    for name, summary in (run.get("metrics") or {}).items():
        _summary(out, metric_key(name), summary)
    eff = run.get("efficiency") or {}
    for key, value in eff.items():
        if _number(value) is not None:
            out[f"efficiency.{metric_key(key)}"] = _number(value)
    calibration = _number((eff.get("calibration") or {}).get("seconds"))
    if calibration is not None:
        out["efficiency.calibration_seconds"] = calibration
    for phase, figures in (eff.get("phases") or {}).items():
        seconds = _number((figures or {}).get("seconds"))
        if seconds is not None:
            out[f"efficiency.{metric_key(phase)}_seconds"] = seconds
    for key, value in (eff.get("training") or {}).items():
        if _number(value) is not None:
            out[f"training.{metric_key(key)}"] = _number(value)
    _forgetting(out, run.get("forgetting") or {})
    return out


def _forgetting(out: dict[str, float], forgetting: dict) -> None:
    _summary(out, "forgetting", forgetting.get("mean"))
    for probe, result in (forgetting.get("probes") or {}).items():
        _summary(out, f"forgetting.{metric_key(probe)}", result)
        for side in ("base", "arm"):
            score = _number((result or {}).get(side))
            if score is not None:
                out[f"retention.{metric_key(probe)}.{side}"] = score
    for side, value in (forgetting.get("perplexity") or {}).items():
        if _number(value) is not None:
            out[f"perplexity.{metric_key(side)}"] = _number(value)


def loss_curves(run: dict) -> dict[str, list[tuple[int, float]]]:
    """The training loss (per step) and dev loss (per evaluation) as (step, value) series."""
    training = (run.get("efficiency") or {}).get("training") or {}
    series = {}
    for name, curve, field in (
        ("training.loss", "loss_curve", "loss"),
        ("training.dev_loss", "dev_loss_curve", "dev_loss"),
    ):
        points = [
            (int(p["step"]), _number(p.get(field)))
            for p in training.get(curve) or []
            if isinstance(p, dict) and isinstance(p.get("step"), int)
        ]
        points = [(step, value) for step, value in points if value is not None]
        if points:
            series[name] = points
    return series


def cell_params(run: dict) -> dict[str, str]:
    """The arm's validated parameters, its retrieval block and seed, as MLflow parameters."""
    spec = run.get("spec") or {}
    arm = spec.get("arm") or {}
    params: dict[str, Any] = {"arm": run.get("kind"), "seed": spec.get("seed")}
    params.update(spec.get("params") or {})
    for key, value in (arm.get("retrieval") or {}).items():
        params[f"retrieval.{key}"] = value
    if arm.get("model"):
        params["model"] = arm["model"]
    return {
        metric_key(k): _text(v, _PARAM_CHARS)
        for k, v in params.items()
        if v is not None and metric_key(k)
    }


def cell_tags(run: dict, reused_from: str | None = None) -> dict[str, str]:
    """The cell's identity, keys and status; `reused` says whether this run computed it."""
    tags = {
        "cell": run.get("id"),
        "task": run.get("task"),
        "arm": run.get("arm"),
        "kind": run.get("kind"),
        "family": run.get("family"),
        "variant": run.get("variant"),
        "status": run.get("status"),
        "status_label": status_label(run),
        "reused": bool(run.get("cached")),
        "rescored": bool(run.get("rescored")),
        "content_hash": run.get("content_hash"),
        "prediction_key": run.get("prediction_key"),
        "changes_weights": run.get("changes_weights"),
        "reason": run.get("reason"),
        "backend": (run.get("backend") or {}).get("kind"),
        "backend_model": (run.get("backend") or {}).get("model"),
        "started": run.get("started"),
        "finished": run.get("finished"),
        "reused_from": reused_from,
    }
    return {TAG + k: _tag(v) for k, v in tags.items() if v is not None}


def _tag(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return _text(value, _TAG_CHARS)


def suite_params(payload: dict) -> dict[str, str]:
    """The suite run's settings: model, seed, limit, device, tasks and arms."""
    env = payload.get("environment") or {}
    model = payload.get("model") or {}
    runs = payload.get("runs") or []
    params = {
        "suite": payload.get("suite"),
        "model": model.get("name"),
        "model_source": model.get("source"),
        "seed": env.get("seed"),
        "limit": payload.get("limit"),
        "device": env.get("device"),
        "device_name": env.get("device_name"),
        "dtype": env.get("dtype"),
        "tasks": ",".join(payload.get("tasks") or {}),
        "arms": ",".join(dict.fromkeys(r.get("arm", "?") for r in runs)),
    }
    return {k: _text(v, _PARAM_CHARS) for k, v in params.items() if v is not None}


def suite_tags(payload: dict, run_key: str, run_dir: str) -> dict[str, str]:
    """What identifies the suite run: its results file's hash (a replay finds the run by it),
    the folder, the code and the model."""
    env = payload.get("environment") or {}
    tags = {
        "kind": "suite_run",
        "run_key": run_key,
        "run_dir": run_dir,
        "suite": payload.get("suite"),
        "suite_path": payload.get("suite_path"),
        "created": payload.get("created"),
        "version": env.get("adaptbench"),
        "git_sha": env.get("git_sha"),
        "model_fingerprint": (payload.get("model") or {}).get("fingerprint"),
    }
    return {TAG + k: _tag(v) for k, v in tags.items() if v is not None}


def suite_metrics(payload: dict) -> dict[str, float]:
    """Counts of the suite run's cells, and the seconds of work this run did itself: a reused
    cell's phases were spent by the run that computed it, so they are not counted here."""
    runs = payload.get("runs") or []
    computed = [r for r in runs if not r.get("cached")]
    seconds = sum(
        _number((phase or {}).get("seconds")) or 0.0
        for r in computed
        for phase in ((r.get("efficiency") or {}).get("phases") or {}).values()
    )
    return {
        "cells": float(len(runs)),
        "cells_ok": float(sum(r.get("status") == "ok" for r in runs)),
        "cells_failed": float(sum(r.get("status") != "ok" for r in runs)),
        "cells_reused": float(len(runs) - len(computed)),
        "cells_computed": float(len(computed)),
        "work_seconds": seconds,
    }
