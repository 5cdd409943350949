from __future__ import annotations

import pytest
import torch

from harness.models.hf import HFBackend

PROMPTS = [
    "Question: What is the deductible?",
    "Q?",
    "Question: How many days is the waiting period for Pawsmith Lifetime cover, please?",
    "Answer: form code",
    "I don't know the claim limit",
]


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    return HFBackend(tiny_model_dir, batch_size=3, progress=False)


def test_batched_generation_matches_one_at_a_time(backend):
    prompts = [backend.format_chat([{"role": "user", "content": p}]) for p in PROMPTS]
    batched = backend.generate(prompts, max_new_tokens=8, stop=[])
    backend.batch_size = 1
    try:
        single = backend.generate(prompts, max_new_tokens=8, stop=[])
    finally:
        backend.batch_size = 3
    assert [g.text for g in batched] == [g.text for g in single]
    assert [g.new_tokens for g in batched] == [g.new_tokens for g in single]
    for g in batched:
        assert 1 <= g.new_tokens <= 8 and g.finish in ("eos", "length", "stop")
        assert g.prompt_tokens > 0 and g.batch_seconds > 0


def test_finish_cuts_at_stop_and_counts_real_tokens(backend):
    tok = backend.tokenizer
    ids = tok("abc\ndef", add_special_tokens=False)["input_ids"]
    pad = tok.pad_token_id
    g = backend._finish(ids + [pad, pad], prompt_len=4, stop=["\n"], seconds=0.1, limit=10)
    assert g.text == "abc" and g.finish == "stop" and g.new_tokens == len(ids)
    g = backend._finish(ids + [tok.eos_token_id, pad], prompt_len=4, stop=[], seconds=0.1, limit=10)
    assert g.text == "abc\ndef" and g.finish == "eos" and g.new_tokens == len(ids) + 1
    g = backend._finish(ids, prompt_len=4, stop=[], seconds=0.1, limit=len(ids))
    assert g.finish == "length" and g.new_tokens == len(ids)


def test_loglikelihood_matches_a_manual_forward(backend):
    pairs = [
        ("Question: What is the deductible?", " $640"),
        ("Q?", " 19 days"),
        ("Answer:", " form"),
    ]
    got = backend.loglikelihood(pairs)
    for (ctx, cont), value in zip(pairs, got):
        ctx_ids = backend._encode([ctx])[0]
        full = backend._encode([ctx + cont])[0]
        assert full[: len(ctx_ids)] == ctx_ids
        with torch.no_grad():
            logits = backend.model(torch.tensor([full])).logits[0].float()
        logprobs = torch.log_softmax(logits, -1)
        expected = sum(float(logprobs[i - 1, full[i]]) for i in range(len(ctx_ids), len(full)))
        assert value == pytest.approx(expected, abs=1e-4)
    backend.batch_size = 1
    try:
        assert backend.loglikelihood(pairs) == pytest.approx(got, abs=1e-4)
    finally:
        backend.batch_size = 3


def test_chat_template_and_plain_prompts(tiny_model_dir):
    chat = HFBackend(tiny_model_dir, progress=False, system_prompt="Be brief.")
    text = chat.format_chat([{"role": "user", "content": "Hi"}])
    assert text.startswith("<|im_start|>system\nBe brief.") and text.endswith(
        "<|im_start|>assistant\n"
    )
    plain = HFBackend(
        tiny_model_dir,
        progress=False,
        chat_template="off",
        system_prompt="Be brief.",
        model=chat.model,
        tokenizer=chat.tokenizer,
    )
    assert plain.format_chat([{"role": "user", "content": "Hi"}]) == "Be brief.\n\nHi\n"


def test_a_model_passed_in_runs_in_the_backend_dtype(tiny_model_dir):
    """A fine-tuned arm hands over its fp32 model; it is scored in the dtype every arm uses."""
    from transformers import AutoModelForCausalLM

    trained = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    backend = HFBackend(tiny_model_dir, dtype="bfloat16", model=trained, progress=False)
    assert backend.model.dtype == torch.bfloat16
    base = HFBackend(tiny_model_dir, dtype="bfloat16", progress=False)
    prompt = [base.format_chat([{"role": "user", "content": "What is it?"}])]
    assert [g.text for g in backend.generate(prompt, 6, [])] == [
        g.text for g in base.generate(prompt, 6, [])
    ]
