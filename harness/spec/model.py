"""`model:`, the model a suite's arms start from and how it is served; the base of every
strict spec. Its own module, because the judge (harness.spec.judge) is a model too."""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_MODEL = "smollm2-135m-instruct"


class SpecError(ValueError):
    """A suite (or override) that cannot be used; the message names file, line and key."""


class Strict(BaseModel):
    # strict: no silent coercion (`batch_size: true` is not 1, `"8"` is not 8).
    model_config = ConfigDict(extra="forbid", frozen=False, strict=True)


class VLLMSettings(Strict):
    """`model.vllm`: settings of the vLLM engine (`backend: vllm`), passed through to it."""

    tensor_parallel_size: int = Field(1, ge=1, description="GPUs one model is split over")
    gpu_memory_utilization: float | None = Field(
        None,
        gt=0,
        le=1,
        description="share of GPU memory the engine takes (on CPU: of RAM); default: vLLM's "
        "0.9 on GPU, 0.3 on CPU",
    )
    max_model_len: int | None = Field(
        None, ge=16, description="longest prompt + answer (default: 4096 or the model's limit)"
    )
    enforce_eager: bool = Field(
        False, description="skip graph compilation: faster start, slower decoding"
    )
    max_loras: int = Field(4, ge=1, description="adapters the engine holds at once")
    max_lora_rank: int | None = Field(
        None, ge=1, description="default: the largest `r` of the suite's LoRA arms"
    )


class EndpointSettings(Strict):
    """`model.endpoint`: how an OpenAI-compatible server is called (`backend: openai`)."""

    concurrency: int = Field(8, ge=1, le=256, description="requests in flight at once")
    timeout_s: float = Field(120.0, gt=0, description="one request's limit")
    retries: int = Field(
        5, ge=0, le=50, description="retries of a request answered 429 or 5xx, with backoff"
    )
    max_wait_s: float = Field(
        300.0,
        ge=0,
        description="how long a run waits for a server that went away before the cell fails "
        "(finished items are kept: a rerun sends only the rest)",
    )
    tokenizer: str | None = Field(
        None,
        description="a local model folder (or the embedded model's name) whose tokenizer counts "
        "prompt tokens for the prompt budget; default: the server's /tokenize where it has one, "
        "else an estimate of 4 characters per token (the record says which)",
    )


BACKENDS = ("hf", "vllm", "openai")
# ModelSpec fields that say how a model is served, not what it is or how it is trained.
SERVING_FIELDS = frozenset({"backend", "base_url", "api_key_env", "vllm", "endpoint"})


class ModelSpec(Strict):
    name: str = Field(
        DEFAULT_MODEL,
        description="embedded model, local folder or hub id; with `backend: openai` the "
        "model id the server serves (`model:` is accepted for it)",
    )
    backend: Literal["hf", "vllm", "openai"] = Field(
        "hf",
        description="hf: transformers in this process (the reference); vllm: the vLLM engine "
        "in this process; openai: an OpenAI-compatible server at `base_url`",
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    revision: str | None = None
    chat_template: Literal["auto", "on", "off"] = "auto"
    system_prompt: str | None = None
    trust_remote_code: bool = False
    batch_size: int = Field(32, ge=1, le=4096)
    base_url: str | None = Field(
        None, description="the server's API root, e.g. http://127.0.0.1:8000/v1 (backend: openai)"
    )
    api_key_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="name of the environment variable holding the API key (never the key)",
    )
    vllm: VLLMSettings | None = None
    endpoint: EndpointSettings | None = None

    @model_validator(mode="before")
    @classmethod
    def _model_alias(cls, data: Any) -> Any:
        # `model: {backend: openai, model: gpt-x}` reads as the issue writes it: `model` is `name`.
        if isinstance(data, dict) and "model" in data:
            if "name" in data:
                raise ValueError("give `name` or `model` (the same setting), not both")
            data = {("name" if k == "model" else k): v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _backend_settings(self) -> ModelSpec:
        if self.backend == "openai":
            if not self.base_url:
                raise ValueError("backend openai needs `base_url` (e.g. http://127.0.0.1:8000/v1)")
            if not re.match(r"^https?://[^/\s]+", self.base_url):
                raise ValueError(f"base_url {self.base_url!r} is not an http(s) URL")
            parts = urlsplit(self.base_url)
            if parts.username or parts.password or parts.query:
                # It would be written to records, baselines and cache keys.
                raise ValueError(
                    "base_url must not carry credentials or a query string: put the key in the "
                    "environment variable `api_key_env` names"
                )
            if self.vllm is not None:
                raise ValueError("`vllm` settings apply to backend vllm, not openai")
        else:
            for key in ("base_url", "api_key_env", "endpoint"):
                if getattr(self, key) is not None:
                    raise ValueError(f"`{key}` applies to backend openai, not {self.backend}")
            if self.vllm is not None and self.backend != "vllm":
                raise ValueError(f"`vllm` settings apply to backend vllm, not {self.backend}")
        return self

    @property
    def in_process(self) -> bool:
        """Whether the weights are in this process (so they can be trained and probed)."""
        return self.backend != "openai"

    @property
    def identity(self) -> dict:
        """What names the model a row was produced by, for reports and the decision."""
        return {"name": self.name, "backend": self.backend} | (
            {"base_url": self.base_url} if self.base_url else {}
        )
