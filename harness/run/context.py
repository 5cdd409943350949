"""The run context arms see: the suite, device and dtype, and what is loaded once per process
(the base model's backends, tokenizer, embedders, the environment record).

Two backends, because they answer different needs: `generator` produces the answers (the
suite's `model.backend`: transformers, the vLLM engine or an endpoint) and `backend` is the
model's weights in transformers, which training, retention probes and log-likelihoods use
(loaded only when one of them asks). An arm with its own `model:` gets its own context
(`for_model`), sharing the embedders and environment record of the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.common.fingerprint import environment
from harness.common.log import log
from harness.common.measure import phase
from harness.engine.retrieval import Embedder
from harness.models.backend import ModelError
from harness.models.endpoint import EndpointBackend
from harness.models.resolve import cache_dir, pick_device, pick_dtype, resolve_model
from harness.models.vllm_engine import VLLMBackend, shutdown_engines
from harness.spec.config import ArmSpec, ModelSpec, SuiteSpec


class NoWeights(RuntimeError):
    """An arm asked for in-process weights of a model served by an endpoint."""


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
    _generator: Any = None
    _children: dict = field(default_factory=dict)

    def for_model(self, spec: ModelSpec) -> RunContext:
        """The context of cells whose arm runs on `spec` (itself for the suite's model): loaded
        once per process and model, sharing this run's embedders and environment record."""
        if spec == self.suite.model:
            return self._switch_to(self)
        key = spec.model_dump_json()
        if key not in self._children:
            device = pick_device(spec.device) if spec.in_process else self.device
            child = RunContext(
                suite=self.suite.model_copy(update={"model": spec}),
                device=device,
                dtype=pick_dtype(spec.dtype, device),
                progress=self.progress,
            )
            child._embedders = self._embedders  # its own environment: its device and dtype
            self._children[key] = child
        return self._switch_to(self._children[key])

    def _switch_to(self, ctx: RunContext) -> RunContext:
        """One model's weights in memory at a time: the other contexts of the run let theirs
        go (loaded again if a later cell needs them; cells run grouped by arm)."""
        for other in (self, *self._children.values()):
            if other is not ctx:
                if isinstance(other._generator, VLLMBackend):
                    shutdown_engines()
                other._backend = other._generator = other._tokenizer = None
        return ctx

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
    def generator(self):
        """The backend that answers: transformers (then the same as `backend`), the vLLM engine,
        or an OpenAI-compatible endpoint."""
        m = self.suite.model
        if m.backend == "hf":
            return self.backend
        if self._generator is None:
            resolved = resolve_model(m, progress=self.progress)
            log(f"loading {m.name} on backend {m.backend}")
            with phase("load_model") as ph:
                if m.backend == "vllm":
                    if self._backend is not None:
                        self._backend.offload()  # the engine's memory first (HFBackend.offload)
                    self._generator = VLLMBackend(
                        resolved.path,
                        **self._load_args(),
                        settings=m.vllm,
                        lora_rank_needed=self._largest_lora_rank(),
                        seed=self.seed,
                    )
                    self._generator.scorer = lambda: self.backend
                else:
                    self._generator = EndpointBackend(
                        m,
                        resolved.served,
                        cache_dir() / "responses",
                        seed=self.seed,
                        tokenizer=self.endpoint_tokenizer(),
                        progress=self.progress,
                    )
            self.model_load_seconds = ph.seconds
        return self._generator

    def _load_args(self) -> dict:
        """What both in-process backends are built with."""
        m = self.suite.model
        return {
            "device": self.device,
            "dtype": self.dtype,
            "batch_size": m.batch_size,
            "chat_template": m.chat_template,
            "system_prompt": m.system_prompt,
            "trust_remote_code": m.trust_remote_code,
            "progress": self.progress,
        }

    def _largest_lora_rank(self) -> int:
        ranks = [
            int(a.params.get("r", 16))
            for a in self.suite.arms
            if a.arm in ("lora", "qlora") and self.suite.model_for(a) == self.suite.model
        ]
        return max(ranks, default=16)

    def endpoint_tokenizer(self):
        """The local tokenizer `endpoint.tokenizer` names, for exact prompt-token counts."""
        name = self.suite.model.endpoint.tokenizer if self.suite.model.endpoint else None
        if name is None:
            return None
        from transformers import AutoTokenizer

        path = resolve_model(ModelSpec(name=name), progress=self.progress).path
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        if self.suite.model.chat_template != "off" and not getattr(
            tokenizer, "chat_template", None
        ):
            raise ModelError(
                f"model.endpoint.tokenizer {name!r} has no chat template, so it cannot count the "
                "chat API's prompts; name the served model's own tokenizer, or leave it out"
            )
        return tokenizer

    @property
    def backend(self):
        """The model's weights in transformers (training, retention probes, log-likelihoods)."""
        if self._backend is None:
            from harness.models.hf import HFBackend

            m = self.suite.model
            if not m.in_process:
                raise NoWeights(
                    f"model {m.name!r} is served by an endpoint (backend {m.backend}): this needs "
                    "its weights in this process (training, retention probes, log-likelihoods); "
                    "give the arm a model on backend hf or vllm"
                )
            resolved = resolve_model(m, progress=self.progress)
            log(f"loading {m.name} on {self.device} ({self.dtype})")
            with phase("load_model") as ph:
                self._backend = HFBackend(resolved.path, **self._load_args())
            self.model_load_seconds = ph.seconds
        return self._backend
