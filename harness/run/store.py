"""The cell store: the keys of a cell, and the cache of finished cells.

A cell's full key covers everything that decides its result (model weights, items, task and
arm parameters, seed, the code that predicts and the code that scores); its prediction key only
what decides its predictions, under which `harness.run.predictions` keeps them for re-scoring. A finished cell is stored under `<cache>/runs/<key>/` with its
samples first and its record last, both atomically, so a record on disk always means a finished
cell; a damaged entry (unparsable record, samples that do not match the record's checksum or
item count) is reported and recomputed, never reused. Identical cells started together take one
OS file lock, so the second reuses the first's result.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from harness.base import distributed
from harness.base.files import write_json_atomic, write_text_atomic
from harness.base.fingerprint import code_fingerprint
from harness.base.itemhash import item_hash
from harness.base.locks import file_lock, lock_path
from harness.base.log import log
from harness.data.tasks import Item, TaskData
from harness.engine.retention import data_fingerprint
from harness.engine.retrieval import embedder_key
from harness.metrics import METRICS_VERSION
from harness.models.resolve import cache_dir
from harness.models.vllm_engine import engine_version
from harness.run.judging import judge_inputs
from harness.run.predictions import PREDICTIONS_FORMAT
from harness.run.scoring import task_metrics
from harness.spec.config import ArmSpec, SuiteSpec
from harness.spec.record import SCHEMA_VERSION

# Task-spec fields that decide no prediction: `metrics` only picks what is scored, and
# `leakage_threshold` only the leakage report (and, for a split items file, which items land in
# which split: the items are hashed, so that reaches the key through them). `abstain_patterns`
# is not among them: arms decide `Prediction.abstained` when they predict (a choice-scored arm
# never abstains, retrieval_only tests its top chunk), so a pattern edit predicts again.
# `judge` and `grounding_model` decide judged scores only (harness.run.judging).
SCORING_ONLY_TASK_FIELDS = frozenset({"metrics", "leakage_threshold", "judge", "grounding_model"})


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
        "probes": _probe_data() if suite.retention else None,
        "retention_code": code_fingerprint("retention") if suite.retention else None,
    }
    folders = folder_embedders(arm)
    if folders:  # only then, so that the keys of every other cell stay as they were
        parts["embedders"] = folders
    h.update(json.dumps(parts, sort_keys=True, default=str).encode())
    for split, split_items in sorted(task.splits.items()):
        h.update(split.encode())
        for it in items if split == "eval" else split_items:
            h.update(item_hash(it).encode())  # the whole item as loaded (harness.base.itemhash)
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


def scoring_inputs(suite: SuiteSpec, task: TaskData) -> dict:
    """What decides the scores of given predictions: the metrics, their definitions and code,
    the embedder answer_similarity reads, and the record's layout."""
    inputs = {
        "schema": SCHEMA_VERSION,
        "metrics": task_metrics(task),
        "metrics_version": METRICS_VERSION,
        "code": code_fingerprint("scoring"),
        "embedder": embedder_key(suite.embedder),  # a local folder by its content
    }
    judges = judge_inputs(suite, task, inputs["metrics"])  # empty unless a metric is judged
    clusters = _clusters(task)  # only when stated, so that every other key stays as it was
    return (
        inputs
        | ({"judges": judges} if judges else {})
        | ({"clusters": clusters} if clusters else {})
    )


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


def _probe_data() -> str:

    return data_fingerprint()


def cache_folder(key: str) -> Path:
    return cache_dir() / "runs" / key


def cell_lock(key: str, label: str) -> AbstractContextManager:
    """One process at a time computes a cell; an identical concurrent run waits, then reuses it.

    Not in a multi-process (multi-GPU) run: its helper ranks decide on their own whether to join
    a cell's training, so rank 0 must not wait for a lock they know nothing about.
    """
    if distributed.active():
        return nullcontext()
    path = lock_path(cache_dir(), "run", key)
    return file_lock(
        path, on_wait=lambda: log(f"{label}: another run is computing this cell; waiting ({path})")
    )


def find_cached(out_dir: Path, task: str, arm: str, key: str, n_items: int) -> dict | None:
    """A finished record with this key: first in the shared cache, then in the output folder.

    The cache entry comes first: it is what the run stored, and placing it replaces an output
    folder's copy, so a record edited by hand there is not reused as it is. An entry whose
    record does not parse or whose samples are missing, truncated or altered is damaged: it is
    reported with its path and passed over (so the cell is recomputed).
    """
    cell = f"{task}__{arm}"
    candidates = [
        (cache_folder(key) / "record.json", cache_folder(key) / "samples.jsonl"),
        (out_dir / "records" / f"{cell}.json", out_dir / "samples" / f"{cell}.jsonl"),
    ]
    for rec_path, samples_path in candidates:
        try:
            text = rec_path.read_text(encoding="utf-8")
        except OSError:
            continue  # no entry here
        try:
            record = json.loads(text)
            if not isinstance(record, dict):
                raise ValueError(f"a JSON {type(record).__name__}, not an object")
        except ValueError as exc:
            _warn_damaged(rec_path, f"the record does not parse ({exc})")
            continue
        if record.get("content_hash") != key or record.get("status") != "ok":
            continue  # another cell's inputs, or a failure: not reusable, not damaged
        problem = samples_problem(samples_path, record, n_items)
        if problem:
            _warn_damaged(samples_path, problem)
            continue
        record.update(id=cell, task=task, arm=arm, cached=True, samples=f"samples/{cell}.jsonl")
        place_cell(out_dir, record, samples_path)
        return record
    return None


# Damaged entries already reported by this process, with the file's state then: a run looks a
# cell up when it plans it and again under the cell's lock, and says so once.
_REPORTED: set[tuple[str, str, tuple[int, int] | None]] = set()


def _warn_damaged(path: Path, problem: str) -> None:
    try:
        st = path.stat()
        state: tuple[int, int] | None = (st.st_size, st.st_mtime_ns)
    except OSError:
        state = None
    seen = (str(path), problem, state)
    if seen not in _REPORTED:
        _REPORTED.add(seen)
        log(f"warning: damaged cache entry {path}: {problem}; recomputing")


def samples_problem(path: Path, record: dict, n_items: int) -> str | None:
    """Why a finished cell's samples file cannot be trusted, or None when it is whole.

    Checked: it exists, matches the sha256 its record holds (records written before the checksum
    skip that), and holds one parseable JSON object per eval item.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return "the samples file is missing"
    if not data:
        return "the samples file is empty"
    expected = record.get("samples_sha256")
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        return "the samples file does not match its record's checksum (truncated or altered)"
    lines = data.decode("utf-8", errors="replace").splitlines()
    for lineno, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except ValueError:
            return f"line {lineno} of the samples file does not parse"
        if not isinstance(row, dict):
            return f"line {lineno} of the samples file is not a JSON object"
    if len(lines) != n_items:
        return f"the samples file has {len(lines)} rows for {n_items} eval items"
    return None


def store_cell(out_dir: Path, record: dict, rows: list[dict]) -> None:
    """Samples first, record last (atomically): a record on disk means a finished run.

    The record holds the samples' checksum, so a damaged samples file is caught on reuse.
    Failed cells go to the output folder only; they are retried on the next run.
    """
    folder = cache_folder(record["content_hash"])
    samples = folder / "samples.jsonl"
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    record["samples_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    write_text_atomic(samples, text)
    if record["status"] == "ok":
        write_json_atomic(folder / "record.json", record)
    place_cell(out_dir, record, samples)


def place_cell(out_dir: Path, record: dict, samples_src: Path) -> None:
    cell = record["id"]
    dst = out_dir / "samples" / f"{cell}.jsonl"
    dst.parent.mkdir(parents=True, exist_ok=True)
    if samples_src.resolve() != dst.resolve():
        tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
        try:
            shutil.copyfile(samples_src, tmp)
            os.replace(tmp, dst)
        except BaseException:  # interrupted or failed: leave no orphan temporary file
            tmp.unlink(missing_ok=True)
            raise
    write_json_atomic(out_dir / "records" / f"{cell}.json", record)
