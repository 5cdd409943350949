"""What a result depends on outside its inputs: the scoring code and the machine it ran on.

`code_fingerprint` hashes the source files that predict and score, so a cached cell is reused
only while that code is unchanged; `environment` is the record of versions and hardware that
every results.json carries.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
from pathlib import Path

from harness import __version__

# The package folder: the scored code and the git state are read relative to it.
PACKAGE_DIR = Path(__file__).resolve().parent.parent

# Source whose change can change a prediction or a score (paths relative to PACKAGE_DIR).
_SCORED_CODE = (
    "arms",
    "models",
    "metrics",
    "data/tasks.py",
    "base/stats.py",
    "spec/config.py",
    "engine/retrieval.py",
    "engine/training.py",
    "base/distributed.py",
    "engine/retention.py",
)


_CODE_FP: str | None = None


def code_fingerprint() -> str:
    global _CODE_FP
    if _CODE_FP is None:
        root = PACKAGE_DIR
        h = hashlib.sha256()
        for entry in _SCORED_CODE:
            p = root / entry
            files = sorted(p.rglob("*.py")) if p.is_dir() else [p]
            for f in files:
                h.update(str(f.relative_to(root)).encode() + f.read_bytes())
        _CODE_FP = h.hexdigest()[:16]
    return _CODE_FP


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
