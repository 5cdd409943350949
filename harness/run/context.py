"""The run context arms see: the suite, device and dtype, and what is loaded once per process
(the base model's backend, tokenizer, embedders, the environment record)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.base.fingerprint import environment
from harness.base.log import log
from harness.base.measure import phase
from harness.engine.retrieval import Embedder
from harness.models.resolve import resolve_model
from harness.spec.config import ArmSpec, SuiteSpec


@dataclass
class RunContext:
    """What arms get: the suite, the seed and a lazily loaded backend shared by all cells."""

    suite: SuiteSpec
    device: str
    dtype: str
    progress: bool = True
    _backend: Any = None
    _embedders: dict = field(default_factory=dict)
    _tokenizer: Any = None
    _environment: dict | None = None
    model_load_seconds: float | None = None

    def tokenizer(self, model_path: Path):
        """The model's tokenizer, loaded once: the backend's when the model is already loaded."""
        if self._tokenizer is None:
            if self._backend is not None:
                self._tokenizer = self._backend.tokenizer
            else:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(
                    str(model_path), trust_remote_code=self.suite.model.trust_remote_code
                )
        return self._tokenizer

    def environment(self) -> dict:
        """Versions and hardware of the process that runs the cells (computed once)."""
        if self._environment is None:
            self._environment = environment(self.device, self.dtype, self.suite.seed)
        return self._environment

    def embedder(self, name: str):
        """One loaded embedder per name, shared by every arm of the run."""
        if name not in self._embedders:
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
            from harness.models.hf import HFBackend

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
