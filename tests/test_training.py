"""Training: packing is exact, the arms train, artifacts are reused, divergence is recorded."""

from __future__ import annotations

import json
import math

import pytest
import torch
from click.testing import CliRunner
from transformers import AutoModelForCausalLM

from harness.cli import main
from harness.engine.training import Example, collate, pack, token_loss_sum


def run_with_arm(suite, arm_block: str, arms: str, out):
    """Add `arm_block` (YAML under `arms:`) to the tiny suite, run `arms` through the CLI."""
    suite.write_text(suite.read_text().replace("arms:\n", "arms:\n" + arm_block))
    r = CliRunner().invoke(
        main, ["run", str(suite), "--arms", arms, "--out", str(out), "--no-progress"]
    )
    assert r.exit_code == 0, r.output
    return json.loads((out / "results.json").read_text())


def examples() -> list[Example]:
    g = torch.Generator().manual_seed(0)
    out = []
    for n in (7, 12, 5, 9, 16, 3):
        ids = torch.randint(5, 300, (n,), generator=g).tolist()
        out.append(Example(ids, [-100] * (n // 2) + ids[n // 2 :]))
    return out


def test_packed_loss_equals_unpacked_loss(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).eval()
    exs = examples()
    with torch.no_grad():
        unpacked = sum(
            float(token_loss_sum(model, collate(pack([e], 64, 0, False), 0, "cpu"))[0]) for e in exs
        )
        rows = pack(exs, 32, 0, packing=True)
        assert len(rows) < len(exs)  # really packed
        batch = collate(rows, 0, "cpu")
        packed, n = token_loss_sum(model, batch)
        assert float(packed) == pytest.approx(unpacked, rel=1e-4)
        assert n == sum(sum(label != -100 for label in e.labels[1:]) for e in exs)
        # Sensitivity: without per-example positions, examples attend to each other and the loss moves.
        leaky = dict(
            batch,
            position_ids=torch.arange(batch["input_ids"].shape[1]).expand_as(batch["input_ids"]),
        )
        assert abs(float(token_loss_sum(model, leaky)[0]) - unpacked) > 1e-3


def test_loss_on_labelled_positions_only_equals_the_full_forward(tiny_model_dir):
    from peft import LoraConfig, get_peft_model

    from harness.engine.training import decoder_and_head

    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).eval()
    torch.manual_seed(0)
    lora = get_peft_model(
        base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    batch = collate(pack(examples(), 32, 0, packing=True), 0, "cpu")
    target = batch["labels"][:, 1:]
    for model in (base, lora):
        assert decoder_and_head(model) is not None  # the head-on-labels path is the one tested
        with torch.no_grad():
            logits = model(
                input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
            ).logits[:, :-1]
            full = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                target.reshape(-1),
                ignore_index=-100,
                reduction="sum",
            )
            fast, n = token_loss_sum(model, batch)
        assert float(fast) == pytest.approx(float(full), rel=1e-5)
        assert n == int((target != -100).sum())
    # the adapter is really applied on the fast path (its random B moves the loss)
    with torch.no_grad(), lora.disable_adapter():
        plain = float(token_loss_sum(lora, batch)[0])
    assert abs(plain - float(fast)) > 1e-4


def prompted_examples() -> list[Example]:
    """Examples as a task renders them: one prompt prefix, then a varied question and its answer."""
    g = torch.Generator().manual_seed(1)
    prefix = torch.randint(5, 300, (12,), generator=g).tolist()
    out = []
    for q, a in ((5, 3), (9, 2), (3, 4), (7, 1)):
        question = torch.randint(5, 300, (q,), generator=g).tolist()
        answer = torch.randint(5, 300, (a,), generator=g).tolist()
        ids = prefix + question + answer
        out.append(Example(ids, [-100] * (len(prefix) + q) + answer))
    return out


def test_shared_prefix_length_leaves_every_loss_position_in_the_rows():
    from harness.engine.training import shared_prefix_length

    exs = prompted_examples()
    assert shared_prefix_length(exs) == 12
    # a label right after the common tokens: the prefix stops one short, so that label stays
    early = Example(exs[0].ids[:14], [-100] * 13 + exs[0].ids[13:14])
    assert shared_prefix_length([*exs, early]) == 12
    early = Example(exs[0].ids[:13], [-100] * 12 + exs[0].ids[12:13])
    assert shared_prefix_length([*exs, early]) == 11
    assert shared_prefix_length(exs[:1]) == 0  # one example: nothing to share
    assert shared_prefix_length(examples()) == 0  # random examples share nothing
    corpus = Example(exs[0].ids, [-100] + exs[0].ids[1:])  # loss on every token
    assert shared_prefix_length([*exs, corpus]) == 0


@pytest.mark.parametrize("plain_head", [True, False])
def test_shared_prefix_gives_the_loss_and_gradients_of_the_whole_examples(
    tiny_model_dir, plain_head, monkeypatch
):
    from peft import get_peft_model

    import harness.engine.training as training
    from harness.arms.lora import LoraParams, lora_config
    from harness.engine.training import TrainParams, make_rows

    if not plain_head:  # the path for model types whose logits are not a plain head
        monkeypatch.setattr(training, "decoder_and_head", lambda model: None)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    torch.manual_seed(0)
    model = get_peft_model(base, lora_config(LoraParams(r=4, dropout=0.0)))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)  # a live adapter: gradients reach A and B
    model.train()
    exs = prompted_examples()
    trainable = [p for p in model.parameters() if p.requires_grad]

    def loss_and_grads(rows):
        model.zero_grad()
        loss, n = training.token_loss_sum(model, collate(rows, 0, "cpu"))
        loss.backward()
        return float(loss.detach()), n, [p.grad.clone() for p in trainable]

    shared = make_rows(exs, TrainParams(share_prefix="on"), pad_id=0)
    assert all(r.prefix == tuple(exs[0].ids[:12]) for r in shared)
    assert [r.real_tokens for r in shared] == [len(e.ids) for e in exs]
    whole = pack(exs, 64, 0, packing=False)
    loss_s, n_s, grads_s = loss_and_grads(shared)
    loss_w, n_w, grads_w = loss_and_grads(whole)
    assert n_s == n_w == sum(len(e.ids) - 12 - q for e, q in zip(exs, (5, 9, 3, 7)))
    assert loss_s == pytest.approx(loss_w, rel=1e-5)
    for a, b in zip(grads_s, grads_w):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    # Sensitivity: dropping the prefix (rows alone) changes the loss.
    bare = [training.Row(r.ids, r.labels, r.positions) for r in shared]
    assert abs(loss_and_grads(bare)[0] - loss_w) > 1e-3


def test_rows_fall_back_to_packing_when_nothing_is_shared_or_sharing_is_off():
    from harness.arms.lora import LoraParams
    from harness.engine.training import TrainParams, make_rows

    exs = prompted_examples()
    assert all(r.prefix for r in make_rows(exs, TrainParams(), 0))  # full: no dropout, shared
    assert all(r.prefix for r in make_rows(exs, LoraParams(dropout=0.0), 0))
    assert not any(r.prefix for r in make_rows(exs, LoraParams(), 0))  # dropout 0.05: auto is off
    assert all(r.prefix for r in make_rows(exs, LoraParams(share_prefix="on"), 0))
    assert not any(r.prefix for r in make_rows(exs, TrainParams(share_prefix="off"), 0))
    on_but_checkpointing = TrainParams(share_prefix="on", gradient_checkpointing=True)
    assert not any(r.prefix for r in make_rows(exs, on_but_checkpointing, 0))
    packed = make_rows(examples(), TrainParams(max_seq_len=32), 0)
    assert len(packed) < len(examples()) and not any(r.prefix for r in packed)


@pytest.fixture
def train_suite(tiny_suite):
    text = tiny_suite.read_text().replace(
        "arms:\n",
        "arms:\n"
        "  - arm: lora\n    params: {epochs: 3, r: 4, alpha: 8, learning_rate: 0.01, rows_per_step: 2, grad_accum: 1, max_seq_len: 128}\n"
        "  - arm: full\n    params: {epochs: 2, learning_rate: 0.001, rows_per_step: 2, grad_accum: 1, max_seq_len: 128}\n",
    )
    tiny_suite.write_text(text)
    return tiny_suite


def test_lora_and_full_train_record_efficiency_and_reuse_artifacts(train_suite, tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(
        main, ["run", str(train_suite), "--arms", "lora,full", "--out", str(out), "--no-progress"]
    )
    assert r.exit_code == 0, r.output
    runs = {x["arm"]: x for x in json.loads((out / "results.json").read_text())["runs"]}
    for arm in ("lora", "full"):
        t = runs[arm]["efficiency"]["training"]
        assert runs[arm]["status"] == "ok" and t["artifact_cached"] is False
        assert t["steps"] > 0 and t["real_tokens"] > 0 and t["tokens_per_s"] > 0
        assert t["loss_curve"][-1]["loss"] < t["loss_curve"][0]["loss"]  # it learns
        assert t["artifact_bytes"] > 0 and 0 < t["mfu"] < 1 and t["device_peak_flops"] > 0
        assert t["peak_memory_bytes"] > 0
        # tokens/s counts training time only: the dev-loss evaluations are timed apart
        assert (t["dev_eval_seconds"] > 0) == bool(t["dev_loss_curve"])
        assert_tokens_per_s_leaves_out_dev_eval(t)
    lora, full = runs["lora"]["efficiency"], runs["full"]["efficiency"]
    assert 0 < lora["params_trainable"] < lora["params_total"] / 5
    assert full["params_trainable"] == full["params_total"]
    # Another eval subset is a new cell but the same training: the adapter is reused, not retrained.
    r = CliRunner().invoke(
        main,
        [
            "run",
            str(train_suite),
            "--arms",
            "lora",
            "--limit",
            "3",
            "--out",
            str(tmp_path / "o2"),
            "--no-progress",
        ],
    )
    run = json.loads((tmp_path / "o2" / "results.json").read_text())["runs"][0]
    assert (
        r.exit_code == 0
        and not run["cached"]
        and run["efficiency"]["training"]["artifact_cached"] is True
    )


def test_merged_lora_generates_like_the_adapter(tiny_model_dir):
    from peft import get_peft_model

    from harness.arms.lora import LoraParams, lora_config
    from harness.models.hf import HFBackend

    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)), lora_config(LoraParams(r=4))
    )
    with torch.no_grad():  # make the adapter non-trivial
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    adapter = HFBackend(tiny_model_dir, model=model, progress=False)
    prompts = [
        adapter.format_chat([{"role": "user", "content": q}])
        for q in ("What is it?", "Q", "How long?")
    ]
    before = [g.text for g in adapter.generate(prompts, 8, [])]
    merged = HFBackend(
        tiny_model_dir, model=model.merge_and_unload(), tokenizer=adapter.tokenizer, progress=False
    )
    assert [g.text for g in merged.generate(prompts, 8, [])] == before


def test_divergence_is_recorded_with_its_step(train_suite, tmp_path, monkeypatch):
    import harness.engine.training as training

    real = training.token_loss_sum
    calls = {"n": 0}

    def nan_after_two(model, batch):
        loss, n = real(model, batch)
        calls["n"] += 1
        return (loss * float("nan") if calls["n"] > 2 else loss), n

    monkeypatch.setattr(training, "token_loss_sum", nan_after_two)
    out = tmp_path / "out"
    r = CliRunner().invoke(
        main, ["run", str(train_suite), "--arms", "base,lora", "--out", str(out), "--no-progress"]
    )
    assert r.exit_code == 1
    runs = {x["arm"]: x for x in json.loads((out / "results.json").read_text())["runs"]}
    assert runs["base"]["status"] == "ok"
    assert runs["lora"]["status"] == "diverged" and "at step 3" in runs["lora"]["reason"]


@pytest.mark.slow
def test_qlora_trains_on_cpu(tiny_suite, tiny_model_dir, tmp_path):
    pytest.importorskip("bitsandbytes")
    block = "  - arm: qlora\n    params: {epochs: 2, r: 4, alpha: 8, learning_rate: 0.01, rows_per_step: 2, max_seq_len: 128}\n"
    run = run_with_arm(tiny_suite, block, "qlora", tmp_path / "out")["runs"][0]
    assert run["status"] == "ok", run.get("reason")
    base_params = sum(
        p.numel() for p in AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).parameters()
    )
    # 4-bit weights hold two values per byte: counted by their real shape, not their storage.
    assert run["efficiency"]["params_total"] > base_params
    t = run["efficiency"]["training"]
    assert (
        t["steps"] > 0
        and t["tokens_per_s"] > 0
        and t["loss_curve"][-1]["loss"] < t["loss_curve"][0]["loss"]
    )


def test_accumulation_larger_than_the_data_still_steps(tiny_model_dir):
    from harness.engine.training import TrainParams, train

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    rows = pack(examples()[:2], 64, 0, packing=False)
    params = TrainParams(epochs=2, rows_per_step=1, grad_accum=8, early_stopping_patience=None)
    stats = train(model, rows, [], params, pad_id=0, device="cpu", seed=0, progress=False)
    assert stats["steps"] == 2 and stats["real_tokens"] == 2 * sum(len(r.ids) for r in rows)


def test_dev_loss_evaluations_are_timed_apart_from_training(tiny_model_dir):
    from harness.engine.training import TrainParams, train

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    rows = pack(examples(), 64, 0, packing=False)
    params = TrainParams(epochs=2, rows_per_step=2, grad_accum=1, evals_per_epoch=2)
    stats = train(model, rows, rows[:3], params, pad_id=0, device="cpu", seed=0, progress=False)
    assert stats["dev_loss_curve"] and 0 < stats["dev_eval_seconds"] < stats["seconds"]
    assert_tokens_per_s_leaves_out_dev_eval(stats)


def assert_tokens_per_s_leaves_out_dev_eval(stats: dict) -> None:
    """tokens/s = real tokens / (wall - dev evaluation) seconds. Both times are rounded to the
    millisecond and tokens/s to 0.01, and tiny runs last milliseconds: allow that much."""
    training_s = stats["seconds"] - stats["dev_eval_seconds"]
    tokens = stats["real_tokens"]
    low, high = tokens / (training_s + 0.001) - 0.005, tokens / (training_s - 0.001) + 0.005
    assert low <= stats["tokens_per_s"] <= high


def test_seeds_repeat_training_and_report_the_spread(tiny_suite, tmp_path):
    block = (
        "  - arm: lora\n    seeds: [1, 2]\n"
        "    params: {epochs: 1, r: 4, alpha: 8, learning_rate: 0.01, rows_per_step: 2, max_seq_len: 128}\n"
    )
    out = tmp_path / "out"
    payload = run_with_arm(tiny_suite, block, "lora", out)
    runs = {x["arm"]: x for x in payload["runs"]}
    assert set(runs) == {"lora@seed1", "lora@seed2"}
    assert [runs[a]["spec"]["seed"] for a in ("lora@seed1", "lora@seed2")] == [1, 2]
    curves = [runs[a]["efficiency"]["training"]["loss_curve"] for a in sorted(runs)]
    assert curves[0] != curves[1]  # another seed really is another training run
    (group,) = payload["seed_groups"]
    assert group["arm"] == "lora" and group["seeds"] == [1, 2]
    em = group["metrics"]["exact_match"]
    values = [runs[f"lora@seed{s}"]["metrics"]["exact_match"]["value"] for s in (1, 2)]
    assert em["per_seed"] == {"1": values[0], "2": values[1]}
    assert em["mean"] == pytest.approx(sum(values) / 2)
    assert em["std"] == pytest.approx(abs(values[0] - values[1]) / 2**0.5)
    assert "## Repeated training (`seeds`)" in (out / "report.md").read_text()
    assert "Repeated training (seeds)" in (out / "report.html").read_text()


def test_seed_and_seeds_together_are_refused(tmp_path):
    from harness.spec.config import ArmSpec

    with pytest.raises(ValueError, match="not both"):
        ArmSpec(arm="lora", seed=1, seeds=[1, 2])
    with pytest.raises(ValueError, match="repeats"):
        ArmSpec(arm="lora", seeds=[3, 3])


def test_steps_hold_random_rows_and_sort_only_inside_a_step():
    import random

    from harness.engine.training import Row, step_batches

    draw = random.Random(1)
    lengths = [draw.randint(20, 250) for _ in range(100)]
    rows = [Row(ids=[1] * n, labels=[1] * n, positions=list(range(n))) for n in lengths]
    steps = step_batches(rows, 2, 4, random.Random(0))
    assert steps == step_batches(rows, 2, 4, random.Random(0))  # seeded
    flat = [i for step in steps for m in step for i in m]
    assert sorted(flat) == list(range(100)) and len(steps) == 13
    assert all(len(step) <= 4 and all(len(m) <= 2 for m in step) for step in steps)
    # A step's rows are those of a plain shuffled loader: same rows per step as shuffle-and-cut.
    order = list(range(100))
    random.Random(0).shuffle(order)
    plain = [order[i : i + 8] for i in range(0, 100, 8)]
    assert [sorted(i for m in step for i in m) for step in steps] == [sorted(p) for p in plain]

    def padding(micro):
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in micro)

    sorted_micro = [m for step in steps for m in step]
    unsorted_micro = [p[j : j + 2] for p in plain for j in range(0, len(p), 2)]
    assert padding(sorted_micro) < padding(unsorted_micro) / 2


def test_mfu_counts_the_positions_the_loop_ran(tiny_model_dir):
    """A shared prefix runs once per micro-batch and the head only at answer positions: MFU
    counts those FLOPs, not 6N for every example token (which read above 1 on a real run)."""
    from harness.engine.training import TrainParams, make_rows, mfu, train

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    rows = make_rows(prompted_examples(), TrainParams(), 0)
    assert rows[0].prefix  # full fine-tuning shares the prefix
    params = TrainParams(epochs=1, rows_per_step=2, grad_accum=1)
    stats = train(model, rows, [], params, pad_id=0, device="cpu", seed=0, progress=False)
    micro_batches = math.ceil(len(rows) / 2)
    assert stats["computed_tokens"] == (
        sum(len(r.ids) for r in rows) + micro_batches * len(rows[0].prefix)
    )
    assert stats["computed_tokens"] < stats["real_tokens"]
    assert stats["head_tokens"] == sum(r.loss_tokens for r in rows)  # plain llama head
    total = sum(p.numel() for p in model.parameters())
    head = model.get_output_embeddings().weight.numel()
    m = mfu(stats, total, head, full=True, device="cpu")
    want = 6 * ((total - head) * stats["computed_tokens"] + head * stats["head_tokens"])
    assert m["training_flops"] == want and m["flops_per_token"] == 6 * total
    seconds = stats["seconds"] - stats["dev_eval_seconds"]
    assert m["mfu"] == pytest.approx(want / seconds / m["device_peak_flops"], abs=1e-4)  # 4 places


def test_training_without_rows_is_refused_not_looped(tiny_model_dir):
    from harness.engine.training import TrainParams, train

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    with pytest.raises(ValueError, match=r"nothing to train on.*max_seq_len \(256\)"):
        train(model, [], [], TrainParams(), pad_id=0, device="cpu", seed=0, progress=False)


def test_training_prints_a_plain_progress_line_every_30_seconds_in_logs(capsys):
    from harness.engine.training import TrainLog

    now = [0.0]
    log = TrainLog(300, show=True, clock=lambda: now[0])  # stderr is captured: not a terminal
    for step in range(1, 101):
        now[0] = step * 1.25  # 1.25 s per step, no dev split: no evaluation lines
        log.step(step, loss=2.0 - step / 100, tokens_per_s=130.0)
    log.close()
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("[adaptbench]")]
    assert lines[0] == (
        "[adaptbench] train step 24/300: loss 1.7600, 1.25 s per step, 130 real tokens/s"
    )
    assert [x.split(":")[0] for x in lines] == [
        f"[adaptbench] train step {n}/300" for n in (24, 48, 72, 96)
    ]
    quiet = TrainLog(300, show=False, clock=lambda: now[0])  # --no-progress, or a helper rank
    now[0] += 100
    quiet.step(101, loss=1.0, tokens_per_s=130.0)
    assert "[adaptbench]" not in capsys.readouterr().err


def test_train_items_cut_before_their_answer_are_counted_and_most_of_them_refused(
    tiny_suite, tmp_path, capsys
):
    from harness.arms.trained import _too_long

    class Words:  # one token per word: enough to test the rule
        def format_chat(self, messages):
            return " ".join(m["content"] for m in messages)

        def encode(self, text):
            return text.split()

    convs = [([{"role": "user", "content": "w " * n}], "a") for n in (10, 30, 12, 40)]
    _too_long("lora", Words(), convs, 1, 20)  # one of four: left out, said
    assert (
        "1 of 4 train examples are longer than max_seq_len (20 tokens)" in capsys.readouterr().err
    )
    with pytest.raises(
        ValueError, match=r"3 of 4 .*longest prompt has 40 tokens.*max_seq_len: 128"
    ):
        _too_long("lora", Words(), convs, 3, 20)
    # Through a run: every prompt is longer than 16 tokens, so the cell fails and says what to set.
    tiny_suite.write_text(
        tiny_suite.read_text().replace(
            "arms:\n", "arms:\n  - arm: lora\n    params: {max_seq_len: 16, epochs: 1}\n"
        )
    )
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(tiny_suite), "--arms", "lora", "--out", str(out)])
    assert r.exit_code != 0 and "set `max_seq_len: 192` in the arm's params" in r.output
    run = json.loads((out / "results.json").read_text())["runs"][0]
    assert run["status"] == "failed" and "set `max_seq_len:" in run["reason"]
