"""The backend seam: two batched methods (like lm-eval's LM API) plus prompt formatting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class ModelError(RuntimeError):
    """A model or backend that cannot be found, reached or loaded; the message says what to do."""


# Backends whose log-likelihoods arms may ask for (choice scoring, retention probes); an
# endpoint's chat API returns no prompt log-probabilities.
LOGLIKELIHOOD_BACKENDS = ("hf", "vllm")


@dataclass
class Generation:
    text: str  # generated text, cut at the first stop string, stripped
    prompt_tokens: int
    new_tokens: int  # real generated tokens (up to and including the stop or end-of-sequence)
    batch_seconds: float  # wall time of the batch that produced it: what a caller waited
    finish: str  # "stop" | "eos" | "length"
    # Token usage as a server reported it (endpoint backends): prompt_tokens, completion_tokens,
    # and whether the answer came from the response cache.
    usage: dict | None = None


Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}


class Backend(Protocol):
    name: str

    def format_chat(self, messages: list[Message]) -> str:
        """Render a conversation as the prompt text the model continues (chat template or plain)."""
        ...

    def count_tokens(self, prompt: str) -> int:
        """Tokens the model reads for a rendered prompt (what the prompt budget counts)."""
        ...

    def generate(
        self, prompts: list[str], max_new_tokens: int, stop: list[str]
    ) -> list[Generation]:
        """Greedy continuations, in the order of `prompts`."""
        ...

    def loglikelihood(self, pairs: list[tuple[str, str]]) -> list[float]:
        """Sum of log-probabilities of each continuation given its context."""
        ...
