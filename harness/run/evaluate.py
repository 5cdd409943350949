"""Evaluating one cell: build its arm, predict (or re-score stored predictions), score, record.

A failure of the arm becomes the cell's record (status and reason) and the other cells go on;
`evaluate_cell` reuses the cell's stored predictions when only the scoring changed
(`harness.run.predictions`). The record's shape is `harness.spec.record.RunRecord`.
"""

from __future__ import annotations

import datetime as dt
import random
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from harness.arms import ARMS
from harness.arms.prompting import gold_answer, is_abstention
from harness.common import distributed
from harness.common.calibrate import bracket, calibrate
from harness.common.log import log
from harness.common.measure import Efficiency, phase
from harness.data.tasks import Item, TaskData
from harness.engine.retention import (
    base_measurement,
    forgetting,
    measure,
    not_applicable,
)
from harness.engine.retrieval import RetrievalParams
from harness.engine.training import Diverged
from harness.metrics import (
    CORPUS_PREFIX,
    Prediction,
    annotate_similarity,
    get_metric,
)
from harness.models.resolve import backend_record
from harness.run.cell import Cell
from harness.run.context import RunContext
from harness.run.judging import JUDGED_METRICS, annotate_judgments
from harness.run.keys import scoring_change, scoring_inputs
from harness.run.predictions import load_predictions, note_scoring, store_predictions
from harness.run.scoring import score, task_metrics
from harness.run.store import cell_lock, find_cached, store_cell
from harness.spec.config import ArmSpec
from harness.spec.record import RECORD_VERSION


def evaluate_and_store(ctx: RunContext, out_dir: Path, cell: Cell, env: dict, force: bool) -> dict:
    """Evaluate one cell under its lock and store it, unless a concurrent identical run
    finished it first.

    The lock is the prediction key's: a concurrent run that differs only in what it scores
    waits, then re-scores the predictions the first one stored.
    """
    task, arm = cell.task.spec.name, cell.arm.label
    with cell_lock(cell.prediction_key, cell.label):
        record = None
        if not force:  # a concurrent identical run may have finished it meanwhile
            record = find_cached(out_dir, task, arm, cell.key, len(cell.items))
            if record is not None:
                log(f"{cell.label}: unchanged, reusing the finished run ({cell.key})")
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


def join_training(ctx: RunContext, task: TaskData, arm_spec: ArmSpec) -> None:
    """Rank > 0 of a multi-GPU run: take part in this cell's training, if it trains (rank 0
    evaluates and records). A failure stops this process (and so the launch): rank 0 records it."""
    arm_cls = ARMS[arm_spec.arm]
    if not hasattr(arm_cls, "join_training"):
        return
    seed = ctx.seed_for(arm_spec)
    seed_everything(seed)
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


def _record_head(ctx: RunContext, cell: Cell, env: dict) -> dict[str, Any]:
    """What a record says about the cell before it runs: ids, keys, the resolved spec."""
    task, arm_spec = cell.task, cell.arm
    arm_cls = ARMS[arm_spec.arm]
    params = arm_cls.Params.model_validate(arm_spec.params)
    model = ctx.suite.model_for(arm_spec)
    return {
        "schema_version": RECORD_VERSION,
        "id": cell.name,
        "task": task.spec.name,
        "arm": arm_spec.label,
        "kind": arm_spec.arm,
        "family": arm_spec.family or arm_spec.label,  # the suite arm a seed/variant cell is of
        "variant": arm_spec.variant.name if arm_spec.variant else None,
        "role": arm_cls.role,  # contender, reference or baseline: how reports treat the arm
        "changes_weights": arm_cls.changes_weights,  # read by the verdict (retraining cost)
        "content_hash": cell.key,
        "prediction_key": cell.prediction_key,
        "started": utc_now(),
        "spec": {
            "arm": arm_spec.model_dump(),
            "params": params.model_dump(),
            "task": task.spec.model_dump(),
            "model": model.model_dump()
            | {"resolved_dtype": ctx.dtype, "resolved_device": ctx.device},
            "seed": cell.seed,
        },
        "environment": env,
        "model_fingerprint": cell.model.fingerprint,
        "backend": backend_record(model, cell.model),
    }


def predict_cell(ctx: RunContext, cell: Cell, env: dict) -> tuple[dict, list[Prediction] | None]:
    """Build the cell's arm, prepare and predict (and probe retention): the record with its
    predict-side parts (harness.run.predictions.RECORD_PARTS) and the predictions; a failure
    becomes the record, with None for the predictions."""
    task, items, arm_spec, seed = cell.task, cell.items, cell.arm, cell.seed
    record = _record_head(ctx, cell, env)
    eff = Efficiency(items=len(items))
    seed_everything(seed)
    try:
        arm = build_arm(ctx, arm_spec)
        with phase("prepare") as ph:
            arm.setup(task)
        eff.add(ph)
        if arm.uses_generator:
            _ = ctx.generator  # load the model outside the timed predict phase
        before = calibrate(_local_model(ctx, arm), device=ctx.device)
        with phase("predict") as ph:
            preds = arm.predict(task, items)
        eff.add(ph)
        eff.calibration = bracket(before, calibrate(_local_model(ctx, arm), device=ctx.device))
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
        eff.usage = [p.extra["usage"] for p in preds if "usage" in p.extra]
        counted = getattr(arm.generator(), "token_counts", None) if arm.uses_generator else None
        if counted is not None:  # an endpoint: how its prompt tokens were counted
            record["backend"]["token_counts"] = counted
        if ctx.suite.retention is not None:
            with phase("retention") as ph:
                record["forgetting"] = retention_of(ctx, arm, cell.model.fingerprint)
            eff.add(ph)
        record.update(status="ok", reason=None, efficiency=eff.as_dict())
    except Exception as exc:  # failure is data: record it, keep going with the other cells
        record.update(_failure(cell, exc), efficiency=eff.as_dict())
        preds = None
    record["finished"] = utc_now()
    return record, preds


def _local_model(ctx: RunContext, arm):
    """The transformers model that answers, for the calibration's decode (None: the answers
    come from another engine or no generator, and the matrix product alone is timed)."""
    if not arm.uses_generator or ctx.suite.model.backend != "hf":
        return None
    model = getattr(arm.generator(), "model", None)
    return model if hasattr(model, "generate") and hasattr(model, "config") else None


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
            judges = annotate_judgments(ctx, task, items, preds, metric_names)
            if judges is not None:  # the judges' own cost, apart from the arm's efficiency
                record["judges"] = judges
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
        "finished": utc_now(),
        "cached": False,
        "samples": f"samples/{cell.name}.jsonl",
    }


def _failure(cell: Cell, exc: Exception) -> dict[str, Any]:
    status, reason = classify_failure(exc)
    log(f"{cell.name}: {status}: {reason}")
    return {"status": status, "reason": reason, "traceback": traceback.format_exc(limit=8)}


def ceiling(
    ctx: RunContext, task: TaskData, items: list[Item], model_path: Path | None
) -> dict | None:
    """What a perfect answer scores within the length limit: each gold answer cut to
    `max_new_tokens` model tokens (unanswerable items: the abstain answer), scored like an arm.
    """
    spec = task.spec
    if spec.scoring != "generate":
        return None
    # An endpoint model's tokenizer is the one `endpoint.tokenizer` names, if any: without it
    # the gold answers are not cut (the ceiling is then an upper bound of the ceiling).
    tokenizer = ctx.tokenizer(model_path) if model_path else ctx.endpoint_tokenizer()
    limit = spec.generation.max_new_tokens
    golds = [gold_answer(spec, item) for item in items]
    encoded = tokenizer(golds, add_special_tokens=False)["input_ids"] if golds and tokenizer else []
    preds, cut = [], 0 if tokenizer else None
    for gold, ids in zip(golds, encoded or [[]] * len(golds)):
        if len(ids) > limit:
            gold, cut = tokenizer.decode(ids[:limit], skip_special_tokens=True), cut + 1
        preds.append(Prediction(output=gold, abstained=is_abstention(gold, spec.abstain_patterns)))
    names = [
        n for n in task_metrics(task) if get_metric(n) is not None or n.startswith(CORPUS_PREFIX)
    ]
    names = [n for n in names if n not in JUDGED_METRICS]  # no judge asked about gold answers
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
    adapted = measure(arm.probe_backend(), spec)
    return forgetting(base, adapted, ctx.seed) | {
        "seconds": adapted["seconds"],  # probing this arm
        "base_seconds": base["seconds"],  # probing the base model (paid once, then cached)
        "base_cached": base["cached"],
    }


def classify_failure(exc: BaseException) -> tuple[str, str]:
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


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
