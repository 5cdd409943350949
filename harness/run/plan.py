"""Planning a run into units (`plan_units`), and what each unit runs: a cell unit evaluates one
cell (`run_cell_unit`); under an executor that plans training (Ray), a training unit trains the
artifact that the cells needing it share (`run_training_unit`, data-parallel over Ray Train with
`train_data_parallel`).

Units carry the run's `RunSetup` (what every unit of a run shares) and run in any process: each
process keeps one `RunContext` per run, so a worker loads the model once for all its units.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

from harness.arms import ARMS
from harness.common import distributed
from harness.common.log import log
from harness.models.resolve import cache_dir
from harness.run.cell import Cell
from harness.run.context import RunContext
from harness.run.evaluate import (
    build_arm,
    classify_failure,
    evaluate_and_store,
    evaluate_cell,
    failed_record,
    seed_everything,
)
from harness.run.executors import Executor
from harness.run.predictions import has_predictions
from harness.run.units import CELL, TRAIN, Resources, Unit
from harness.spec.config import ArmSpec, SuiteSpec


@dataclass(frozen=True)
class RunSetup:
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


def register_context(setup: RunSetup, ctx: RunContext) -> None:
    """The driver's own context: units it runs itself share its loaded model."""
    _CONTEXTS.clear()
    _CONTEXTS[setup.run_id] = ctx


def context_for(setup: RunSetup) -> RunContext:
    ctx = _CONTEXTS.get(setup.run_id)
    if ctx is None:
        _CONTEXTS.clear()  # one run's model in memory at a time
        ctx = RunContext(
            suite=setup.suite, device=setup.device, dtype=setup.dtype, progress=setup.progress
        )
        _CONTEXTS[setup.run_id] = ctx
    return ctx


def run_cell_unit(
    setup: RunSetup, cell: Cell, training: dict | None = None
) -> tuple[dict, list[dict] | None]:
    """A cell unit: its record and per-item rows (rows None when it stored itself, in the
    driver's process). A cell whose training unit failed fails with that reason, without
    training again (one whose training unit was lost never starts: the executor reports it)."""
    ctx = context_for(setup).for_model(setup.suite.model_for(cell.arm))
    env = ctx.environment()
    if training is not None and training["status"] != "ok":
        status, why = training["status"], training["reason"]
        log(f"{cell.label}: {status}: its training failed: {why}")
        record = failed_record(ctx, cell, env, status, f"training failed: {why}")
        record["training_unit"] = training
        return record, []
    if setup.out_dir is not None:
        return evaluate_and_store(ctx, setup.out_dir, cell, env, setup.force), None
    record, rows = evaluate_cell(ctx, cell, env, setup.force)
    if training is not None:
        record["training_unit"] = training  # which unit trained the artifact, and where
    return record, rows


def run_training_unit(
    setup: RunSetup,
    cell: Cell,
    artifact: str,
    processes: int = 1,
    resources: Resources | None = None,
) -> dict:
    """A training unit: the artifact (key `artifact`, from planning) the cell's arm needs,
    trained and saved unless cached; with several `processes`, trained data-parallel by Ray
    Train (`train_data_parallel`)."""
    started = time.perf_counter()
    try:
        if processes > 1:
            stats = train_data_parallel(setup, cell, processes, resources or Resources())
        else:
            stats = _ensure_artifact(setup, cell)
    except Exception as exc:  # the arm's own failure: reported to its cells, never retried
        status, reason = _unwrap_failure(exc)
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


def _ensure_artifact(setup: RunSetup, cell: Cell) -> dict:
    """This process's part in training the cell's artifact: all of it in a single process;
    under a process group, rank 0 trains and saves while the other ranks train alongside."""
    ctx = context_for(setup).for_model(setup.suite.model_for(cell.arm))
    seed_everything(cell.seed)
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
    distributed.init(config["setup"].device)
    try:
        _ensure_artifact(config["setup"], config["cell"])
    except Exception as exc:
        # Ray Train reports a worker's error wrapped in its own; the marker carries the arm's
        # status (diverged, oom, failed) and reason through to the training unit's outcome.
        status, reason = classify_failure(exc)
        raise RuntimeError(f"{_FAILURE_MARK}{status}:{reason}") from exc


_FAILURE_MARK = "adaptbench-arm-failure:"


def _unwrap_failure(exc: Exception) -> tuple[str, str]:
    """The arm's status and reason from a data-parallel training's error, else its own."""
    text = str(exc)
    if _FAILURE_MARK in text:
        status, _, reason = text.split(_FAILURE_MARK, 1)[1].partition(":")
        return status, reason.splitlines()[0].strip()
    return classify_failure(exc)


def train_data_parallel(setup: RunSetup, cell: Cell, processes: int, resources: Resources) -> dict:
    """Train the cell's artifact over `processes` Ray Train workers (NCCL on CUDA, Gloo on CPU),
    with the same data-parallel loop as `accelerate launch`: each step's rows are split between
    the processes and their gradients summed, so the step is the one a single process takes."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    arm = build_arm(context_for(setup).for_model(setup.suite.model_for(cell.arm)), cell.arm)
    cached = arm.finished_stats(cell.task)
    if cached is not None:
        return cached | {"artifact_cached": True}
    per_worker = {"CPU": resources.cpus} | ({"GPU": resources.gpus} if resources.gpus else {})
    trainer = TorchTrainer(
        _train_loop,
        train_loop_config={"setup": setup, "cell": cell, "threads": max(1, int(resources.cpus))},
        torch_config=TorchConfig(backend="nccl" if setup.device == "cuda" else "gloo"),
        scaling_config=ScalingConfig(
            num_workers=processes, use_gpu=setup.device == "cuda", resources_per_worker=per_worker
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


def plan_units(
    ctx: RunContext, setup: RunSetup, cells: list[Cell], executor: Executor
) -> list[Unit]:
    """One unit per cell to run; with an executor that plans training, one training unit per
    distinct artifact, which every cell that needs it waits for."""
    units: list[Unit] = []
    trainings: dict[str, Unit] = {}
    for cell in cells:
        resources = _resources(cell.arm, setup.device, executor.cpus_per_unit)
        after: tuple[str, ...] = ()
        # A cell with stored predictions only re-scores: it needs no trained weights.
        trains = setup.force or not has_predictions(cell.prediction_key)
        if executor.plans_training and ARMS[cell.arm.arm].changes_weights and trains:
            arm = build_arm(ctx.for_model(setup.suite.model_for(cell.arm)), cell.arm)
            artifact = arm.artifact_key(cell.task, cell.model.fingerprint)
            train_id = f"train:{artifact}"
            if train_id not in trainings:
                label = f"{cell.label} (training {artifact})"
                processes = cell.arm.resources.train_processes if cell.arm.resources else 1
                trainings[train_id] = Unit(
                    train_id,
                    label,
                    TRAIN,
                    run_training_unit,
                    (setup, cell, artifact, processes, resources),
                    resources=resources,
                    processes=processes,
                )
                units.append(trainings[train_id])
            after = (train_id,)
        units.append(
            Unit(
                f"cell:{cell.name}",
                cell.label,
                CELL,
                run_cell_unit,
                (setup, cell),
                after,
                resources,
            )
        )
    return units


def _resources(arm: ArmSpec, device: str, cpus_per_unit: float | None) -> Resources:
    """What each unit of the arm asks for: on CUDA one GPU and one CPU (the model runs on the
    GPU; a node's cores are shared by its GPUs' units), else `cpus_per_unit` CPUs; whatever the
    arm's own `resources:` sets replaces that."""
    gpu = device == "cuda"
    cpus = 1.0 if gpu or cpus_per_unit is None else cpus_per_unit
    gpus = 1.0 if gpu else 0.0
    own = arm.resources
    if own is not None:
        cpus = own.cpus if own.cpus is not None else cpus
        gpus = own.gpus if own.gpus is not None else gpus
    return Resources(cpus=cpus, gpus=gpus)
