"""Runs the (task x arm) matrix of a suite.

Each cell is keyed by a content hash of everything that decides its result: model weights,
the items it sees, task and arm parameters, the seed, and the code that predicts and scores.
A finished cell is stored in the cache (and the output folder) with its record written last and
atomically, so a record on disk always means a finished run; a rerun reuses it unless something
it depends on changed or `force` is set. A cell that fails becomes a record with a reason and the
other cells still run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, distributed
from .arms import ARMS
from .config import ArmSpec, SuiteSpec
from .data import Item, TaskData, load_task
from .measure import Efficiency, phase
from .metrics import (
    CORPUS_PREFIX,
    METRICS,
    METRICS_VERSION,
    Prediction,
    default_metrics,
    get_metric,
)
from .models import cache_dir, pick_device, pick_dtype, resolve_model
from .seeds import seed_groups
from .stats import bootstrap_statistic, summarize

SCHEMA_VERSION = 1
# The code whose change can change a cell's result; its source is part of the content hash.
_SCORED_CODE = (
    "arms",
    "backends",
    "metrics",
    "data.py",
    "stats.py",
    "config.py",
    "retrieval.py",
    "training.py",
    "distributed.py",
    "retention.py",
)


def log(msg: str) -> None:
    if distributed.is_main():  # helper ranks of a multi-GPU run stay quiet (see join_training)
        print(f"[adaptbench] {msg}", file=sys.stderr, flush=True)


@dataclass
class RunContext:
    """What arms get: the suite, the seed and a lazily loaded backend shared by all cells."""

    suite: SuiteSpec
    device: str
    dtype: str
    progress: bool = True
    _backend: Any = None
    _embedders: dict = field(default_factory=dict)
    model_load_seconds: float | None = None

    def embedder(self, name: str):
        """One loaded embedder per name, shared by every arm of the run."""
        if name not in self._embedders:
            from .retrieval import Embedder

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
            from .backends.hf import HFBackend

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


def run_suite(
    suite: SuiteSpec,
    out_dir: Path,
    arms: list[str] | None = None,
    limit: int | None = None,
    force: bool = False,
    strict_leakage: bool = False,
    progress: bool = True,
    suite_path: str | None = None,
) -> RunResult:
    arm_specs = _select_arms(suite, arms)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = pick_device(suite.model.device)
    dtype = pick_dtype(suite.model.dtype, device)
    distributed.init(device)  # under accelerate launch / torchrun: one process per GPU
    ctx = RunContext(suite=suite, device=device, dtype=dtype, progress=progress)
    model = resolve_model(suite.model, progress=progress)
    env = environment(device, dtype, suite.seed)
    result = RunResult(out_dir)
    tasks_info: dict[str, Any] = {}
    for task_spec in suite.tasks:
        task = load_task(task_spec, strict_leakage=strict_leakage)
        items = select_items(task.eval, limit, suite.seed)
        tasks_info[task_spec.name] = {
            "eval_items": len(items),
            "eval_items_total": len(task.eval),
            "splits": {k: len(v) for k, v in task.splits.items()},
            "leakage": task.leakage,
            "sources": task.sources,  # files and sheets it was built from, with content hashes
            "split": task.split,  # how one items file was split (data.items), else None
        }
        if task.leakage.get("total"):
            log(
                f"warning: task '{task_spec.name}': {task.leakage['total']} dev/eval question(s) identical or "
                f"near-identical to train questions (see results.json tasks.{task_spec.name}.leakage)"
            )
        for arm_spec in arm_specs:
            key = content_hash(suite, task, items, arm_spec, model.fingerprint, dtype, device)
            record = _cached(out_dir, task_spec.name, arm_spec.label, key) if not force else None
            if not distributed.is_main():
                if record is None:
                    join_training(ctx, task, arm_spec)
                continue
            if record is not None:
                log(
                    f"{task_spec.name} / {arm_spec.label}: unchanged, reusing the finished run ({key})"
                )
            else:
                log(f"{task_spec.name} / {arm_spec.label}: running on {len(items)} eval items")
                record, rows = run_cell(ctx, task, items, arm_spec, key, env, model)
                _store(out_dir, record, rows)
                if (
                    distributed.active()
                    and record["status"] != "ok"
                    and ARMS[arm_spec.arm].changes_weights
                ):
                    # The other processes may be waiting inside this arm's training: stop them all.
                    raise SystemExit(
                        f"{task_spec.name} / {arm_spec.label} failed in a multi-process run "
                        f"({record['reason']}); finished arms are saved, rerun to go on"
                    )
            result.records.append(record)
    if not distributed.is_main():
        return result  # rank 0 writes the results
    payload = {
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
    }
    write_json_atomic(out_dir / "results.json", payload)
    from .report import write_reports

    write_reports(out_dir, payload)
    return result


def _select_arms(suite: SuiteSpec, names: list[str] | None) -> list[ArmSpec]:
    """The cells to run: the named arms (all by default), an arm with `seeds` once per seed."""
    if not names:
        return [cell for a in suite.arms for cell in a.cells()]
    by_label = {a.label: a for a in suite.arms}
    missing = [n for n in names if n not in by_label]
    if missing:
        raise ValueError(
            f"--arms: {missing} not in suite '{suite.name}' (it has: {', '.join(by_label)})"
        )
    return [cell for n in names for cell in by_label[n].cells()]


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
        arm = arm_cls(
            arm_cls.Params.model_validate(arm_spec.params),
            ctx,
            retrieval=None,  # rank 0 builds the index; training does not use it
        )
        arm.seed = seed
        arm.join_training(task)
    except Exception as exc:
        raise SystemExit(
            f"[adaptbench rank {distributed.rank()}] {task.spec.name} / {arm_spec.label}: {exc}"
        ) from exc


def run_cell(
    ctx: RunContext,
    task: TaskData,
    items: list[Item],
    arm_spec: ArmSpec,
    key: str,
    env: dict,
    model,
) -> tuple[dict, list[dict]]:
    arm_cls = ARMS[arm_spec.arm]
    params = arm_cls.Params.model_validate(arm_spec.params)
    cell = f"{task.spec.name}__{arm_spec.label}"
    seed = ctx.seed_for(arm_spec)
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "id": cell,
        "task": task.spec.name,
        "arm": arm_spec.label,
        "kind": arm_spec.arm,
        "content_hash": key,
        "started": _now(),
        "spec": {
            "arm": arm_spec.model_dump(),
            "params": params.model_dump(),
            "task": task.spec.model_dump(),
            "model": ctx.suite.model.model_dump()
            | {"resolved_dtype": ctx.dtype, "resolved_device": ctx.device},
            "seed": seed,
        },
        "environment": env,
        "model_fingerprint": model.fingerprint,
    }
    eff = Efficiency(items=len(items))
    _seed_everything(seed)
    try:
        retrieval = None
        if arm_spec.retrieval is not None:
            from .retrieval import RetrievalParams

            retrieval = RetrievalParams.model_validate(arm_spec.retrieval)
        arm = arm_cls(params, ctx, retrieval=retrieval)
        arm.seed = seed
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
        metric_names = task.spec.metrics or default_metrics(
            task.spec.scoring, task.spec.output_fields
        )
        rows, metrics = score(task, items, preds, metric_names, ctx.seed)
        if ctx.suite.retention is not None:
            with phase("retention") as ph:
                record["forgetting"] = retention_of(ctx, arm, model.fingerprint)
            eff.add(ph)
        record.update(status="ok", reason=None, metrics=metrics, efficiency=eff.as_dict())
    except Exception as exc:  # failure is data: record it, keep going with the other cells
        status, reason = _classify_failure(exc)
        log(f"{cell}: {status}: {reason}")
        record.update(
            status=status,
            reason=reason,
            traceback=traceback.format_exc(limit=8),
            metrics={},
            efficiency=eff.as_dict(),
        )
        rows = []
    record["finished"] = _now()
    record["cached"] = False
    record["samples"] = f"samples/{cell}.jsonl"
    return record, rows


def score(
    task: TaskData, items: list[Item], preds: list[Prediction], metric_names: list[str], seed: int
) -> tuple[list[dict], dict]:
    """Per-item scores (with reasons), per-metric summaries with bootstrap CIs, and corpus metrics."""
    per_item = [n for n in metric_names if not n.startswith(CORPUS_PREFIX)]
    metrics_by_name = {n: get_metric(n) for n in per_item}
    per_metric: dict[str, list[float]] = {m: [] for m in per_item}
    rows = []
    for item, pred in zip(items, preds):
        scores = {}
        for name, metric in metrics_by_name.items():
            s = metric(item, pred)
            if s is not None:
                scores[name] = {"value": s.value, "reason": s.reason}
                per_metric[name].append(s.value)
        rows.append(
            {
                "id": item.id,
                "source": item.source,
                "prompt": pred.prompt,
                "output": pred.output,
                "abstained": pred.abstained,
                "gold": list(item.answers),
                "answerable": item.answerable,
                "choice": pred.choice,
                "choice_logprobs": pred.choice_logprobs,
                "new_tokens": pred.new_tokens,
                "latency_s": round(pred.latency_s, 5),
                "extra": pred.extra,
                "scores": scores,
            }
        )
    metrics = {
        name: summarize(values, seed=seed)
        | {"higher_is_better": metrics_by_name[name].higher_is_better}
        for name, values in per_metric.items()
    }
    for name in metric_names:
        if name.startswith(CORPUS_PREFIX):
            metrics[name] = _macro_f1(name[len(CORPUS_PREFIX) :], items, preds, seed)
    return rows, metrics


def _macro_f1(field_name: str, items: list[Item], preds: list[Prediction], seed: int) -> dict:
    """Macro-F1 of one label field over the gold classes, with a bootstrap CI over items."""
    from .metrics.fields import field_prediction, macro_f1

    pairs = [
        p
        for p in (field_prediction(i, x, field_name) for i, x in zip(items, preds))
        if p is not None
    ]
    if not pairs:
        return {"value": None, "ci_low": None, "ci_high": None, "n": 0, "higher_is_better": True}
    gold = np.array([g for g, _ in pairs])
    pred = np.array([p for _, p in pairs])
    classes = np.unique(gold)
    lo, hi = bootstrap_statistic(
        len(pairs), lambda idx: macro_f1(gold[idx], pred[idx], classes), seed=seed
    )
    return {
        "value": macro_f1(gold, pred, classes),
        "ci_low": lo,
        "ci_high": hi,
        "n": len(pairs),
        "higher_is_better": True,
    }


def retention_of(ctx: RunContext, arm, model_fingerprint: str) -> dict:
    """Forgetting of an arm on the suite's retention probes (0 by construction without training)."""
    from .retention import base_measurement, forgetting, measure, not_applicable

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

    from .training import Diverged

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


def content_hash(
    suite: SuiteSpec,
    task: TaskData,
    items: list[Item],
    arm: ArmSpec,
    model_fp: str,
    dtype: str,
    device: str,
) -> str:
    h = hashlib.sha256()
    parts = {
        "schema": SCHEMA_VERSION,
        "metrics_version": METRICS_VERSION,
        "model": model_fp,
        "model_spec": suite.model.model_dump(),
        "dtype": dtype,
        "device": device,
        "seed": suite.seed,
        "task": task.spec.model_dump(),
        "arm": arm.model_dump(),
        "code": code_fingerprint(),
        "retention": suite.retention.model_dump() if suite.retention else None,
        "probes": _probe_data() if suite.retention else None,
    }
    h.update(json.dumps(parts, sort_keys=True, default=str).encode())
    for split, split_items in sorted(task.splits.items()):
        h.update(split.encode())
        for it in items if split == "eval" else split_items:
            h.update(
                repr(
                    (
                        it.id,
                        it.question,
                        it.answers,
                        it.answerable,
                        it.choices,
                        it.label,
                        it.context,
                    )
                ).encode()
            )
    if task.corpus:
        for d in task.corpus:
            h.update(repr((d.id, d.title, d.text)).encode())
    return h.hexdigest()[:20]


_CODE_FP: str | None = None


def _probe_data() -> str:
    from .retention import data_fingerprint

    return data_fingerprint()


def code_fingerprint() -> str:
    global _CODE_FP
    if _CODE_FP is None:
        root = Path(__file__).parent
        h = hashlib.sha256()
        for entry in _SCORED_CODE:
            p = root / entry
            files = sorted(p.rglob("*.py")) if p.is_dir() else [p]
            for f in files:
                h.update(str(f.relative_to(root)).encode() + f.read_bytes())
        _CODE_FP = h.hexdigest()[:16]
    return _CODE_FP


def _cache_folder(key: str) -> Path:
    return cache_dir() / "runs" / key


def _cached(out_dir: Path, task: str, arm: str, key: str) -> dict | None:
    """A finished record with this key: first in the output folder, then in the shared cache."""
    cell = f"{task}__{arm}"
    candidates = [
        (out_dir / "records" / f"{cell}.json", out_dir / "samples" / f"{cell}.jsonl"),
        (_cache_folder(key) / "record.json", _cache_folder(key) / "samples.jsonl"),
    ]
    for rec_path, samples_path in candidates:
        try:
            record = json.loads(rec_path.read_text())
        except (OSError, ValueError):
            continue
        if (
            record.get("content_hash") != key
            or record.get("status") != "ok"
            or not samples_path.is_file()
        ):
            continue
        record.update(id=cell, task=task, arm=arm, cached=True, samples=f"samples/{cell}.jsonl")
        _place(out_dir, record, samples_path)
        return record
    return None


def _store(out_dir: Path, record: dict, rows: list[dict]) -> None:
    """Samples first, record last (atomically): a record on disk means a finished run.

    Failed cells go to the output folder only; they are retried on the next run.
    """
    folder = _cache_folder(record["content_hash"])
    samples = folder / "samples.jsonl"
    write_text_atomic(samples, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    if record["status"] == "ok":
        write_json_atomic(folder / "record.json", record)
    _place(out_dir, record, samples)


def _place(out_dir: Path, record: dict, samples_src: Path) -> None:
    cell = record["id"]
    dst = out_dir / "samples" / f"{cell}.jsonl"
    dst.parent.mkdir(parents=True, exist_ok=True)
    if samples_src.resolve() != dst.resolve():
        tmp = dst.with_suffix(f".tmp{os.getpid()}")
        shutil.copyfile(samples_src, tmp)
        os.replace(tmp, dst)
    write_json_atomic(out_dir / "records" / f"{cell}.json", record)


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: Path, payload: Any) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")


# --------------------------------------------------------------------------------------------
# environment


def environment(device: str, dtype: str, seed: int) -> dict:
    import importlib.metadata as md

    import torch

    versions = {}
    for pkg in (
        "torch",
        "transformers",
        "peft",
        "accelerate",
        "numpy",
        "pydantic",
        "tokenizers",
        "safetensors",
    ):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    env = {
        "adaptbench": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": cpu_name(),
        "cpu_threads": torch.get_num_threads(),
        "device": device,
        "device_name": torch.cuda.get_device_name(0) if device == "cuda" else cpu_name(),
        "dtype": dtype,
        "seed": seed,
        "packages": versions,
    }
    env.update(_git_state())
    return env


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_state() -> dict:
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "harness"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"git_sha": None, "git_dirty": None}
    return {"git_sha": sha or None, "git_dirty": bool(dirty) if sha else None}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
