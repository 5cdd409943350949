"""The keys of a cell, each defined here once.

A cell's prediction key (`prediction_hash`) covers what decides its predictions: model weights,
items, task and arm parameters, seed, the code that predicts; its full key (`full_key`) adds its
scoring inputs (`SCORING_INPUTS`: the metrics, their code, the embedder, judges). The full key
names the finished cell in the cell store (harness.run.store), the prediction key its stored
predictions (harness.run.predictions), which are re-scored when only the scoring inputs changed.
The knowledge drills' label store has a key of its own (harness.run.knowledge), built from
`LABELS_TASK_EXCLUDED`. A change here changes users' keys: every cached cell is then computed
again (tests/test_cache.py pins what must and must not move a key).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from harness.common.fingerprint import code_fingerprint
from harness.common.itemhash import item_hash
from harness.data.tasks import Item, TaskData
from harness.engine.retention import data_fingerprint
from harness.engine.retrieval import embedder_key
from harness.metrics import METRICS_VERSION
from harness.models.vllm_engine import engine_version
from harness.run.judging import judge_inputs
from harness.run.predictions import PREDICTIONS_FORMAT
from harness.run.scoring import task_metrics
from harness.spec.config import ArmSpec, SuiteSpec
from harness.spec.record import RECORD_VERSION

# Task-spec fields that decide no prediction: `metrics` only picks what is scored, and
# `leakage_threshold` only the leakage report (and, for a split items file, which items land in
# which split: the items are hashed, so that reaches the key through them). `abstain_patterns`
# is not among them: arms decide `Prediction.abstained` when they predict (a choice-scored arm
# never abstains, retrieval_only tests its top chunk), so a pattern edit predicts again.
# `judge` and `grounding_model` decide judged scores only (harness.run.judging).
SCORING_ONLY_TASK_FIELDS = frozenset({"metrics", "leakage_threshold", "judge", "grounding_model"})

# The task-spec fields the knowledge drills' label store leaves out of its key (the fields that
# were scoring-only when the drills were written: kept as they are, so that labelled items stay
# reused). Closed-book labels depend on the task's wording and items, not on how it is scored.
LABELS_TASK_EXCLUDED = frozenset({"metrics", "leakage_threshold"})


def cell_keys(
    suite: SuiteSpec,
    task: TaskData,
    items: list[Item],
    arm: ArmSpec,
    model_fp: str,
    dtype: str,
    device: str,
) -> tuple[str, str]:
    """A cell's prediction key and its full key (the prediction key plus its scoring inputs)."""
    pkey = prediction_hash(suite, task, items, arm, model_fp, dtype, device)
    return pkey, full_key(pkey, suite, task)


def prediction_hash(
    suite: SuiteSpec,
    task: TaskData,
    items: list[Item],
    arm: ArmSpec,
    model_fp: str,
    dtype: str,
    device: str,
) -> str:
    """What decides a cell's predictions and its predict-side record, and nothing scoring-only."""
    h = hashlib.sha256()
    parts = {
        "format": PREDICTIONS_FORMAT,
        "model": model_fp,
        "model_spec": suite.model_for(arm).model_dump(),
        # Another engine (or engine version) may answer differently: never reused across them.
        "engine": engine_version() if suite.model_for(arm).backend == "vllm" else None,
        "dtype": dtype,
        "device": device,
        "seed": suite.seed,
        "task": task.spec.model_dump(exclude=_scoring_only_task_parts()),
        "arm": arm.model_dump(exclude={"resources"}),  # where it runs does not change it
        "code": code_fingerprint("prediction"),
        "retention": suite.retention.model_dump() if suite.retention else None,
        "probes": data_fingerprint() if suite.retention else None,
        "retention_code": code_fingerprint("retention") if suite.retention else None,
    }
    folders = folder_embedders(arm)
    if folders:  # only then, so that the keys of every other cell stay as they were
        parts["embedders"] = folders
    h.update(json.dumps(parts, sort_keys=True, default=str).encode())
    for split, split_items in sorted(task.splits.items()):
        h.update(split.encode())
        for it in items if split == "eval" else split_items:
            h.update(item_hash(it).encode())  # the whole item as loaded (harness.common.itemhash)
    if task.corpus:
        for d in task.corpus:
            h.update(item_hash(d).encode())
    return h.hexdigest()[:20]


def _scoring_only_task_parts() -> dict:
    """The task spec's parts that decide scores only; data.fields.cluster groups items for the
    statistics (scoring_inputs keys its values)."""
    return {name: True for name in SCORING_ONLY_TASK_FIELDS} | {"data": {"fields": {"cluster"}}}


def _clusters(task: TaskData) -> str | None:
    """The items' stated clusters, hashed (None when the suite names no cluster column)."""
    if task.spec.data.fields.cluster is None:
        return None
    pairs = sorted((i.id, i.cluster) for items in task.splits.values() for i in items)
    return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()[:16]


# The scoring inputs of the full key, each with the words the re-scoring log line says when it
# changed (`scoring_change`): the one list of them. Those marked optional are in the key only
# when set, so that the keys of every cell without them stay as they were.
SCORING_INPUTS: dict[str, tuple[str, bool]] = {
    "metrics": ("metrics", False),
    "metrics_version": ("METRICS_VERSION", False),
    "code": ("scoring code", False),
    "embedder": ("embedder", False),
    "schema": ("record schema", False),
    "judges": ("judge (model, rubric or repeats)", True),
    "clusters": ("item clusters", True),
}


def scoring_inputs(suite: SuiteSpec, task: TaskData) -> dict:
    """What decides the scores of given predictions: the metrics, their definitions and code,
    the embedder answer_similarity reads, the record's layout, the judges of judged metrics
    and the items' stated clusters."""
    metrics = task_metrics(task)
    values = {
        "metrics": metrics,
        "metrics_version": METRICS_VERSION,
        "code": code_fingerprint("scoring"),
        "embedder": embedder_key(suite.embedder),  # a local folder by its content
        "schema": RECORD_VERSION,
        "judges": judge_inputs(suite, task, metrics),  # empty unless a metric is judged
        "clusters": _clusters(task),
    }
    assert values.keys() == SCORING_INPUTS.keys(), "scoring inputs and their names disagree"
    return {k: v for k, v in values.items() if v or not SCORING_INPUTS[k][1]}


def scoring_change(before: dict[str, Any], now: dict[str, Any]) -> str:
    """What differs between two sets of scoring inputs, in words (for the re-scoring log line)."""
    changed = [word for k, (word, _) in SCORING_INPUTS.items() if before.get(k) != now.get(k)]
    old, new = before.get("metrics") or [], now.get("metrics") or []
    delta = [f"+{m}" for m in new if m not in old] + [f"-{m}" for m in old if m not in new]
    if "metrics" in changed and delta:
        changed[changed.index("metrics")] = f"metrics ({', '.join(delta)})"
    if not changed:
        return "scores missing"
    return ", ".join(changed) + " changed"


def folder_embedders(arm: ArmSpec) -> dict[str, str]:
    """The embedder folders an arm names (in `params` or its `retrieval:` block) by content:
    the arm's parameters hold only their names, and weights changed in place must predict
    again (retrieval, shots picked by similarity)."""
    out: dict[str, str] = {}
    for block in (arm.params, arm.retrieval or {}):
        name = block.get("embedder")
        key = embedder_key(name) if isinstance(name, str) else None
        if key is not None and key != name:
            out[name] = key
    return out


def full_key(prediction_key: str, suite: SuiteSpec, task: TaskData) -> str:
    parts = {"predictions": prediction_key, "scoring": scoring_inputs(suite, task)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]
