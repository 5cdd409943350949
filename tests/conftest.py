"""Shared fixtures: a tiny random Llama and a small tokenizer built in-process (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TOKENIZER_TEXT = [
    "What is the deductible for Hearthward Plus? The deductible is $640.",
    "How many days is the waiting period? It is 19 days. I don't know.",
    "Question: Answer: Passage: form code claim limit policy cover insurer member",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;:!?'\"$%()-\n",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_model(folder: Path, seed: int = 0) -> Path:
    """A 2-layer, hidden-64 Llama with a byte-level BPE tokenizer, saved as safetensors."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(TOKENIZER_TEXT * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder), safe_serialization=True)
    fast.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def fake_backend(monkeypatch):
    """Runs in this test answer with a FakeBackend (tests/fake_backend.py): no model is loaded."""
    from .fake_backend import FakeBackend, install

    fake = FakeBackend()
    install(fake, monkeypatch)
    return fake


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """Each test gets its own adaptbench cache, so no test reuses another's finished runs."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("ADAPTBENCH_CACHE", str(cache))
    return cache


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


QA_ROWS = [
    {
        "id": "q1",
        "question": "What is the deductible for Hearthward Plus?",
        "answers": ["$640", "640"],
        "answerable": True,
    },
    {
        "id": "q2",
        "question": "How long is the waiting period for Pawsmith?",
        "answers": ["19 days"],
        "answerable": True,
    },
    {
        "id": "q3",
        "question": "Which form starts a claim for Molar Meridian?",
        "answers": ["Form BM-12"],
        "answerable": True,
    },
    {
        "id": "q4",
        "question": "Who is the chief executive of the insurer?",
        "answers": [],
        "answerable": False,
    },
    {
        "id": "q5",
        "question": "What code routes calls about Roadwright?",
        "answers": ["RX-4417"],
        "answerable": True,
    },
    {
        "id": "q6",
        "question": "What is the fee for reinstating a lapsed policy?",
        "answers": [],
        "answerable": False,
    },
]


@pytest.fixture
def tiny_suite(tmp_path, tiny_model_dir) -> Path:
    """A two-arm suite over a handful of QA items, on the tiny model."""
    data = tmp_path / "data"
    write_jsonl(
        data / "train.jsonl",
        [dict(r, id="t" + r["id"], question=r["question"] + " Tell me.") for r in QA_ROWS],
    )
    write_jsonl(data / "eval.jsonl", QA_ROWS)
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"""
name: tiny
seed: 7
model:
  name: {tiny_model_dir}
  batch_size: 4
tasks:
  - name: qa
    data:
      train: data/train.jsonl
      eval: data/eval.jsonl
    instruction: Answer briefly.
    template: "Question: {{question}}"
    generation:
      max_new_tokens: 6
arms:
  - arm: base
  - arm: few_shot
    params: {{k: 2}}
""",
        encoding="utf-8",
    )
    return suite


@pytest.fixture(scope="module")
def vllm_server(request, tmp_path_factory):
    """A real `vllm serve` of the embedded model for one test module, answering the API key its
    module names in `KEY`; killed after the module's last test."""
    from tests.vllm_env import VLLMServer

    srv = VLLMServer(tmp_path_factory.mktemp("vllm") / "serve.log", request.module.KEY)
    srv.start()
    yield srv
    srv.kill()
