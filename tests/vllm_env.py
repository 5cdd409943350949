"""The vLLM environment the slow backend tests use: `.venv-vllm` (`make vllm`), or the
interpreter ADAPTBENCH_VLLM_PYTHON names. Tests that need it skip without it, saying how to get it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def policy_task() -> dict:
    """The shipped policy-QA task (short answers, handbook corpus) as the backend tests use it."""
    data = ROOT / "suites" / "data" / "insurance-policy-qa"
    return {
        "name": "policy-qa",
        "data": {"train": str(data / "train.jsonl"), "eval": str(data / "eval.jsonl")},
        "corpus": {"path": str(data / "handbook.jsonl")},
        "answer_style": "short",
        "style_instruction": "",
        "instruction": "You answer questions about Brindlecombe Mutual insurance policies. Reply "
        "with the short answer only. If you do not know, reply: I don't know.",
        "template": "Question: {question}",
        "generation": {"max_new_tokens": 24, "stop": ["\n"]},
        "metrics": ["exact_match", "token_f1", "false_answer_rate"],
    }


def vllm_python() -> Path | None:
    named = os.environ.get("ADAPTBENCH_VLLM_PYTHON")
    path = Path(named) if named else ROOT / ".venv-vllm" / "bin" / "python"
    return path if path.is_file() else None


needs_vllm = pytest.mark.skipif(
    vllm_python() is None,
    reason="needs the vLLM environment: make vllm (or ADAPTBENCH_VLLM_PYTHON)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def embedded_model_dir() -> Path:
    """The embedded model's safetensors folder (converted once into the user cache)."""
    from harness.models.resolve import resolve_model
    from harness.spec.config import ModelSpec

    return resolve_model(ModelSpec(), progress=False).path


class VLLMServer:
    """A real `vllm serve` of the embedded model on a free loopback port, started and killed by
    the tests (enforce-eager: no graph compilation, a start in about a minute on 2 cores)."""

    NAME = "smollm2"

    def __init__(self, log: Path, key: str):
        self.port = free_port()
        self.key = key
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout_s: float = 420) -> None:
        # The module behind `vllm serve`: the CPU build's `vllm` command looks up the version of
        # a package named vllm, which it is not, and exits.
        cmd = [
            str(vllm_python()), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(embedded_model_dir()),
            "--host", "127.0.0.1", "--port", str(self.port),
            "--served-model-name", self.NAME, "--api-key", self.key,
            "--enforce-eager", "--dtype", "float32", "--max-model-len", "2048",
            "--gpu-memory-utilization", "0.3", "--seed", "0",
        ]  # fmt: skip
        with self.log.open("a") as fh:
            self.proc = subprocess.Popen(
                cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vllm serve exited ({self.proc.returncode}); see {self.log}")
            if self.ready():
                return
            time.sleep(2)
        self.kill()
        raise RuntimeError(f"vllm serve did not answer within {timeout_s:.0f} s; see {self.log}")

    def ready(self) -> bool:
        req = urllib.request.Request(
            f"{self.base_url}/models", headers={"Authorization": f"Bearer {self.key}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return self.NAME in json.loads(r.read())["data"][0]["id"]
        except (OSError, ValueError, KeyError, IndexError):
            return False

    def kill(self) -> None:
        """SIGKILL the server and its engine process (its whole process group)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=60)
