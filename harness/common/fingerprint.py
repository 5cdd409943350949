"""What a result depends on outside its inputs: the code that made it and the machine it ran on.

`code_fingerprint(scope)` hashes the source files one kind of cached result depends on, so it is
reused only while that code is unchanged; `environment` is the record of versions and hardware
that every results.json carries.
"""

from __future__ import annotations

import ast
import hashlib
import platform
import subprocess
from pathlib import Path

from harness import __version__

# The package folder: the scored code and the git state are read relative to it.
PACKAGE_DIR = Path(__file__).resolve().parent.parent

# The source each kind of cached result depends on (paths relative to PACKAGE_DIR; a folder is
# all its .py files; `file.py::a,b` is the top-level definitions a and b of a file with every
# definition of that file they use, found by name). The rule: a file belongs to every scope
# whose result an edit to it can change, and to no other, so that an edit reruns only what
# depends on it. Reports, gate, compare, the CLI and the runner's
# bookkeeping are in none: editing them reuses every prediction, score and artifact.
CODE_SCOPES: dict[str, tuple[str, ...]] = {
    # A cell's predictions and its predict-side record (efficiency, training stats, timings).
    # Items are hashed as loaded, so loading code reaches the key through them as well.
    "prediction": (
        "arms",
        "models",
        "data",
        "engine/retrieval.py",
        "engine/training.py",
        "spec/config.py",
        "spec/style.py",
        "common/distributed.py",
        "common/measure.py",
    ),
    # Forgetting on the retention probes (only cells of a suite with `retention:`). It uses a
    # few definitions of the metric and statistics modules; naming them (`file::name`) rather
    # than the files keeps a metric edit or a METRICS_VERSION bump from probing again.
    "retention": (
        "engine/retention.py",
        "metrics/hallucination.py::answer_is_correct",
        "metrics/base.py::normalize_answer",
        "common/stats.py::paired_bootstrap,DEFAULT_RESAMPLES",
    ),
    # Scores of stored predictions: the metrics, their statistics, the per-item rows, and the
    # embedder answer_similarity reads.
    "scoring": (
        "metrics",
        "common/stats.py",
        "common/itemhash.py",
        "run/scoring.py",
        "engine/retrieval.py",
    ),
    # Trained weights (adapters, checkpoints): the training loop, the fine-tuning arms, the
    # prompts they train on, retrieval for retrieval-aware training, and model loading.
    "training": (
        "engine/training.py",
        "engine/retrieval.py",
        "arms/core.py",
        "arms/prompting.py",
        "arms/trained.py",
        "arms/train_share.py",  # which items a max_train_items training sees
        "data/fractions.py",  # which items a learning-curve point trains on
        "data/labels.py",  # the label set a label task's training prompts list
        "arms/full.py",
        "arms/lora.py",
        "arms/qlora.py",
        "models",
        "data/tasks.py",
        "spec/config.py",
        "common/distributed.py",
        "common/measure.py",
    ),
}


_CODE_FP: dict[str, str] = {}


def code_fingerprint(scope: str) -> str:
    """Hash of the source files of one scope of CODE_SCOPES (computed once per process)."""
    if scope not in _CODE_FP:
        root = PACKAGE_DIR
        h = hashlib.sha256()
        for entry in CODE_SCOPES[scope]:
            path, _, names = entry.partition("::")
            p = root / path
            if names:
                h.update(entry.encode() + _definitions(p, names.split(",")))
                continue
            files = sorted(p.rglob("*.py")) if p.is_dir() else [p]
            for f in files:
                h.update(str(f.relative_to(root)).encode() + f.read_bytes())
        _CODE_FP[scope] = h.hexdigest()[:16]
    return _CODE_FP[scope]


def _definitions(path: Path, names: list[str]) -> bytes:
    """The source of the named top-level definitions of a file and of every top-level
    definition of the same file they refer to, however indirectly."""
    source = path.read_text(encoding="utf-8")
    tops: dict[str, ast.stmt] = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            tops[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    tops[t.id] = node
    missing = [n for n in names if n not in tops]
    if missing:  # a renamed definition must be renamed in CODE_SCOPES too
        raise KeyError(f"{path}: no top-level definition {missing} (see CODE_SCOPES)")
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        used = {n.id for n in ast.walk(tops[name]) if isinstance(n, ast.Name)}
        todo += sorted(used & tops.keys())
    parts = [ast.get_source_segment(source, tops[n]) or "" for n in sorted(seen)]
    return "\n".join(parts).encode()


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
    root = PACKAGE_DIR.parent
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
