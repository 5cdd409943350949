"""What a model knows, measured: SliCK's categories, answers to counterfactual passages, and
sampled closed-book answers.

SliCK (Gekhman et al. 2024, "Does fine-tuning LLMs on new knowledge encourage hallucinations?")
sorts each question by the base model's closed-book answers: greedy answers under several
few-shot prompts, and answers sampled at a moderate temperature.

- HighlyKnown: the greedy answer is right under every few-shot prompt.
- MaybeKnown: the greedy answer is right under some of them, not all.
- WeaklyKnown: the greedy answer is never right, but some sampled answer is.
- Unknown: no greedy and no sampled answer is right.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from harness.metrics.hallucination import answer_is_correct
from harness.models.backend import Generation

HIGHLY, MAYBE, WEAKLY, UNKNOWN = "HighlyKnown", "MaybeKnown", "WeaklyKnown", "Unknown"
CATEGORIES = (HIGHLY, MAYBE, WEAKLY, UNKNOWN)

CONTEXT, PARAMETRIC, OTHER = "context", "parametric", "other"


def slick_category(greedy_right: Sequence[bool], sampled_right: Sequence[bool]) -> str:
    """SliCK's category of one item from its greedy answers (one per few-shot draw) and its
    sampled answers, each judged right or wrong."""
    if not greedy_right:
        raise ValueError("slick_category needs at least one greedy answer")
    if all(greedy_right):
        return HIGHLY
    if any(greedy_right):
        return MAYBE
    return WEAKLY if any(sampled_right) else UNKNOWN


def is_right(text: str, abstained: bool, answers: Sequence[str]) -> bool:
    """Right = not an abstention, and an exact match or a gold alias as a whole-word span (the
    rule of false_answer_rate)."""
    return not abstained and answer_is_correct(text, tuple(answers))[0]


def passage_outcome(
    text: str, abstained: bool, counterfactual: Sequence[str], original: Sequence[str]
) -> str:
    """Which answer an arm gave to a counterfactual passage: the passage's, the original one
    (from its weights: the passage no longer says it), or neither. An output holding both is
    `other`: it does not commit."""
    follows = is_right(text, abstained, counterfactual)
    overrides = is_right(text, abstained, original)
    if follows and not overrides:
        return CONTEXT
    if overrides and not follows:
        return PARAMETRIC
    return OTHER


def sample_generate(
    backend,
    prompts: list[str],
    max_new_tokens: int,
    stop: list[str],
    temperature: float,
    seed: int,
) -> list[Generation] | None:
    """Sampled continuations at `temperature` (seeded), or None where the backend cannot
    sample here: a backend's own `sample` method first, else transformers' sampling on an
    in-process model. Without samples WeaklyKnown cannot be told from Unknown (the report says
    so)."""
    own = getattr(backend, "sample", None)
    if callable(own):
        return own(prompts, max_new_tokens, stop, temperature, seed)
    model, tokenizer = getattr(backend, "model", None), getattr(backend, "tokenizer", None)
    if not hasattr(model, "generate") or tokenizer is None or not hasattr(backend, "_finish"):
        return None
    return _hf_sample(backend, prompts, max_new_tokens, stop, temperature, seed)


def _hf_sample(backend, prompts, max_new_tokens, stop, temperature, seed) -> list[Generation]:
    import torch

    encoded = backend._encode(prompts)
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    out: list[Generation | None] = [None] * len(encoded)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        with torch.inference_mode():
            for start in range(0, len(order), backend.batch_size):
                batch = order[start : start + backend.batch_size]
                ids, mask = backend._left_pad([encoded[i] for i in batch])
                t0 = time.perf_counter()
                rows = backend.model.generate(
                    input_ids=ids,
                    attention_mask=mask,
                    max_new_tokens=max_new_tokens,
                    do_sample=True,
                    temperature=temperature,
                    top_k=0,
                    top_p=1.0,
                    pad_token_id=backend.tokenizer.pad_token_id,
                )
                seconds = time.perf_counter() - t0
                new = rows[:, ids.shape[1] :].tolist()
                for row, index in enumerate(batch):
                    out[index] = backend._finish(
                        new[row], len(encoded[index]), stop, seconds, max_new_tokens
                    )
    finally:
        torch.random.set_rng_state(generator_state)
    return out  # type: ignore[return-value]
