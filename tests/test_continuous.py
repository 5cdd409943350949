"""Continuous batching, shared-prefix reuse and shared-context log-likelihoods give the numbers
of the plain computations they replace (fp32, tiny in-process model)."""

from __future__ import annotations

import pytest
import torch
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM
from transformers import AutoModelForCausalLM

from harness.models import continuous
from harness.models.hf import HFBackend
from harness.models.lm_eval_adapter import SharedContextHFLM

SYSTEM = "You answer questions about Brindlecombe Mutual insurance policies. Reply with the short answer only."
QUESTIONS = [
    "What is the deductible?",
    "Q?",
    "How many days is the waiting period for Pawsmith Lifetime cover, please?",
    "Which form code starts a claim?",
    "Who is the insurer member?",
    "What is the claim limit for Hearthward Plus, and the deductible, and the waiting period?",
    "abc",
    "What code routes calls about Roadwright? Answer with the code.",
    "Is it covered?",
    "How long?",
    "What is the fee for reinstating a lapsed policy of the member?",
]


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    # Random weights scaled up: the plain tiny model repeats one token, which would make any
    # two schedules agree; sharper logits give answers that differ per prompt and length.
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(6.0)
    return HFBackend(
        tiny_model_dir, batch_size=4, system_prompt=SYSTEM, model=model, progress=False
    )


@pytest.fixture(scope="module")
def plain(tiny_model_dir):
    """The unscaled model for log-likelihoods: sums of a few tens, as a real model gives (the
    scaled one gives hundreds, where fp32 itself is only good to about 1e-5)."""
    return HFBackend(tiny_model_dir, batch_size=4, system_prompt=SYSTEM, progress=False)


def _prompts(backend) -> list[str]:
    return [backend.format_chat([{"role": "user", "content": q}]) for q in QUESTIONS]


def _generate(backend, prompts, scheduler, reuse_prefix=True, **kw):
    backend.scheduler, backend.reuse_prefix = scheduler, reuse_prefix
    try:
        return backend.generate(prompts, **kw)
    finally:
        backend.scheduler, backend.reuse_prefix = "continuous", True


def _same(a, b):
    assert [g.text for g in a] == [g.text for g in b]
    assert [g.new_tokens for g in a] == [g.new_tokens for g in b]
    assert [g.finish for g in a] == [g.finish for g in b]
    assert [g.prompt_tokens for g in a] == [g.prompt_tokens for g in b]


# The long case runs past the cache's spare columns, so rows are copied into larger buffers
# while others join and leave.
@pytest.mark.parametrize(
    "stop,new_tokens", [([], 12), (["e"], 12), ([], continuous.SPARE_COLUMNS + 12)]
)
def test_continuous_batching_matches_static_item_by_item(backend, stop, new_tokens):
    prompts = _prompts(backend)
    assert backend.continuous_unsupported is None
    static = _generate(backend, prompts, "static", max_new_tokens=new_tokens, stop=stop)
    cont = _generate(backend, prompts, "continuous", max_new_tokens=new_tokens, stop=stop)
    _same(cont, static)
    # Not a vacuous agreement: answers differ between prompts and rows end at different steps.
    assert len({g.text for g in static}) > 3
    assert len({g.new_tokens for g in static}) > 1 or stop == []
    stats = backend.last_stats
    assert stats.prefix_tokens_saved > 0 and stats.decode_tokens > 0
    assert all(g.batch_seconds > 0 for g in cont)


def test_prefix_reuse_matches_whole_prompts(backend):
    prompts = _prompts(backend)
    n_prefix = continuous.shared_prefix(backend._encode(prompts))
    assert n_prefix >= continuous.MIN_SHARED_PREFIX  # the system prompt and the template's head
    reused = _generate(backend, prompts, "continuous", True, max_new_tokens=10, stop=[])
    saved = backend.last_stats.prefix_tokens_saved
    whole = _generate(backend, prompts, "continuous", False, max_new_tokens=10, stop=[])
    assert backend.last_stats.prefix_tokens_saved == 0
    assert saved == n_prefix * (len(prompts) - 1)
    _same(reused, whole)


def test_fixed_shots_are_computed_once_with_the_outputs_of_whole_prompts(backend):
    shots = [
        {"role": "user", "content": "Question: What is the deductible of Hearthward Plus?"},
        {"role": "assistant", "content": "250 GBP"},
        {"role": "user", "content": "Question: Which form code starts a claim?"},
        {"role": "assistant", "content": "BM-7"},
    ]
    prompts = [backend.format_chat([*shots, {"role": "user", "content": q}]) for q in QUESTIONS]
    rows = backend._encode(prompts)
    plain = continuous.shared_prefix(backend._encode(_prompts(backend)))
    n_prefix = continuous.shared_prefix(rows)
    head = backend._encode([backend.format_training(shots[:-1], shots[-1]["content"])])[0]
    assert n_prefix >= len(head) > plain  # the shots are part of the prefix computed once
    reused = _generate(backend, prompts, "continuous", True, max_new_tokens=10, stop=[])
    assert backend.last_stats.prefix_tokens_saved == n_prefix * (len(prompts) - 1)
    _same(reused, _generate(backend, prompts, "static", max_new_tokens=10, stop=[]))


def test_prefix_sharing_counts():
    long = list(range(40))
    rows = [long + [1, 2], long + [1, 3], long + [5], [9, 9]]
    got = continuous.prefix_sharing(rows)
    assert got == {"prompts": 4, "tokens": 127, "common_prefix": 0, "common_prefix_cost": 127,
                   "trie_tokens": 2 + 40 + 1 + 1 + 1 + 1}  # fmt: skip
    got = continuous.prefix_sharing(rows[:3])
    assert got["common_prefix"] == 40 and got["common_prefix_cost"] == 125 - 80
    assert got["trie_tokens"] == 40 + 1 + 1 + 1 + 1
    assert continuous.prefix_sharing([long, long])["trie_tokens"] == 41  # a copy keeps its last


def test_finished_rows_leave_and_waiting_prompts_join(backend):
    prompts = _prompts(backend)
    _generate(backend, prompts, "continuous", max_new_tokens=12, stop=["e"])
    stats = backend.last_stats
    # Every decoded row was a live one, and more than one prefill group was admitted.
    real = sum(
        g.new_tokens for g in _generate(backend, prompts, "static", max_new_tokens=12, stop=["e"])
    )
    assert stats.decode_tokens <= real  # no finished row is computed again
    assert stats.forwards > 1 + (len(prompts) + backend.batch_size - 1) // backend.batch_size


def test_shared_prefix_rule():
    long = list(range(40))
    assert continuous.shared_prefix([long + [1], long + [2, 3]]) == 40
    assert continuous.shared_prefix([long, long]) == 39  # each row keeps one token of its own
    assert continuous.shared_prefix([long]) == 0
    assert continuous.shared_prefix([[1] * 10 + [2], [1] * 10 + [3]]) == 0  # too short to pay


def test_a_model_with_logits_processors_is_generated_statically(tiny_model_dir):
    b = HFBackend(tiny_model_dir, batch_size=2, progress=False)
    b.model.generation_config.repetition_penalty = 1.3
    assert "repetition_penalty" in b.continuous_unsupported
    out = b.generate(["Question: abc", "Q?"], max_new_tokens=3, stop=[])
    assert len(out) == 2 and b.last_stats is None


def test_bad_scheduler_is_refused(tiny_model_dir):
    with pytest.raises(ValueError, match="scheduler"):
        HFBackend(tiny_model_dir, scheduler="fast", progress=False)


def _whole_sequence_loglikelihood(backend, pairs):
    """Today's computation before this change: each (context + continuation) as one sequence."""
    out = []
    for ctx, cont in pairs:
        ctx_ids = backend._encode([ctx])[0]
        full = backend._encode([ctx + cont])[0]
        if full[: len(ctx_ids)] != ctx_ids:
            full = ctx_ids + backend.tokenizer(cont, add_special_tokens=False)["input_ids"]
        n = len(full) - len(ctx_ids)
        with torch.no_grad():
            logits = backend.model(input_ids=torch.tensor([full])).logits.float()
        lp = torch.log_softmax(logits[0, -(n + 1) : -1], -1)
        target = torch.tensor(full[-n:])
        out.append(
            (float(lp.gather(-1, target[:, None]).sum()), bool((lp.argmax(-1) == target).all()))
        )
    return out


def test_shared_context_loglikelihoods_equal_whole_sequences(plain):
    backend = plain
    choices = [" $640", " 19 days", " Form BM-12", " I don't know.", "e"]
    contexts = [backend.format_chat([{"role": "user", "content": q}]) for q in QUESTIONS[:6]]
    pairs = [(c, x) for c in contexts for x in choices] + [("Answer:", " form"), ("Q?", "abc")]
    got = backend.loglikelihood(pairs)
    want = _whole_sequence_loglikelihood(backend, pairs)
    assert got == pytest.approx([w for w, _ in want], abs=1e-5)
    ids = [
        (backend._encode([c])[0], backend.tokenizer(x, add_special_tokens=False)["input_ids"])
        for c, x in pairs[-2:]
    ]
    detail = backend.loglikelihood_tokens(ids)
    assert [g for _, g in detail] == [g for _, g in want[-2:]]
    assert len(set(round(v, 3) for v in got)) > 10


def test_greedy_flag_matches_argmax(plain):
    backend = plain
    ctx = backend._encode(["Question: abc"])[0]
    with torch.no_grad():
        greedy = []
        ids = list(ctx)
        for _ in range(3):
            nxt = int(backend.model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
            greedy.append(nxt)
            ids.append(nxt)
    other = greedy[:2] + [(greedy[2] + 1) % backend.model.config.vocab_size]
    (_, yes), (_, no) = backend.loglikelihood_tokens([(ctx, greedy), (ctx, other)])
    assert yes and not no


def test_loglikelihood_refuses_an_empty_context(backend):
    with pytest.raises(ValueError, match="non-empty context"):
        backend.loglikelihood_tokens([([], [1, 2])])


def test_retention_probes_score_through_shared_contexts_like_lm_eval(plain):
    kwargs = dict(pretrained=plain.model, tokenizer=plain.tokenizer, batch_size=4)
    contexts = ["Question: What is the deductible?\nAnswer:", "Q?", ""]
    choices = [" $640", " 19 days", " Form BM-12", " no"]
    requests = [
        Instance(request_type="loglikelihood", doc={}, arguments=(c, x), idx=i)
        for c in contexts
        for i, x in enumerate(choices)
    ]
    want = HFLM(**kwargs).loglikelihood(requests, disable_tqdm=True)
    got = SharedContextHFLM(**kwargs, scorer=plain).loglikelihood(requests, disable_tqdm=True)
    assert [lp for lp, _ in got] == pytest.approx([lp for lp, _ in want], abs=1e-5)
    assert [g for _, g in got] == [g for _, g in want]


def _kv(rows: int, columns: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, 2, columns, 3, generator=g), torch.randn(
        rows, 2, columns, 5, generator=g
    )


def _pad_left(t: torch.Tensor, width: int) -> torch.Tensor:
    return torch.cat([t.new_zeros(t.shape[0], t.shape[1], width - t.shape[2], t.shape[3]), t], 2)


def test_growing_layer_holds_what_concatenation_would():
    """Decode steps written in place, rows joining (narrower and wider) and rows leaving give
    the keys and values that copying the whole cache each time gives."""
    layer = continuous.GrowingLayer(rows=6)
    k, v = _kv(3, 7, 0)
    layer.update(k, v)
    expected = [k, v]
    for step in range(continuous.SPARE_COLUMNS + 5):  # past the spare columns: one copy
        nk, nv = _kv(3, 1, step + 1)
        got = layer.update(nk, nv)
        expected = [torch.cat([expected[0], nk], 2), torch.cat([expected[1], nv], 2)]
        assert all(torch.equal(a, b) for a, b in zip(got, expected))
    width = expected[0].shape[2]
    for rows, columns in ((2, 4), (2, width + 3)):  # a narrower group, then a wider one
        jk, jv = _kv(rows, columns, rows * 100 + columns)
        layer.join(jk, jv)
        w = max(width, columns)
        expected = [
            torch.cat([_pad_left(expected[0], w), _pad_left(jk, w)]),
            torch.cat([_pad_left(expected[1], w), _pad_left(jv, w)]),
        ]
        width = w
        assert torch.equal(layer.keys, expected[0]) and torch.equal(layer.values, expected[1])
    keep = [1, 2, 5, 6]
    order = continuous.compaction(keep)
    assert sorted(order) == keep and [i for i in order if i < len(keep)] == [1, 2]
    layer.select(order, first=2)
    expected = [t[torch.tensor(order), :, 2:] for t in expected]
    assert torch.equal(layer.keys, expected[0]) and torch.equal(layer.values, expected[1])
    nk, nv = _kv(4, 1, 99)  # and decoding goes on in place after rows left
    got = layer.update(nk, nv)
    assert torch.equal(got[0], torch.cat([expected[0], nk], 2))
    assert torch.equal(got[1], torch.cat([expected[1], nv], 2))


def test_growing_layer_copies_tensors_that_others_replaced():
    layer = continuous.GrowingLayer()
    k, v = _kv(2, 4, 0)
    layer.update(k, v)
    layer.keys, layer.values = layer.keys[:1].clone(), layer.values[:1].clone()  # not its views
    nk, nv = _kv(1, 1, 1)
    got = layer.update(nk, nv)
    assert torch.equal(got[0], torch.cat([k[:1], nk], 2))
    assert torch.equal(got[1], torch.cat([v[:1], nv], 2))
    held = [t.clone() for t in got]
    layer.keys, layer.values = torch.cat([held[0], held[0]]), torch.cat([held[1], held[1] + 1])
    layer.select([1], first=2)  # rows dropped from tensors that are not its views
    assert torch.equal(layer.keys, held[0][:, :, 2:])
    assert torch.equal(layer.values, held[1][:, :, 2:] + 1)


def test_compaction_moves_only_rows_past_the_kept_count():
    assert continuous.compaction([0, 1, 2]) == [0, 1, 2]
    assert continuous.compaction([0, 2, 3]) == [0, 3, 2]
    assert continuous.compaction([4]) == [4]
    assert continuous.compaction([]) == []
