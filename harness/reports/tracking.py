"""Log a run folder to MLflow: one parent run per suite run, one child run per cell.

`adaptbench run SUITE --mlflow URI` (or a suite's `tracking:` block) calls `log_or_warn` after
results.json and the reports are written; `adaptbench log-mlflow RUN_DIR` calls
`log_run_folder` on a folder written earlier. Both read only the run folder (results.json, the
records and the samples), so a log can always be replayed from it. What goes where is in
harness/reports/mlflow_fields.py.

Rules:
- The evaluation never depends on the tracker: a server that is down or goes away while the
  run logs is a warning naming the URI and the `log-mlflow` command that replays the log.
- A replay completes the log instead of duplicating it: the parent run is found by the hash of
  results.json, a child run that was logged completely (tag `adaptbench.logged`) is kept, one a
  failure cut short is deleted and logged again.
- A cell this run reused from the cache is tagged `adaptbench.reused=true` (with the child run
  that computed it, when the experiment has it), timed as no work, and left out of the parent's
  `work_seconds`.
- Credentials reach MLflow only through its environment variables (MLFLOW_TRACKING_TOKEN,
  MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD); nothing here reads or writes them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import shlex
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.reports import mlflow_fields as fields
from harness.reports.runfiles import RunFolderError, check_reportable, load_results
from harness.spec.record import Results, RunRecord
from harness.spec.tracking import TrackingSpec, redact_uri, tracking_uri_problem

INSTALL_HINT = 'pip install "adaptbench[mlflow]"'
_COMPLETE = fields.TAG + "logged"
_PARENT = "mlflow.parentRunId"
# A dead server must cost seconds, not MLflow's default of 7 retries with doubling waits
# (minutes); a user's own setting of these variables wins.
_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}
# An experiment adaptbench creates is one of runs and metrics: MLflow 3's UI then opens it on
# its runs table instead of its GenAI (traces) overview.
_EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")


class TrackingError(ValueError):
    """MLflow cannot be used or stopped answering; the message names the URI."""


@dataclass(frozen=True)
class Target:
    """Where to log: a tracking URI and an experiment (None: the suite's name)."""

    uri: str
    experiment: str | None = None


@dataclass
class Logged:
    """What one call logged: the parent run, and how many cells it logged now, kept from an
    earlier (interrupted) call, and tagged as reused from the cache."""

    experiment_id: str
    parent_id: str
    url: str | None
    logged: int
    kept: int
    reused: int

    def summary(self) -> str:
        """One line for the terminal."""
        kept = f", {self.kept} already logged" if self.kept else ""
        reused = f", {self.reused} reused from the cache" if self.reused else ""
        where = self.url or f"experiment {self.experiment_id}, run {self.parent_id}"
        return f"mlflow: {self.logged} cell(s) logged{kept}{reused}: {where}"


def _client(uri: str) -> Any:
    problem = tracking_uri_problem(uri)
    if problem:
        raise TrackingError(f"--mlflow / tracking.mlflow: URI {redact_uri(uri)!r} {problem}")
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise TrackingError(f"logging to MLflow needs the mlflow package: {INSTALL_HINT}") from None
    return MlflowClient(tracking_uri=uri)


@contextmanager
def _quiet_client() -> Iterator[None]:
    """Short HTTP retries and no per-run URL lines for the duration of a log."""
    saved = {k: os.environ.get(k) for k in _HTTP_DEFAULTS}
    for key, value in _HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _why(exc: BaseException) -> str:
    """A failure in one line: the OS error where there is one (connection refused), else the
    exception's first line."""
    text = str(exc)
    found = _ERRNO.search(text)
    line = found.group(0) if found else (text.splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {line}"


def check_target(target: Target) -> None:
    """Before any work: the URI is usable, mlflow is installed and the server answers."""
    client = _client(target.uri)
    with _quiet_client():
        try:
            client.search_experiments(max_results=1)
        except Exception as exc:  # any failure of the client: connection, HTTP, auth
            raise TrackingError(
                f"MLflow at {redact_uri(target.uri)} cannot be used ({_why(exc)}); start the "
                "server, fix the URI, or set MLFLOW_TRACKING_TOKEN if it needs credentials"
            ) from None


def default_target(results: Results, uri: str | None, experiment: str | None) -> Target:
    """Where `log-mlflow` logs a run folder: the options given, else the run's `tracking:`
    block, else MLflow's own MLFLOW_TRACKING_URI."""
    block = results.section("tracking")
    spec = TrackingSpec.model_validate(block) if block else None  # validated when the run ran
    uri = uri or (spec.mlflow if spec else None) or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise TrackingError(
            "no MLflow tracking URI: pass --mlflow URI (or set MLFLOW_TRACKING_URI); the run's "
            "suite has no `tracking:` block"
        )
    return Target(uri, experiment or (spec.experiment if spec else None))


def replay_command(run_dir: Path, target: Target) -> str:
    """The command that logs this run folder again."""
    words = ["adaptbench", "log-mlflow", str(run_dir), "--mlflow", redact_uri(target.uri)]
    words += ["--experiment", target.experiment] if target.experiment else []
    return shlex.join(words)


def log_or_warn(run_dir: Path, target: Target) -> tuple[Logged | None, str | None]:
    """Log a finished run folder; any failure is a warning (the evaluation's files are already
    written and stay as they are), never an error."""
    try:
        return log_run_folder(run_dir, target), None
    except Exception as exc:  # the tracker must not fail an evaluation that finished
        where = f"MLflow at {redact_uri(target.uri)}"
        if isinstance(exc, TrackingError):
            reason = str(exc)  # names the URI already
        else:
            reason = f"{where}: {exc if isinstance(exc, RunFolderError) else _why(exc)}"
        return None, (
            f"{reason}. The log did not finish, but the evaluation is complete and its results "
            f"are in {run_dir}; replay the log with: {replay_command(run_dir, target)}"
        )


def log_run_folder(run_dir: Path, target: Target, results: Results | None = None) -> Logged:
    """Log a run folder as one parent run with a child run per cell (see the module rules).
    `results`: its results.json as `load_results` gave it, when the caller has read it."""
    run_dir = Path(run_dir)
    if results is None:
        results = load_results(run_dir)
    check_reportable(results, run_dir / "results.json")
    run_key = hashlib.sha256((run_dir / "results.json").read_bytes()).hexdigest()
    client = _client(target.uri)
    where = f"MLflow at {redact_uri(target.uri)}"
    with _quiet_client():
        try:
            return _log(client, run_dir, results, run_key, target)
        except TrackingError:
            raise
        except Exception as exc:  # the client's errors have no common base (HTTP, OS, MLflow)
            raise TrackingError(f"{where}: {_why(exc)}") from None


def _log(client: Any, run_dir: Path, results: Results, run_key: str, target: Target) -> Logged:
    experiment_id = _experiment(client, target.experiment or results.suite)
    parent_id, complete = _parent(client, experiment_id, results, run_key, run_dir)
    kept = _kept_children(client, experiment_id, parent_id)
    logged = 0
    for run in results.runs:
        if run.id in kept:
            continue
        _log_cell(client, experiment_id, parent_id, run, run_dir)
        logged += 1
    if logged or not complete:
        _log_suite(client, parent_id, results, run_dir)
    url = None
    if target.uri.startswith(("http://", "https://")):
        url = f"{target.uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{parent_id}"
    reused = sum(r.cached for r in results.runs)
    return Logged(experiment_id, parent_id, url, logged, len(kept), reused)


def _experiment(client: Any, name: str) -> str:
    """The experiment's id, created when missing."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(name, tags=_EXPERIMENT_TAGS)
        except Exception:  # created meanwhile by another process: read it again
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
    if experiment.lifecycle_stage == "deleted":
        raise TrackingError(
            f"MLflow experiment {name!r} (id {experiment.experiment_id}) is deleted: restore "
            "it (mlflow experiments restore) or name another with --experiment / "
            "tracking.experiment"
        )
    return experiment.experiment_id


def _millis(stamp: Any) -> int | None:
    if not isinstance(stamp, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp() * 1000)


def _find(client: Any, experiment_id: str, tags: dict[str, str], most: int = 1) -> list:
    """Live runs whose tags have these values (newest first)."""
    query = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
    return list(
        client.search_runs(
            [experiment_id], query, max_results=most, order_by=["attributes.start_time DESC"]
        )
    )


def _parent(
    client: Any, experiment_id: str, results: Results, run_key: str, run_dir: Path
) -> tuple[str, bool]:
    """The suite run's parent and whether it was logged completely: the one an earlier call
    made for the same results.json, else a new one that starts with the first cell this run
    computed."""
    found = _find(client, experiment_id, {fields.TAG + "run_key": run_key})
    if found:
        return found[0].info.run_id, found[0].data.tags.get(_COMPLETE) == "complete"
    computed = [_millis(r.started) for r in results.runs if not r.cached]
    starts = [m for m in computed if m is not None]
    run = client.create_run(
        experiment_id,
        start_time=min(starts) if starts else _millis(results.created),
        tags=fields.suite_tags(results, run_key, str(run_dir.resolve())),
        run_name=f"{results.suite} {results.created or ''}".strip(),
    )
    return run.info.run_id, False


def _kept_children(client: Any, experiment_id: str, parent_id: str) -> set[str]:
    """Cells an earlier call logged completely; children it left half-done are deleted."""
    kept = set()
    for child in _find(client, experiment_id, {_PARENT: parent_id}, most=10_000):
        cell = child.data.tags.get(fields.TAG + "cell")
        if child.data.tags.get(_COMPLETE) == "complete" and cell:
            kept.add(cell)
        else:
            client.delete_run(child.info.run_id)
    return kept


def _batches(client: Any, run_id: str, metrics=(), params=(), tags=()) -> None:
    """log_batch within MLflow's limits per call (1000 metrics, 100 params, 100 tags)."""
    metrics, params, tags = list(metrics), list(params), list(tags)
    while metrics or params or tags:
        client.log_batch(
            run_id, metrics=metrics[:1000], params=params[:100], tags=tags[:100], synchronous=True
        )
        metrics, params, tags = metrics[1000:], params[100:], tags[100:]


def _log_cell(
    client: Any, experiment_id: str, parent_id: str, run: RunRecord, run_dir: Path
) -> None:
    """One child run: parameters, metrics, loss curves, tags, samples and record; the
    completion tag last."""
    from mlflow.entities import Metric, Param

    reused = run.cached
    origin = None
    if reused and run.content_hash:
        computed = {
            fields.TAG + "content_hash": run.content_hash,
            fields.TAG + "reused": "false",
        }
        earlier = _find(client, experiment_id, {**computed, _COMPLETE: "complete"})
        origin = earlier[0].info.run_id if earlier else None
    now = int(time.time() * 1000)
    start = now if reused else (_millis(run.started) or now)
    end = now if reused else (_millis(run.finished) or now)
    child = client.create_run(
        experiment_id,
        start_time=start,
        tags={**fields.cell_tags(run, origin), _PARENT: parent_id},
        run_name=run.id,
    ).info.run_id
    metrics = [Metric(k, v, end, 0) for k, v in fields.cell_metrics(run).items()]
    for name, points in fields.loss_curves(run).items():
        metrics += [Metric(name, value, end, step) for step, value in points]
    params = [Param(k, v) for k, v in fields.cell_params(run).items()]
    _batches(client, child, metrics, params)
    for folder, path in (("samples", run.samples), ("records", f"records/{run.id}.json")):
        if path and (run_dir / path).is_file():
            client.log_artifact(child, str(run_dir / path), folder)
    client.set_tag(child, _COMPLETE, "complete")
    status = "FINISHED" if run.ok else "FAILED"
    client.set_terminated(child, status=status, end_time=end)


def _log_suite(client: Any, parent_id: str, results: Results, run_dir: Path) -> None:
    """The parent's parameters, counts and reports; its completion tag last. A suite run with
    a cell that did not finish ends FAILED, as `run` exits 1 for it."""
    from mlflow.entities import Metric, Param

    stamp = _millis(results.created) or int(time.time() * 1000)
    metrics = [Metric(k, v, stamp, 0) for k, v in fields.suite_metrics(results).items()]
    params = [Param(k, v) for k, v in fields.suite_params(results).items()]
    _batches(client, parent_id, metrics, params)
    for name in ("results.json", "report.html", "report.md", "results.csv"):
        if (run_dir / name).is_file():
            client.log_artifact(parent_id, str(run_dir / name))
    client.set_tag(parent_id, _COMPLETE, "complete")
    failed = any(not r.ok for r in results.runs)
    client.set_terminated(parent_id, status="FAILED" if failed else "FINISHED", end_time=stamp)
