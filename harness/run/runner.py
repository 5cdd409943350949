"""Runs the (task x arm) matrix of a suite: plan the cells, run or reuse each, write results.

Each cell is keyed by a content hash of everything that decides its result (`harness.run.store`
computes it and keeps finished cells); a rerun reuses a finished cell unless something it depends
on changed or `force` is set. When only its scoring inputs changed (metrics, their code), its
stored predictions (`harness.run.predictions`) are re-scored and nothing is generated. A cell
that fails becomes a record with a reason and the other cells still run. The record's shape is `harness.spec.record.RunRecord`.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import random
import secrets
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.arms import ARMS
from harness.arms.prompting import gold_answer, is_abstention
from harness.base import distributed
from harness.base.board import CACHED, DONE, FAILED, LOST, Board
from harness.base.files import write_json_atomic
from harness.base.fingerprint import environment
from harness.base.log import log
from harness.base.measure import Efficiency, phase
from harness.data.tasks import Item, TaskData, leakage_warning, load_task
from harness.engine.retention import (
    base_measurement,
    forgetting,
    measure,
    not_applicable,
)
from harness.engine.retrieval import Embedder, RetrievalParams
from harness.engine.training import Diverged
from harness.metrics import (
    CORPUS_PREFIX,
    METRICS,
    METRICS_VERSION,
    Prediction,
    annotate_similarity,
    get_metric,
)
from harness.models.resolve import ResolvedModel, cache_dir, pick_dtype, resolve_model
from harness.reports.write import write_reports
from harness.run.cell import Cell
from harness.run.executors import Executor, ExecutorError, LocalExecutor
from harness.run.predictions import (
    load_predictions,
    note_scoring,
    scoring_change,
    store_predictions,
)
from harness.run.scoring import score, task_metrics
from harness.run.seeds import seed_groups, variant_groups
from harness.run.store import cell_keys, cell_lock, find_cached, scoring_inputs, store_cell
from harness.run.units import CELL, TRAIN, Lost, Resources, Unit
from harness.spec.config import ArmSpec, SuiteSpec
from harness.spec.record import SCHEMA_VERSION


@dataclass
class RunContext:
    """What arms get: the suite, the seed and a lazily loaded backend shared by all cells."""

    suite: SuiteSpec
    device: str
    dtype: str
    progress: bool = True
    _backend: Any = None
    _embedders: dict = field(default_factory=dict)
    _tokenizer: Any = None
    _environment: dict | None = None
    model_load_seconds: float | None = None

    def tokenizer(self, model_path: Path):
        """The model's tokenizer, loaded once: the backend's when the model is already loaded."""
        if self._tokenizer is None:
            if self._backend is not None:
                self._tokenizer = self._backend.tokenizer
            else:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(
                    str(model_path), trust_remote_code=self.suite.model.trust_remote_code
                )
        return self._tokenizer

    def environment(self) -> dict:
        """Versions and hardware of the process that runs the cells (computed once)."""
        if self._environment is None:
            self._environment = environment(self.device, self.dtype, self.suite.seed)
        return self._environment

    def embedder(self, name: str):
        """One loaded embedder per name, shared by every arm of the run."""
        if name not in self._embedders:
            self._embedders[name] = Embedder(name, device=self.device)
        return self._embedders[name]

    @property
    def seed(self) -> int:
        return self.suite.seed

    def seed_for(self, arm_spec: ArmSpec) -> int:
        """A cell's seed: the arm's own (`seed`/`seeds`), else the suite's."""
        return self.seed if arm_spec.seed is None else arm_spec.seed

    @property
    def backend(self):
        if self._backend is None:
            from harness.models.hf import HFBackend

            m = self.suite.model
            resolved = resolve_model(m, progress=self.progress)
            log(f"loading {m.name} on {self.device} ({self.dtype})")
            with phase("load_model") as ph:
                self._backend = HFBackend(
                    resolved.path,
                    device=self.device,
                    dtype=self.dtype,
                    batch_size=m.batch_size,
                    chat_template=m.chat_template,
                    system_prompt=m.system_prompt,
                    trust_remote_code=m.trust_remote_code,
                    progress=self.progress,
                )
            self.model_load_seconds = ph.seconds
        return self._backend


@dataclass
class RunResult:
    out_dir: Path
    records: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.records if r["status"] != "ok"]


@dataclass(frozen=True)
class Job:
    """What every unit of one run shares, small enough to send to another process."""

    run_id: str
    suite: SuiteSpec
    device: str
    dtype: str
    progress: bool
    force: bool
    # The output folder, for units that run in the driver's process (the local executor): they
    # store their cell under its lock. Units elsewhere return it and the driver stores it.
    out_dir: Path | None = None


# The run context of each run this process works for (a Ray worker keeps its loaded model from
# one unit to the next of the same run); the driver registers its own.
_CONTEXTS: dict[str, RunContext] = {}


def context_for(job: Job) -> RunContext:
    ctx = _CONTEXTS.get(job.run_id)
    if ctx is None:
        _CONTEXTS.clear()  # one run's model in memory at a time
        ctx = RunContext(suite=job.suite, device=job.device, dtype=job.dtype, progress=job.progress)
        _CONTEXTS[job.run_id] = ctx
    return ctx


def compute_cell(job: Job, cell: Cell, training: Any = None) -> tuple[dict, list[dict] | None]:
    """A cell unit: its record and per-item rows (rows None when it stored itself, in the
    driver's process). A cell whose training unit failed or was lost fails with that reason,
    without training again."""
    ctx = context_for(job)
    env = ctx.environment()
    if isinstance(training, Lost) or (isinstance(training, dict) and training["status"] != "ok"):
        why = training.reason if isinstance(training, Lost) else training["reason"]
        status = "failed" if isinstance(training, Lost) else training["status"]
        log(f"{cell.label}: {status}: its training failed: {why}")
        return failed_record(ctx, cell, env, status, f"training failed: {why}"), []
    if job.out_dir is not None:
        return _run_locked(ctx, job.out_dir, cell, env, job.force), None
    record, rows = evaluate_cell(ctx, cell, env, job.force)
    if isinstance(training, dict):
        record["training_unit"] = training  # which unit trained the artifact, and where
    return record, rows


def train_artifact(
    job: Job, cell: Cell, processes: int = 1, resources: Resources | None = None
) -> dict:
    """A training unit: the artifact the cell's arm needs, trained and saved unless cached;
    with several `processes`, trained data-parallel by Ray Train (`train_data_parallel`)."""
    started = time.perf_counter()
    artifact = build_arm(context_for(job), cell.arm).artifact_key(cell.task, cell.model.fingerprint)
    try:
        if processes > 1:
            stats = train_data_parallel(job, cell, processes, resources or Resources())
        else:
            stats = _ensure_artifact(job, cell)
    except Exception as exc:  # the arm's own failure: reported to its cells, never retried
        status, reason = _classify_failure(exc)
        log(f"{cell.label} training: {status}: {reason}")
        return {"status": status, "reason": reason, "artifact": artifact}
    return {
        "status": "ok",
        "artifact": artifact,
        "cached": bool(stats.get("artifact_cached")),
        "seconds": round(time.perf_counter() - started, 3),
        "host": platform.node(),
        "pid": os.getpid(),
    }


def _ensure_artifact(job: Job, cell: Cell) -> dict:
    """This process's part in training the cell's artifact: all of it in a single process;
    under a process group, rank 0 trains and saves while the other ranks train alongside."""
    ctx = context_for(job)
    _seed_everything(cell.seed)
    arm = build_arm(ctx, cell.arm)
    if arm.retrieves_before_prepare:
        arm.build_retriever(cell.task)
    if distributed.is_main():
        return arm.ensure_artifact(cell.task)
    arm.join_training(cell.task)
    return {}


def _train_loop(config: dict) -> None:
    """One Ray Train worker (its process group is set up, RANK and WORLD_SIZE are set)."""
    import torch

    torch.set_num_threads(config["threads"])
    distributed.init(config["job"].device)
    _ensure_artifact(config["job"], config["cell"])


def train_data_parallel(job: Job, cell: Cell, processes: int, resources: Resources) -> dict:
    """Train the cell's artifact over `processes` Ray Train workers (NCCL on CUDA, Gloo on CPU),
    with the same data-parallel loop as `accelerate launch`: each step's rows are split between
    the processes and their gradients summed, so the step is the one a single process takes."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    arm = build_arm(context_for(job), cell.arm)
    cached = arm.finished_stats(cell.task)
    if cached is not None:
        return cached | {"artifact_cached": True}
    per_worker = {"CPU": resources.cpus} | ({"GPU": resources.gpus} if resources.gpus else {})
    trainer = TorchTrainer(
        _train_loop,
        train_loop_config={"job": job, "cell": cell, "threads": max(1, int(resources.cpus))},
        torch_config=TorchConfig(backend="nccl" if job.device == "cuda" else "gloo"),
        scaling_config=ScalingConfig(
            num_workers=processes, use_gpu=job.device == "cuda", resources_per_worker=per_worker
        ),
        run_config=RunConfig(
            name=f"adaptbench-train-{cell.key}",
            storage_path=str(cache_dir().resolve() / "ray-train"),
        ),
    )
    trainer.fit()
    stats = arm.finished_stats(cell.task)  # what rank 0 saved
    if stats is None:
        raise RuntimeError(f"data-parallel training of {cell.label} ended without an artifact")
    return stats | {"artifact_cached": False}


def run_suite(
    suite: SuiteSpec,
    out_dir: Path,
    arms: list[str] | None = None,
    limit: int | None = None,
    force: bool = False,
    strict_leakage: bool = False,
    progress: bool = True,
    suite_path: str | None = None,
    executor: Executor | None = None,
) -> RunResult:
    """Plan the cells, reuse the finished ones, hand the rest to the executor (this process by
    default), and write each record as it comes back, then results.json and the reports."""
    arm_specs = _select_arms(suite, arms)
    executor = executor or LocalExecutor()
    if distributed.active() and executor.name != "local":
        raise ExecutorError(
            f"--executor {executor.name} under accelerate launch / torchrun: choose one (a unit "
            "that needs several GPUs gets them from the executor)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    executor.start()
    try:
        return _run_planned(
            suite, out_dir, arm_specs, limit, force, strict_leakage, progress, suite_path, executor
        )
    finally:
        executor.close()


def _run_planned(
    suite: SuiteSpec,
    out_dir: Path,
    arm_specs: list[ArmSpec],
    limit: int | None,
    force: bool,
    strict_leakage: bool,
    progress: bool,
    suite_path: str | None,
    executor: Executor,
) -> RunResult:
    device = executor.device(suite.model.device)
    dtype = pick_dtype(suite.model.dtype, device)
    distributed.init(device)  # under accelerate launch / torchrun: one process per GPU
    ctx = RunContext(suite=suite, device=device, dtype=dtype, progress=progress)
    model = resolve_model(suite.model, progress=progress)
    env = ctx.environment()
    local = executor.name == "local"
    job = Job(
        secrets.token_hex(8), suite, device, dtype, progress, force, out_dir if local else None
    )
    _CONTEXTS[job.run_id] = ctx  # units that run in this process share its loaded model
    tasks_info: dict[str, Any] = {}
    records: dict[str, dict] = {}  # by cell name, in plan order
    pending: list[Cell] = []
    for task_spec in suite.tasks:
        task = load_task(task_spec, strict_leakage=strict_leakage)
        items = select_items(task.eval, limit, suite.seed)
        tasks_info[task_spec.name] = _task_info(task, items)
        if distributed.is_main():
            tasks_info[task_spec.name]["ceiling"] = ceiling(ctx, task, items, model.path)
            _log_style(task)
        if task.leakage.get("total"):
            where = f"see results.json tasks.{task_spec.name}.leakage"
            log(f"{leakage_warning(task_spec.name, task.leakage)}; {where}")
        for arm_spec in arm_specs:
            pkey, key = cell_keys(suite, task, items, arm_spec, model.fingerprint, dtype, device)
            cell = Cell(model, task, items, arm_spec, ctx.seed_for(arm_spec), key, pkey)
            record = (
                None
                if force
                else find_cached(out_dir, task_spec.name, arm_spec.label, key, len(items))
            )
            if not distributed.is_main():
                # Rank 0 re-scores stored predictions without training: nothing to join then.
                if record is None and (force or not load_predictions(pkey, len(items), True)):
                    join_training(ctx, task, arm_spec)
                continue
            records[cell.name] = record
            if record is None:
                pending.append(cell)
            else:
                log(f"{cell.label}: unchanged, reusing the finished run ({key})")
    result = RunResult(out_dir)
    if not distributed.is_main():
        return result  # rank 0 runs the cells and writes the results
    units = plan_units(ctx, job, pending, executor, model.fingerprint)
    executor.check(units, suite.model, model.fingerprint)
    board = Board(enabled=progress and not local)
    for unit in units:
        board.add(unit.id, unit.label)
    by_id = {f"cell:{c.name}": c for c in pending}
    for unit, outcome in executor.run(units, board):
        if unit.kind == TRAIN:
            _show_training(board, unit, outcome)
            continue
        record = _finish_cell(
            ctx, out_dir, by_id[unit.id], env, outcome, executor.placement(unit.id)
        )
        records[record["id"]] = record
        board.update(
            unit.id, DONE if record["status"] == "ok" else FAILED, note=record.get("reason") or ""
        )
    result.records = [r for r in records.values() if r is not None]
    payload = _results_payload(suite, suite_path, limit, ctx, env, model, tasks_info, result)
    write_json_atomic(out_dir / "results.json", payload)
    write_reports(out_dir, payload)
    return result


def plan_units(
    ctx: RunContext, job: Job, cells: list[Cell], executor: Executor, model_fp: str
) -> list[Unit]:
    """One unit per cell to run; with an executor that plans training, one training unit per
    distinct artifact, which every cell that needs it waits for."""
    units: list[Unit] = []
    trainings: dict[str, Unit] = {}
    for cell in cells:
        resources = _resources(cell.arm, ctx.device, executor.cpus_per_unit)
        after: tuple[str, ...] = ()
        # A cell with stored predictions only re-scores: it needs no trained weights.
        trains = job.force or not load_predictions(cell.prediction_key, len(cell.items), True)
        if executor.plans_training and ARMS[cell.arm.arm].changes_weights and trains:
            artifact = build_arm(ctx, cell.arm).artifact_key(cell.task, model_fp)
            train_id = f"train:{artifact}"
            if train_id not in trainings:
                label = f"{cell.label} (training {artifact})"
                processes = cell.arm.resources.train_processes if cell.arm.resources else 1
                trainings[train_id] = Unit(
                    train_id,
                    label,
                    TRAIN,
                    train_artifact,
                    (job, cell, processes, resources),
                    resources=resources,
                    processes=processes,
                )
                units.append(trainings[train_id])
            after = (train_id,)
        units.append(
            Unit(f"cell:{cell.name}", cell.label, CELL, compute_cell, (job, cell), after, resources)
        )
    return units


def _resources(arm: ArmSpec, device: str, cpus_per_unit: float) -> Resources:
    """An arm's own `resources:`, else one GPU per unit on CUDA (the model runs there), else
    `cpus_per_unit` CPUs."""
    if arm.resources is not None:
        return Resources(cpus=arm.resources.cpus, gpus=arm.resources.gpus)
    return Resources(cpus=cpus_per_unit, gpus=1.0 if device == "cuda" else 0.0)


def _show_training(board: Board, unit: Unit, outcome: Any) -> None:
    if isinstance(outcome, Lost):
        board.update(unit.id, LOST, note=outcome.reason)
    elif outcome["status"] == "ok":
        board.update(unit.id, CACHED if outcome["cached"] else DONE)
    else:
        board.update(unit.id, FAILED, note=outcome["reason"])


def _finish_cell(
    ctx: RunContext, out_dir: Path, cell: Cell, env: dict, outcome: Any, placement: dict | None
) -> dict:
    """The record of a unit that came back: stored (and placed in the output folder) unless the
    unit already did that in this process. `placement`: where the executor ran it, and in how
    many attempts."""
    if isinstance(outcome, Lost):
        reason = (
            f"its worker was lost ({outcome.reason}) after {outcome.attempts} attempt(s); "
            "finished cells are kept, rerun to retry this one"
        )
        log(f"{cell.label}: failed: {reason}")
        record, rows = failed_record(ctx, cell, env, "failed", reason), []
    else:
        record, rows = outcome
    if placement is not None:
        record["placement"] = placement
    if rows is not None:
        store_cell(out_dir, record, rows)
    return record


def _task_info(task: TaskData, items: list[Item]) -> dict[str, Any]:
    """What results.json says about one task: its sizes, leakage, sources, split and style."""
    return {
        "eval_items": len(items),
        "eval_items_total": len(task.eval),
        "splits": {k: len(v) for k, v in task.splits.items()},
        "leakage": task.leakage,
        "sources": task.sources,  # files and sheets it was built from, with content hashes
        "split": task.split,  # how one items file was split (data.items), else None
        "style": task.style.as_dict() if task.style else None,
    }


def _run_locked(ctx: RunContext, out_dir: Path, cell: Cell, env: dict, force: bool) -> dict:
    """Run one cell under its lock, unless a concurrent identical run finished it first.

    The lock is the prediction key's: a concurrent run that differs only in what it scores
    waits, then re-scores the predictions the first one stored.
    """
    task, arm = cell.task.spec.name, cell.arm.label
    with cell_lock(cell.prediction_key, cell.label):
        record = None
        if not force:  # a concurrent identical run may have finished it meanwhile
            record = find_cached(out_dir, task, arm, cell.key, len(cell.items))
        if record is None:
            record, rows = evaluate_cell(ctx, cell, env, force)
            store_cell(out_dir, record, rows)
            if (
                distributed.active()
                and record["status"] != "ok"
                and ARMS[cell.arm.arm].changes_weights
            ):
                # The other processes may be waiting inside this arm's training: stop them all.
                raise SystemExit(
                    f"{cell.label} failed in a multi-process "
                    f"run ({record['reason']}); finished arms are saved, rerun to go on"
                )
    return record


def _results_payload(
    suite: SuiteSpec,
    suite_path: str | None,
    limit: int | None,
    ctx: RunContext,
    env: dict,
    model: ResolvedModel,
    tasks_info: dict[str, Any],
    result: RunResult,
) -> dict:
    """The whole results.json: the suite, environment, metric definitions, tasks and runs."""
    return {
        "schema_version": SCHEMA_VERSION,
        "suite": suite.name,
        "suite_path": suite_path,
        "created": _now(),
        "limit": limit,
        "suite_spec": suite.model_dump(),
        "environment": env | {"model_load_seconds": ctx.model_load_seconds},
        "model": {
            "name": suite.model.name,
            "source": model.source,
            "fingerprint": model.fingerprint,
        },
        "metric_definitions": {
            name: {
                "higher_is_better": m.higher_is_better,
                "description": m.description,
                "version": METRICS_VERSION,
            }
            for name, m in METRICS.items()
        },
        "tasks": tasks_info,
        "runs": result.records,
        "seed_groups": seed_groups(suite.arms, result.records),
        "variant_groups": variant_groups(result.records),
    }


def _log_style(task: TaskData) -> None:
    st = task.style
    if st is None:
        return
    how = f"inferred: {st.reason}" if st.inferred else "set in the suite"
    log(
        f"task '{task.spec.name}': answer style {st.answer_style} ({how}); max_new_tokens "
        f"{st.max_new_tokens}, prompt budget {st.max_prompt_tokens} tokens"
    )


def _select_arms(suite: SuiteSpec, names: list[str] | None) -> list[ArmSpec]:
    """The cells to run: the named arms (all by default), once per prompt variant and seed.

    The suite's `prompt_variants` apply to arms that prompt a model and train no weights (a
    wording change there costs one generation pass, not a training run; `retrieval_only` reads
    no prompt); an arm's own list applies to it alone.
    """
    if names is not None and not names:
        raise ValueError("--arms: no arm names given (omit it to run every arm)")
    by_label = {a.label: a for a in suite.arms}
    missing = [n for n in names or [] if n not in by_label]
    if missing:
        raise ValueError(
            f"--arms: {missing} not in suite '{suite.name}' (it has: {', '.join(by_label)})"
        )
    chosen = [by_label[n] for n in names] if names else suite.arms
    cells = []
    for arm in chosen:
        kind = ARMS[arm.arm]
        # Wordings matter to arms that prompt a model and train nothing.
        shared = suite.prompt_variants if kind.uses_generator and not kind.changes_weights else None
        cells += arm.cells(shared)
    return cells


def select_items(items: list[Item], limit: int | None, seed: int) -> list[Item]:
    """`limit` items drawn with the suite seed (file order kept), so a subset is not just the head."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit < 1:
        raise ValueError("--limit must be at least 1")
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]


# --------------------------------------------------------------------------------------------
# one cell


def join_training(ctx: RunContext, task: TaskData, arm_spec: ArmSpec) -> None:
    """Rank > 0 of a multi-GPU run: take part in this cell's training, if it trains (rank 0
    evaluates and records). A failure stops this process (and so the launch): rank 0 records it."""
    arm_cls = ARMS[arm_spec.arm]
    if not hasattr(arm_cls, "join_training"):
        return
    seed = ctx.seed_for(arm_spec)
    _seed_everything(seed)
    try:
        arm = build_arm(ctx, arm_spec)
        if arm.retrieves_before_prepare:
            arm.build_retriever(task)
        arm.join_training(task)
    except Exception as exc:
        raise SystemExit(
            f"[adaptbench rank {distributed.rank()}] {task.spec.name} / {arm_spec.label}: {exc}"
        ) from exc


def build_arm(ctx: RunContext, arm_spec: ArmSpec):
    """One cell's arm, with its parameters, seed, retrieval settings and prompt wording."""
    arm_cls = ARMS[arm_spec.arm]
    retrieval = None
    if arm_spec.retrieval is not None:
        retrieval = RetrievalParams.model_validate(arm_spec.retrieval)
    return arm_cls(
        arm_cls.Params.model_validate(arm_spec.params),
        ctx,
        retrieval=retrieval,
        seed=ctx.seed_for(arm_spec),
        variant=arm_spec.variant,
    )


def evaluate_cell(
    ctx: RunContext, cell: Cell, env: dict, force: bool = False
) -> tuple[dict, list[dict]]:
    """A cell's record and samples: its stored predictions re-scored when its prediction key
    has some (unless `force`), else predicted now (and stored when the arm finished)."""
    scoring = scoring_inputs(ctx.suite, cell.task)
    stored = None if force else load_predictions(cell.prediction_key, len(cell.items))
    if stored is None:
        log(f"{cell.label}: running on {len(cell.items)} eval items")
        record, preds = predict_cell(ctx, cell, env)
        if preds is not None:
            store_predictions(cell.prediction_key, preds, record, scoring)
        return score_cell(ctx, cell, record, preds)
    log(
        f"{cell.label}: predictions unchanged, re-scored "
        f"({scoring_change(stored.scored_with, scoring)}); generated nothing"
    )
    record = _record_head(ctx, cell, stored.parts.get("environment", env))
    record.update(stored.parts, status="ok", reason=None, rescored=True)
    record, rows = score_cell(ctx, cell, record, stored.preds)
    if record["status"] == "ok":
        note_scoring(cell.prediction_key, scoring)
    return record, rows


def run_cell(ctx: RunContext, cell: Cell, env: dict) -> tuple[dict, list[dict]]:
    """Run one cell: build its arm, prepare, predict, score; a failure becomes the record."""
    record, preds = predict_cell(ctx, cell, env)
    return score_cell(ctx, cell, record, preds)


def _record_head(ctx: RunContext, cell: Cell, env: dict) -> dict[str, Any]:
    """What a record says about the cell before it runs: ids, keys, the resolved spec."""
    task, arm_spec = cell.task, cell.arm
    arm_cls = ARMS[arm_spec.arm]
    params = arm_cls.Params.model_validate(arm_spec.params)
    return {
        "schema_version": SCHEMA_VERSION,
        "id": cell.name,
        "task": task.spec.name,
        "arm": arm_spec.label,
        "kind": arm_spec.arm,
        "family": arm_spec.family or arm_spec.label,  # the suite arm a seed/variant cell is of
        "variant": arm_spec.variant.name if arm_spec.variant else None,
        "changes_weights": arm_cls.changes_weights,  # read by the verdict (retraining cost)
        "content_hash": cell.key,
        "prediction_key": cell.prediction_key,
        "started": _now(),
        "spec": {
            "arm": arm_spec.model_dump(),
            "params": params.model_dump(),
            "task": task.spec.model_dump(),
            "model": ctx.suite.model.model_dump()
            | {"resolved_dtype": ctx.dtype, "resolved_device": ctx.device},
            "seed": cell.seed,
        },
        "environment": env,
        "model_fingerprint": cell.model.fingerprint,
    }


def predict_cell(ctx: RunContext, cell: Cell, env: dict) -> tuple[dict, list[Prediction] | None]:
    """Build the cell's arm, prepare and predict (and probe retention): the record with its
    predict-side parts (harness.run.predictions.RECORD_PARTS) and the predictions; a failure
    becomes the record, with None for the predictions."""
    task, items, arm_spec, seed = cell.task, cell.items, cell.arm, cell.seed
    record = _record_head(ctx, cell, env)
    eff = Efficiency(items=len(items))
    _seed_everything(seed)
    try:
        arm = build_arm(ctx, arm_spec)
        with phase("prepare") as ph:
            arm.setup(task)
        eff.add(ph)
        if arm.uses_generator:
            _ = ctx.backend  # load the model outside the timed predict phase
        with phase("predict") as ph:
            preds = arm.predict(task, items)
        eff.add(ph)
        if len(preds) != len(items):
            raise RuntimeError(f"arm returned {len(preds)} predictions for {len(items)} items")
        eff.generated_tokens = sum(p.new_tokens for p in preds)
        eff.latencies = [p.latency_s for p in preds]
        eff.retrieval_latencies = [
            p.extra["retrieval_s"] for p in preds if "retrieval_s" in p.extra
        ]
        eff.params_total, eff.params_trainable = arm.parameter_counts()
        eff.extra = arm.stats
        eff.prompt_tokens = [p.extra["prompt_tokens"] for p in preds if "prompt_tokens" in p.extra]
        eff.over_budget = sum(1 for p in preds if p.extra.get("over_budget"))
        if ctx.suite.retention is not None:
            with phase("retention") as ph:
                record["forgetting"] = retention_of(ctx, arm, cell.model.fingerprint)
            eff.add(ph)
        record.update(status="ok", reason=None, efficiency=eff.as_dict())
    except Exception as exc:  # failure is data: record it, keep going with the other cells
        record.update(_failure(cell, exc), efficiency=eff.as_dict())
        preds = None
    record["finished"] = _now()
    return record, preds


def score_cell(
    ctx: RunContext, cell: Cell, record: dict, preds: list[Prediction] | None
) -> tuple[dict, list[dict]]:
    """Score a cell's predictions (None: its prediction failed, the record says why): the
    record with its metrics, and the samples' rows."""
    task, items = cell.task, cell.items
    rows: list[dict] = []
    if preds is not None:
        try:
            metric_names = task_metrics(task)
            if "answer_similarity" in metric_names:
                annotate_similarity(items, preds, ctx.embedder(ctx.suite.embedder))
            rows, metrics = score(task, items, preds, metric_names, ctx.seed)
            record["metrics"] = metrics
        except Exception as exc:  # a metric that fails fails the cell, not the run
            record.update(_failure(cell, exc))
            rows = []
    if record["status"] != "ok":
        record["metrics"] = {}
    record["cached"] = False
    record["samples"] = f"samples/{cell.name}.jsonl"
    return record, rows


def failed_record(ctx: RunContext, cell: Cell, env: dict, status: str, reason: str) -> dict:
    """The record of a cell that did not run to the end for a reason outside its arm."""
    return _record_head(ctx, cell, env) | {
        "status": status,
        "reason": reason,
        "metrics": {},
        "efficiency": Efficiency(items=len(cell.items)).as_dict(),
        "finished": _now(),
        "cached": False,
        "samples": f"samples/{cell.name}.jsonl",
    }


def _failure(cell: Cell, exc: Exception) -> dict[str, Any]:
    status, reason = _classify_failure(exc)
    log(f"{cell.name}: {status}: {reason}")
    return {"status": status, "reason": reason, "traceback": traceback.format_exc(limit=8)}


def ceiling(ctx: RunContext, task: TaskData, items: list[Item], model_path: Path) -> dict | None:
    """What a perfect answer scores within the length limit: each gold answer cut to
    `max_new_tokens` model tokens (unanswerable items: the abstain answer), scored like an arm.
    """
    spec = task.spec
    if spec.scoring != "generate":
        return None
    tokenizer = ctx.tokenizer(model_path)
    limit = spec.generation.max_new_tokens
    golds = [gold_answer(spec, item) for item in items]
    encoded = tokenizer(golds, add_special_tokens=False)["input_ids"] if golds else []
    preds, cut = [], 0
    for gold, ids in zip(golds, encoded):
        if len(ids) > limit:
            gold, cut = tokenizer.decode(ids[:limit], skip_special_tokens=True), cut + 1
        preds.append(Prediction(output=gold, abstained=is_abstention(gold, spec.abstain_patterns)))
    names = [
        n for n in task_metrics(task) if get_metric(n) is not None or n.startswith(CORPUS_PREFIX)
    ]
    if "answer_similarity" in names:
        annotate_similarity(items, preds, ctx.embedder(ctx.suite.embedder))
    _, metrics = score(task, items, preds, names, ctx.seed)
    return {
        "max_new_tokens": limit,
        "answers_cut": cut,
        "metrics": {n: m for n, m in metrics.items() if m.get("n")},
    }


def retention_of(ctx: RunContext, arm, model_fingerprint: str) -> dict:
    """Forgetting of an arm on the suite's retention probes (0 by construction without training)."""

    spec = ctx.suite.retention
    if not arm.changes_weights:
        return not_applicable(spec)
    log(
        f"retention probes ({', '.join(spec.probes)}) on the base model (cached) and on the adapted one"
    )
    base = base_measurement(ctx.backend, spec, model_fingerprint)
    adapted = measure(arm.generator(), spec)
    return forgetting(base, adapted, ctx.seed) | {
        "seconds": adapted["seconds"],  # probing this arm
        "base_seconds": base["seconds"],  # probing the base model (paid once, then cached)
        "base_cached": base["cached"],
    }


def _classify_failure(exc: BaseException) -> tuple[str, str]:
    import torch

    text = f"{type(exc).__name__}: {exc}".strip()
    if isinstance(exc, Diverged):
        return (
            "diverged",
            f"{exc} (hint: lower learning_rate, raise warmup_ratio, or check the data)",
        )
    if (
        isinstance(exc, (torch.OutOfMemoryError, MemoryError))
        or "out of memory" in str(exc).lower()
    ):
        return "oom", text + (
            " (hint: lower model.batch_size, rows_per_step or max_seq_len; turn on gradient_checkpointing; "
            "or use lora/qlora instead of full)"
        )
    return "failed", text


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------------------------
# cache and files


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
