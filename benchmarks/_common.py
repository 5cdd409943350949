"""What every benchmark script records about the machine, and how it writes its JSON."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

from harness.common.fingerprint import cpu_name

ROOT = Path(__file__).resolve().parents[1]


def git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine_info(**extra) -> dict:
    """CPU, load, Python, platform and git state, plus each benchmark's own library versions."""
    return {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        **extra,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain")),
    }


def write_json(path: Path, record: dict) -> None:
    """Write atomically (a killed run never leaves half a file) and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    print(f"wrote {path}")
