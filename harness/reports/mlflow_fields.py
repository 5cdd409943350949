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

from harness.spec.parts import Part
from harness.spec.record import Forgetting, MetricSummary, Results, RunRecord
from harness.spec.record_efficiency import TrainingFigures

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


def _summary(out: dict[str, float], key: str, summary: MetricSummary | None) -> None:
    """`key` = the value, `key.ci_low`, `key.ci_high`, `key.n`: whichever are numbers."""
    if summary is None:
        return
    for part, name in (("value", key), *((p, f"{key}.{p}") for p in _INTERVAL)):
        number = _number(getattr(summary, part))
        if number is not None:
            out[name] = number


def _numbers(out: dict[str, float], prefix: str, figures: Any) -> None:
    """`prefix.<key>` for each figure that is a number (of a record part or a mapping)."""
    for key, value in figures.items() if isinstance(figures, dict) else figures or ():
        if _number(value) is not None:
            out[f"{prefix}.{metric_key(key)}"] = _number(value)


def _training(run: RunRecord) -> TrainingFigures:
    """A trained arm's statistics (`efficiency.training`; empty for arms that train nothing)."""
    return run.efficiency.training or TrainingFigures()


def cell_metrics(run: RunRecord) -> dict[str, float]:
    """Every metric with its interval, the efficiency and training figures, and forgetting."""
    out: dict[str, float] = {}
    for name, summary in run.metrics.items():
        _summary(out, metric_key(name), summary)
    eff = run.efficiency
    _numbers(out, "efficiency", eff)
    calibration = _number(eff.calibration.seconds if eff.calibration is not None else None)
    if calibration is not None:
        out["efficiency.calibration_seconds"] = calibration
    for phase, figures in eff.phases.items():
        _numbers(out, "efficiency", {f"{phase}_seconds": figures.seconds})
    _numbers(out, "training", _training(run))
    if run.forgetting is not None:
        _forgetting(out, run.forgetting)
    return out


def _forgetting(out: dict[str, float], forgetting: Forgetting) -> None:
    _summary(out, "forgetting", forgetting.mean)
    for probe, result in forgetting.probes.items():
        _summary(out, f"forgetting.{metric_key(probe)}", result)
        # the probe's scores, base and arm, beside its difference
        sides = {side: getattr(result, side, None) for side in ("base", "arm")}
        _numbers(out, f"retention.{metric_key(probe)}", sides)
    _numbers(out, "perplexity", forgetting.perplexity)


def loss_curves(run: RunRecord) -> dict[str, list[tuple[int, float]]]:
    """The training loss (per step) and dev loss (per evaluation) as (step, value) series."""
    training = _training(run)
    series = {}
    for name, curve in (
        ("training.loss", [(p.step, p.loss) for p in training.loss_curve]),
        ("training.dev_loss", [(p.step, p.dev_loss) for p in training.dev_loss_curve]),
    ):
        points = [(step, _number(value)) for step, value in curve]
        points = [(step, value) for step, value in points if value is not None]
        if points:
            series[name] = points
    return series


def cell_params(run: RunRecord) -> dict[str, str]:
    """The arm's validated parameters, its retrieval block and seed, as MLflow parameters."""
    spec = run.spec
    arm = spec.arm  # the suite's arm entry, as validated
    params: dict[str, Any] = {"arm": run.kind, "seed": spec.seed, **_given(spec.params)}
    for key, value in (arm.retrieval or {}).items():
        params[f"retrieval.{key}"] = value
    if arm.model:
        params["model"] = arm.model
    return {
        metric_key(k): _text(v, _PARAM_CHARS)
        for k, v in params.items()
        if v is not None and metric_key(k)
    }


def _given(part: Part) -> dict[str, Any]:
    """The fields of a record part that the file gave (defaults it filled in left out)."""
    return {k: v for k, v in part if part.has(k)}


def cell_tags(run: RunRecord, reused_from: str | None = None) -> dict[str, str]:
    """The cell's identity, keys and status; `reused` says whether this run computed it."""
    backend = run.backend
    tags = {
        "cell": run.id,
        "task": run.task,
        "arm": run.arm,
        "kind": run.kind,
        "family": run.family,
        "variant": run.variant,
        "status": run.status,
        "status_label": run.status_label(),
        "reused": run.cached,
        "rescored": run.rescored,
        "content_hash": run.content_hash,
        "prediction_key": run.prediction_key,
        "changes_weights": run.changes_weights,
        "reason": run.reason,
        "backend": backend.kind if backend else None,
        "backend_model": backend.model if backend else None,
        "started": run.started,
        "finished": run.finished,
        "reused_from": reused_from,
    }
    return {TAG + k: _tag(v) for k, v in tags.items() if v is not None}


def _tag(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return _text(value, _TAG_CHARS)


def suite_params(results: Results) -> dict[str, str]:
    """The suite run's settings: model, seed, limit, device, tasks and arms."""
    env, model = results.environment, results.model
    params = {
        "suite": results.suite,
        "model": model.name if model else None,
        "model_source": model.source if model else None,
        "seed": env.seed,
        "limit": results.limit,
        "device": env.device,
        "device_name": env.device_name,
        "dtype": env.dtype,
        "tasks": ",".join(results.tasks),
        "arms": ",".join(dict.fromkeys(r.arm for r in results.runs)),
    }
    return {k: _text(v, _PARAM_CHARS) for k, v in params.items() if v is not None}


def suite_tags(results: Results, run_key: str, run_dir: str) -> dict[str, str]:
    """What identifies the suite run: its results file's hash (a replay finds the run by it),
    the folder, the code and the model."""
    env = results.environment
    tags = {
        "kind": "suite_run",
        "run_key": run_key,
        "run_dir": run_dir,
        "suite": results.suite,
        "suite_path": results.suite_path,
        "created": results.created,
        "version": env.adaptbench,
        "git_sha": env.git_sha,
        "model_fingerprint": results.model.fingerprint if results.model else None,
    }
    return {TAG + k: _tag(v) for k, v in tags.items() if v is not None}


def suite_metrics(results: Results) -> dict[str, float]:
    """Counts of the suite run's cells, and the seconds of work this run did itself: a reused
    cell's phases were spent by the run that computed it, so they are not counted here."""
    runs = results.runs
    computed = [r for r in runs if not r.cached]
    seconds = sum(
        _number(phase.seconds) or 0.0 for r in computed for phase in r.efficiency.phases.values()
    )
    ok = sum(r.ok for r in runs)
    return {
        "cells": float(len(runs)),
        "cells_ok": float(ok),
        "cells_failed": float(len(runs) - ok),
        "cells_reused": float(len(runs) - len(computed)),
        "cells_computed": float(len(computed)),
        "work_seconds": seconds,
    }
