"""Runs the (task x arm) matrix of a suite: plan the cells, reuse the finished ones, hand the
rest to an executor as units (`harness.run.plan`), write each record as it comes back, then
results.json and the reports.

Each cell is keyed by a content hash of everything that decides its result (`harness.run.keys`
computes it, `harness.run.store` keeps finished cells); a rerun reuses a finished cell unless
something it depends on changed or `force` is set. When only its scoring inputs changed (metrics, their code), its
stored predictions (`harness.run.predictions`) are re-scored and nothing is generated. A cell
that fails becomes a record with a reason and the other cells still run.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.arms import ARMS
from harness.common import distributed
from harness.common.board import CACHED, DONE, FAILED, LOST, Board
from harness.common.files import missing_dirs, remove_empty, write_json_atomic
from harness.common.log import log
from harness.data.tasks import Item, TaskData, leakage_warning, load_task
from harness.metrics import (
    METRICS,
    METRICS_VERSION,
)
from harness.models.backend import LOGLIKELIHOOD_BACKENDS
from harness.models.resolve import (
    ModelError,
    ResolvedModel,
    pick_device,
    pick_dtype,
    resolve_model,
)
from harness.models.vllm_engine import engine_version
from harness.reports.costs import cost_summary
from harness.reports.curve import learning_curves
from harness.reports.write import write_reports
from harness.run.cell import Cell
from harness.run.checks import similarity_embedder_problem
from harness.run.context import RunContext
from harness.run.evaluate import ceiling, failed_record, join_training, utc_now
from harness.run.executors import Executor, ExecutorError, LocalExecutor
from harness.run.keys import cell_keys
from harness.run.knowledge import run_knowledge
from harness.run.plan import RunSetup, plan_units, register_context
from harness.run.predictions import load_predictions
from harness.run.seeds import seed_groups, variant_groups
from harness.run.store import find_cached, store_cell
from harness.run.units import TRAIN, Lost, Unit
from harness.spec.config import ArmSpec, SpecError, SuiteSpec
from harness.spec.record import SCHEMA_VERSION, Results


@dataclass
class RunResult:
    out_dir: Path
    records: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.records if r["status"] != "ok"]


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
    if distributed.world_size() > 1 and executor.name != "local":
        raise ExecutorError(
            f"--executor {executor.name} under accelerate launch / torchrun: choose one (a unit "
            "that needs several GPUs gets them from the executor)"
        )
    created = missing_dirs(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    executor.start()
    try:
        return _run_planned(
            suite, out_dir, arm_specs, limit, force, strict_leakage, progress, suite_path, executor
        )
    except BaseException:
        remove_empty(created)  # a run that stops before writing anything leaves no folder
        raise
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
    local = executor.name == "local"
    # The driver's own context (the ceiling, the environment record) runs where the driver is;
    # under Ray that may be a machine without the cluster's GPUs.
    here = device if local or device != "cuda" else pick_device("auto")
    ctx = RunContext(
        suite=suite, device=here, dtype=pick_dtype(suite.model.dtype, here), progress=progress
    )
    model = resolve_model(suite.model, progress=progress)
    models = resolve_arm_models(suite, arm_specs, model, device, dtype, progress)
    env = ctx.environment()
    setup = RunSetup(
        secrets.token_hex(8), suite, device, dtype, progress, force, out_dir if local else None
    )
    register_context(setup, ctx)
    tasks_info: dict[str, Any] = {}
    records: dict[str, dict] = {}  # by cell name, in plan order
    pending: list[Cell] = []
    planned: list[Cell] = []  # every cell, finished or not: the knowledge drills read them
    for task_spec in suite.tasks:
        task = load_task(task_spec, strict_leakage=strict_leakage)
        items = select_items(task.eval, limit, suite.seed)
        if limit is not None and limit > len(task.eval):
            log(
                f"warning: --limit {limit} is above the {len(task.eval)} eval items of task "
                f"'{task_spec.name}': all of them are scored"
            )
        problem = similarity_embedder_problem(suite, task, download=True)
        if problem:  # before the ceiling and any cell, which would need it
            raise SpecError(f"{suite_path or suite.name}: {problem}")
        tasks_info[task_spec.name] = _task_info(task, items)
        if distributed.is_main():
            tasks_info[task_spec.name]["ceiling"] = ceiling(ctx, task, items, model.path)
            _log_style(task)
        if task.leakage.get("total"):
            where = f"see results.json tasks.{task_spec.name}.leakage"
            log(f"{leakage_warning(task_spec.name, task.leakage)}; {where}")
        for arm_spec in arm_specs:
            check_backend(suite, task, arm_spec)
            cell_model, cell_device, cell_dtype = models[
                suite.model_for(arm_spec).model_dump_json()
            ]
            pkey, key = cell_keys(
                suite, task, items, arm_spec, cell_model.fingerprint, cell_dtype, cell_device
            )
            cell = Cell(cell_model, task, items, arm_spec, ctx.seed_for(arm_spec), key, pkey)
            planned.append(cell)
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
    units = plan_units(ctx, setup, pending, executor)
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
    _write_results(payload, ctx, planned, records, out_dir, suite_path)
    return result


def _write_results(
    payload: dict, ctx, planned: list, records: dict, out_dir: Path, suite_path: Path
) -> None:
    """What is computed from the finished cells (knowledge drills, costs, learning curves),
    then results.json and the reports."""
    payload["knowledge"] = run_knowledge(ctx, planned, records, out_dir, suite_path)
    results = Results.model_validate(payload)
    # priced inputs and outputs (reports.costs); the decision metric over train_fractions
    results.costs = cost_summary(results)
    results.learning_curves = learning_curves(results)
    payload |= results.model_dump(mode="json", include={"costs", "learning_curves"})
    write_json_atomic(out_dir / "results.json", payload)
    write_reports(out_dir, results)


def resolve_arm_models(
    suite: SuiteSpec,
    arm_specs: list[ArmSpec],
    suite_model: ResolvedModel,
    device: str,
    dtype: str,
    progress: bool,
) -> dict[str, tuple[ResolvedModel, str, str]]:
    """Each model the cells run on (the suite's and the arms' own), with its device and dtype,
    resolved before any cell runs: a missing folder, an unreachable endpoint, a rejected key or
    a model the server does not serve stops the run here, naming the setting."""
    out = {suite.model.model_dump_json(): (suite_model, device, dtype)}
    for arm_spec in arm_specs:
        spec = suite.model_for(arm_spec)
        key = spec.model_dump_json()
        if key in out:
            continue
        if spec.backend == "vllm" and engine_version() is None:
            raise ModelError(_NO_VLLM.format(arm=arm_spec.label))
        resolved = resolve_model(spec, progress=progress)
        here = pick_device(spec.device) if spec.in_process else device
        out[key] = (resolved, here, pick_dtype(spec.dtype, here) if spec.in_process else "server")
    if suite.model.backend == "vllm" and engine_version() is None:
        raise ModelError(_NO_VLLM.format(arm="every arm"))
    return out


_NO_VLLM = (
    "model.backend vllm ({arm}): vLLM is not installed in this environment; `make vllm` "
    "builds .venv-vllm with the CPU build (run `.venv-vllm/bin/adaptbench` from there), and "
    "`pip install vllm` adds the CUDA build on a GPU machine"
)


def check_backend(suite: SuiteSpec, task: TaskData, arm_spec: ArmSpec) -> None:
    """What an arm needs of its model's backend, checked before any cell runs: weights in this
    process to train, log-likelihoods to score choices, an engine path for its artifact."""
    spec = suite.model_for(arm_spec)
    kind = ARMS[arm_spec.arm]
    where = f"arm '{arm_spec.label}' on model {spec.name!r} (backend {spec.backend})"
    if kind.changes_weights and not spec.in_process:
        raise ModelError(
            f"{where}: {arm_spec.arm} trains weights, which needs them in this process; give "
            "the arm a `model:` on backend hf or vllm"
        )
    if task.spec.scoring == "choice" and spec.backend not in LOGLIKELIHOOD_BACKENDS:
        raise ModelError(
            f"{where}: task '{task.spec.name}' is scored by choice_accuracy (log-likelihood of "
            "each choice), which an OpenAI-compatible API does not return; use "
            "`scoring: generate` or a backend in this process"
        )
    if arm_spec.arm == "qlora" and spec.backend == "vllm":
        raise ModelError(
            f"{where}: a QLoRA adapter is evaluated over its 4-bit base, which this backend "
            "does not load; run qlora on backend hf"
        )


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
        what = (
            f"its worker was lost after {outcome.attempts} attempt(s)"
            if outcome.attempts
            else "it never started (the training unit it waits for was lost)"
        )
        reason = f"{what}: {outcome.reason}; finished cells are kept, rerun to retry this one"
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
        "created": utc_now(),
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
        # The arm class is the authority on its role (records cached before roles lack it).
        "runs": [r | {"role": ARMS[r["kind"]].role} for r in result.records],
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
