"""Training shared by the fine-tuning arms (full, lora, qlora): examples, packing, the loop.

Examples are rendered with the same conversation the arm sees at evaluation, and the loss is on
the answer tokens only. Rows are made one of two ways (`make_rows`):

* **shared prefix** (`share_prefix`; by default where no adapter dropout is drawn, e.g. full
  fine-tuning or LoRA with dropout 0): every example of a task starts with the same
  tokens (system prompt, instruction) and is trained on none of them, so each row holds one
  example without that prefix, and each micro-batch runs the prefix once and lets all its rows
  attend to its keys and values (gradients from every row flow back into it). Same loss and
  gradient as the whole examples (tested); on claims triage the prefix is 40% of the tokens.
  With LoRA dropout it differs: one mask for the prefix per micro-batch, not per example
  (`shares_prefix`).
* **packing** otherwise: examples are packed into rows of `max_seq_len` tokens with per-example
  position ids; transformers then keeps packed examples from attending to each other, but only
  with the KV cache off and no attention mask (with the cache on it silently drops the
  per-sequence mask). `tests/test_training.py` checks that a packed batch gives the unpacked loss.

Each optimizer step takes `rows_per_step` x `grad_accum` random rows, sorted by length into its
micro-batches (`step_batches`); the vocabulary projection runs only where a label is
(`token_loss_sum`). Under `accelerate launch`/`torchrun` a step's rows are split between the
processes (`harness.distributed`).
"""

from __future__ import annotations

import functools
import inspect
import math
import random
import sys
from dataclasses import dataclass, field
from typing import Literal

import torch
from pydantic import Field
from tqdm.auto import tqdm

from . import distributed
from .backends.base import Message
from .config import Strict
from .data import Document
from .measure import Timer

IGNORE = -100


class Diverged(RuntimeError):
    def __init__(self, step: int, loss: float):
        super().__init__(f"loss became {loss} at step {step}")
        self.step = step


class TrainParams(Strict):
    """Hyperparameters every training arm shares (each arm sets its own defaults)."""

    epochs: float = Field(3.0, gt=0, le=100)
    learning_rate: float = Field(2e-4, gt=0, le=1)
    weight_decay: float = Field(0.0, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    max_seq_len: int = Field(256, ge=16, le=32768)
    rows_per_step: int = Field(
        4, ge=1, le=4096, description="packed rows per micro-batch (one forward/backward)"
    )
    grad_accum: int = Field(
        2,
        ge=1,
        le=1024,
        description="micro-batches per optimizer step; a step's rows are sorted by length "
        "across its micro-batches, which cuts padding",
    )
    max_grad_norm: float = Field(1.0, gt=0)
    packing: bool = True
    share_prefix: Literal["auto", "on", "off"] = Field(
        "auto",
        description="run the prompt prefix every example shares once per micro-batch; auto: "
        "only where no adapter dropout is drawn (then it is exact); never with "
        "gradient_checkpointing, which drops the prefix's cache",
    )
    bf16: Literal["auto", "on", "off"] = Field(
        "auto", description="autocast; auto: on for CUDA with bf16"
    )
    gradient_checkpointing: bool = False
    early_stopping_patience: int | None = Field(
        2, ge=1, description="dev-loss evaluations without gain"
    )
    evals_per_epoch: int = Field(1, ge=1, le=100)
    corpus_training: bool = Field(
        False, description="also train on the task's corpus documents (all tokens)"
    )
    max_train_items: int | None = Field(None, ge=1)
    train_with_retrieval: bool = Field(
        False,
        description="RAFT-style: each training question shows retrieved passages (needs the "
        "arm's `retrieval:` block); the gold passage is among them with probability "
        "raft_gold_probability, distractors always",
    )
    raft_gold_probability: float = Field(0.8, ge=0, le=1)


@dataclass
class Example:
    ids: list[int]
    labels: list[int]  # IGNORE where no loss is taken

    @property
    def real_tokens(self) -> int:
        return len(self.ids)


def qa_examples(
    backend, conversations: list[tuple[list[Message], str]], max_len: int
) -> list[Example]:
    """Each (conversation, gold answer) as prompt -> answer + end of turn, loss on the answer.

    The arm renders the conversations (harness.arms.prompting) exactly as it asks at evaluation.
    """
    examples = []
    for messages, gold in conversations:
        prompt = backend.format_chat(messages)
        full = backend.format_training(messages, gold)
        p_ids = backend.encode(prompt)
        f_ids = backend.encode(full)
        if f_ids[: len(p_ids)] != p_ids:  # tokenisation merged across the boundary: split by hand
            f_ids = p_ids + backend.encode(full[len(prompt) :], special=False)
        f_ids = f_ids[:max_len]
        labels = [IGNORE] * min(len(p_ids), len(f_ids)) + f_ids[len(p_ids) :]
        if any(lab != IGNORE for lab in labels):
            examples.append(Example(f_ids, labels))
    return examples


def corpus_examples(backend, docs: list[Document], max_len: int) -> list[Example]:
    """Documents as plain text (continued pre-training), in windows of `max_len` tokens."""
    out = []
    for doc in docs:
        ids = backend.encode(f"{doc.title}\n{doc.text}" if doc.title else doc.text, special=False)
        for start in range(0, len(ids), max_len):
            chunk = ids[start : start + max_len]
            if len(chunk) > 1:
                out.append(Example(chunk, [IGNORE] + chunk[1:]))
    return out


@dataclass
class Row:
    ids: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    # Tokens before `ids` (no loss on them), the same for every row of a row set; run once per
    # micro-batch. Empty for packed rows.
    prefix: tuple[int, ...] = ()

    @property
    def real_tokens(self) -> int:
        """The example tokens this row trains on, its shared prefix included."""
        return len(self.prefix) + len(self.ids)

    @property
    def loss_tokens(self) -> int:
        """Positions that are predicted (a label after the first position), as in the loss."""
        return sum(label != IGNORE for label in self.labels[1:])


def pack(examples: list[Example], max_len: int, pad_id: int, packing: bool = True) -> list[Row]:
    """First-fit-decreasing packing into rows of at most `max_len`; one example per row if not packing."""
    rows: list[Row] = []
    for ex in sorted(examples, key=lambda e: -len(e.ids)):
        target = None
        if packing:
            target = next((r for r in rows if len(r.ids) + len(ex.ids) <= max_len), None)
        if target is None:
            target = Row()
            rows.append(target)
        target.ids += ex.ids
        target.labels += [IGNORE] + ex.labels[1:]  # never predict across an example boundary
        target.positions += list(range(len(ex.ids)))
    return rows


MIN_SHARED_PREFIX = 8  # shorter common prefixes are not worth a separate forward


def shared_prefix_length(examples: list[Example]) -> int:
    """How many leading tokens all examples share with no loss on them, or 0 if under 8.

    The prefix's last position predicts each example's next token, so that token must carry no
    label either; the loss positions stay exactly those of the whole examples.
    """
    if len(examples) < 2:
        return 0
    first = examples[0].ids
    n = min(len(e.ids) for e in examples) - 1
    for e in examples:
        n = min(n, next((i for i, lab in enumerate(e.labels) if lab != IGNORE), len(e.ids)) - 1)
        n = next((i for i in range(n) if e.ids[i] != first[i]), n)
    return n if n >= MIN_SHARED_PREFIX else 0


def shares_prefix(params: TrainParams) -> bool:
    """Whether `share_prefix` applies. With LoRA dropout the shared prefix draws one dropout mask
    per micro-batch instead of one per example: the loss is the same only in expectation. On
    claims triage (LoRA dropout 0.05, seeds 0-2) the dev loss came out 0.995/0.984/0.976 with
    it, 0.970/0.967/0.998 with packed whole examples (and 0.980/0.969/1.011 for a plain HF
    Trainer), so `auto` leaves it off there."""
    if params.gradient_checkpointing or params.share_prefix == "off":
        return False
    return params.share_prefix == "on" or not getattr(params, "dropout", 0.0)


def make_rows(examples: list[Example], params: TrainParams, pad_id: int) -> list[Row]:
    """Training rows: one per example after their shared prefix if they have one (and
    `share_prefix` is on), else packed (`pack`)."""
    n = 0
    if shares_prefix(params):
        n = shared_prefix_length(examples)
    if not n:
        return pack(examples, params.max_seq_len, pad_id, params.packing)
    prefix = tuple(examples[0].ids[:n])
    return [Row(e.ids[n:], e.labels[n:], list(range(n, len(e.ids))), prefix) for e in examples]


def step_batches(
    rows: list[Row], rows_per_step: int, grad_accum: int, rng: random.Random
) -> list[list[list[int]]]:
    """One epoch of optimizer steps: random rows (as a shuffled loader gives), each step cut into
    `grad_accum` micro-batches (row indices) of rows of similar length.

    Which rows a step sees stays random, so its gradient is that of a plain shuffled batch;
    sorting inside the step only puts rows of similar length in one micro-batch, which cuts the
    padding (claims triage, 6 rows of 109-256 tokens per step: 21% as one micro-batch, 4% as
    three). Sorting across steps cut padding to 0 but made each step's rows alike, and the dev
    loss came out 0.03 worse than a plain Trainer's over three seeds, so it is not done.
    """
    order = list(range(len(rows)))
    rng.shuffle(order)
    per_step = rows_per_step * grad_accum
    steps = []
    for start in range(0, len(order), per_step):
        step = sorted(order[start : start + per_step], key=lambda i: len(rows[i].ids))
        steps.append([step[j : j + rows_per_step] for j in range(0, len(step), rows_per_step)])
    return steps


def collate(rows: list[Row], pad_id: int, device: str) -> dict[str, torch.Tensor]:
    """Right-pad rows; padding gets its own positions (a separate sequence) and no loss.

    Rows with a shared prefix also give `prefix_ids` (1 x prefix length); right padding needs no
    mask there, since causal attention keeps every real token from seeing the padding after it.
    """
    prefix = rows[0].prefix
    if any(r.prefix != prefix for r in rows):
        raise ValueError("the rows of one micro-batch must share the same prefix")
    width = max(len(r.ids) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r.ids)
        ids[i, :n] = torch.tensor(r.ids)
        labels[i, :n] = torch.tensor(r.labels)
        positions[i, :n] = torch.tensor(r.positions)
        positions[i, n:] = torch.arange(width - n)
    batch = {
        "input_ids": ids.to(device),
        "labels": labels.to(device),
        "position_ids": positions.to(device),
    }
    if prefix:
        batch["prefix_ids"] = torch.tensor([prefix], dtype=torch.long, device=device)
    return batch


# Model types whose logits are exactly `lm_head(decoder(...).last_hidden_state)` (no soft-capping or
# scaling): for them the head runs on the labelled positions only (below). Others take the full path.
PLAIN_HEAD_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3", "phi3", "smollm3"})


def decoder_and_head(model):
    """(decoder, lm_head) of a causal LM (through a peft wrapper) with a plain head, else None."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(inner.config, "model_type", None) not in PLAIN_HEAD_TYPES:
        return None
    decoder, head = getattr(inner, "model", None), getattr(inner, "lm_head", None)
    return None if decoder is None or head is None else (decoder, head)


def cache_kwarg(module) -> str:
    """`cache` in transformers 5.2x, `past_key_values` before (deprecated there, gone in 5.40)."""
    inner = module.get_base_model() if hasattr(module, "get_base_model") else module
    return _cache_kwarg_of(type(inner))


@functools.cache
def _cache_kwarg_of(cls: type) -> str:  # once per model class, not per micro-batch
    return "cache" if "cache" in inspect.signature(cls.forward).parameters else "past_key_values"


def token_loss_sum(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Sum of next-token cross-entropy over labelled tokens, and how many there were.

    The vocabulary projection runs only where a label is: with the loss on answer tokens only,
    most positions need no logits (SmolLM2's head is 21% of its forward FLOPs, and the fp32
    logits of a 8 x 256 micro-batch take 400 MB). Same loss as the full forward (tested).
    """
    target = batch["labels"][:, 1:]
    labelled = target != IGNORE
    inputs = {"input_ids": batch["input_ids"], "position_ids": batch["position_ids"]}
    parts = decoder_and_head(model)
    forward = model if parts is None else parts[0]
    if "prefix_ids" in batch:  # the shared prefix once; every row attends to its keys and values
        out = forward(input_ids=batch["prefix_ids"], use_cache=True)
        cache = out.cache if "cache" in out else out.past_key_values
        cache.batch_repeat_interleave(batch["input_ids"].shape[0])
        inputs |= {cache_kwarg(forward): cache, "use_cache": True}
    else:
        inputs["use_cache"] = False
    if parts is None:
        logits = model(**inputs).logits[:, :-1][labelled]
    else:
        hidden = forward(**inputs).last_hidden_state
        logits = parts[1](hidden[:, :-1][labelled])
    loss = torch.nn.functional.cross_entropy(logits.float(), target[labelled], reduction="sum")
    return loss, int(labelled.sum())


@torch.no_grad()
def mean_loss(model, rows: list[Row], pad_id: int, device: str, batch_rows: int, autocast) -> float:
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    if distributed.active():  # each rank scores its share; the sums are added up below
        rows = rows[distributed.rank() :: distributed.processes()]
    for start in range(0, len(rows), batch_rows):
        with autocast():
            loss, n = token_loss_sum(
                model, collate(rows[start : start + batch_rows], pad_id, device)
            )
        total, count = total + float(loss), count + n
    total, count = distributed.sum_across([total, count], device)
    model.train(was_training)
    return total / max(count, 1)


def train(
    model,
    train_rows: list[Row],
    dev_rows: list[Row],
    params: TrainParams,
    pad_id: int,
    device: str,
    seed: int,
    progress: bool = True,
) -> dict:
    """The loop: AdamW, warmup then decay, accumulation, clipping, early stopping on dev loss.

    Returns figures for the record (real tokens/s, loss curves, steps); restores the weights of
    the best dev loss when early stopping applies.
    """
    from transformers import get_scheduler

    model.config.use_cache = False  # required for packing (see the module docstring)
    if params.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    use_bf16 = params.bf16 == "on" or (
        params.bf16 == "auto" and device == "cuda" and torch.cuda.is_bf16_supported()
    )

    def autocast():
        return torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=use_bf16)

    trainable = [p for p in model.parameters() if p.requires_grad]
    distributed.same_start(trainable)
    progress = progress and distributed.is_main()
    optimizer = torch.optim.AdamW(
        trainable, lr=params.learning_rate, weight_decay=params.weight_decay
    )
    steps_per_epoch = max(
        1, math.ceil(len(train_rows) / (params.rows_per_step * params.grad_accum))
    )
    total_steps = max(1, math.ceil(steps_per_epoch * params.epochs))
    scheduler = get_scheduler(
        params.schedule,
        optimizer,
        num_warmup_steps=int(params.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
    eval_every = max(1, steps_per_epoch // params.evals_per_epoch)
    rng = random.Random(seed)
    model.train()
    curve, dev_curve = [], []
    best = (float("inf"), None, 0)  # (dev loss, weights, step)
    since_best, step, real_tokens = 0, 0, 0
    bar = tqdm(
        total=total_steps, desc="train", unit="step", disable=not (progress and sys.stderr.isatty())
    )
    stopped_early = False
    dev_seconds = 0.0  # dev-loss evaluations: inside the wall time, outside tokens/s
    # Positions the model really ran (a shared prefix once per micro-batch, no padding) and
    # those the vocabulary projection ran on: what MFU counts FLOPs from (`mfu`).
    head_on_labels_only = decoder_and_head(model) is not None
    computed_tokens, head_tokens = 0, 0
    with Timer() as wall:
        while step < total_steps and not stopped_early:
            epoch = step_batches(train_rows, params.rows_per_step, params.grad_accum, rng)
            for step_micro in epoch:  # the whole step on every rank; the last may be smaller
                n_tokens = sum(train_rows[i].loss_tokens for m in step_micro for i in m)
                step_loss = 0.0
                for m in distributed.shard(step_micro):  # this process's rows (all of them on one)
                    with autocast():
                        loss_sum, _ = token_loss_sum(
                            model, collate([train_rows[i] for i in m], pad_id, device)
                        )
                    (loss_sum / max(n_tokens, 1)).backward()
                    step_loss += float(loss_sum.detach())
                distributed.sum_gradients(trainable)
                (step_loss,) = distributed.sum_across([step_loss], device)
                for m in step_micro:
                    # Real tokens: every non-padding example token, its shared prefix included.
                    real_tokens += sum(train_rows[i].real_tokens for i in m)
                    ran = len(train_rows[m[0]].prefix) + sum(len(train_rows[i].ids) for i in m)
                    computed_tokens += ran
                    head_tokens += (
                        sum(train_rows[i].loss_tokens for i in m) if head_on_labels_only else ran
                    )
                loss_value = step_loss / max(n_tokens, 1)
                if not math.isfinite(loss_value):
                    raise Diverged(step + 1, loss_value)
                torch.nn.utils.clip_grad_norm_(trainable, params.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                elapsed = max(wall.elapsed() - dev_seconds, 1e-9)  # training time so far
                curve.append(
                    {
                        "step": step,
                        "loss": round(loss_value, 5),
                        "tokens_per_s": round(real_tokens / elapsed, 1),
                    }
                )
                bar.set_postfix(loss=f"{loss_value:.3f}", tok_s=f"{real_tokens / elapsed:.0f}")
                bar.update(1)
                if dev_rows and (step % eval_every == 0 or step == total_steps):
                    with Timer() as dev_timer:
                        dev = mean_loss(
                            model, dev_rows, pad_id, device, params.rows_per_step, autocast
                        )
                    dev_seconds += dev_timer.seconds
                    dev_curve.append({"step": step, "dev_loss": round(dev, 5)})
                    if progress and not sys.stderr.isatty():  # a line per evaluation in logs and CI
                        print(
                            f"[adaptbench] train step {step}/{total_steps}: loss {loss_value:.4f}, "
                            f"dev loss {dev:.4f}, {real_tokens / elapsed:.0f} real tokens/s",
                            file=sys.stderr,
                            flush=True,
                        )
                    if dev < best[0]:
                        state = {
                            k: v.detach().clone()
                            for k, v in model.named_parameters()
                            if v.requires_grad
                        }
                        best, since_best = (dev, state, step), 0
                    else:
                        since_best += 1
                        if (
                            params.early_stopping_patience
                            and since_best >= params.early_stopping_patience
                        ):
                            stopped_early = True
                            break
                if step >= total_steps:
                    break
    bar.close()
    restored = False
    if best[1] is not None and best[2] != step:
        with torch.no_grad():
            named = dict(model.named_parameters())
            for k, v in best[1].items():
                named[k].copy_(v)
        restored = True
    model.eval()
    model.config.use_cache = True  # back on for generation
    return {
        "seconds": round(wall.seconds, 3),
        "steps": step,
        "epochs_run": round(step / steps_per_epoch, 3),
        "real_tokens": real_tokens,
        "computed_tokens": computed_tokens,
        "head_tokens": head_tokens,
        "dev_eval_seconds": round(dev_seconds, 3),
        # real tokens per second of training: the dev-loss evaluations are not counted
        "tokens_per_s": round(real_tokens / (wall.seconds - dev_seconds), 2)
        if wall.seconds > dev_seconds
        else None,
        "rows": len(train_rows),
        "bf16_autocast": use_bf16,
        "processes": distributed.processes(),
        "final_loss": curve[-1]["loss"] if curve else None,
        "best_dev_loss": None if best[1] is None else round(best[0], 5),
        "best_dev_step": best[2] if best[1] is not None else None,
        "restored_best": restored,
        "stopped_early": stopped_early,
        "loss_curve": curve,
        "dev_loss_curve": dev_curve,
    }


# --------------------------------------------------------------------------------------------
# MFU


def device_peak_flops(device: str, bf16: bool) -> float:
    """Measured matmul throughput (FLOP/s) of this device in the training dtype, cached per process.

    bf16 when training ran under bf16 autocast, else fp32: MFU is against what the loop could use.
    """
    key = (device, torch.get_num_threads(), bf16)
    if key not in _PEAK:
        n = 1024 if device == "cpu" else 8192
        dtype = torch.bfloat16 if bf16 else torch.float32
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        for _ in range(2):
            a @ b
        reps = 5 if device == "cpu" else 50
        if device == "cuda":
            torch.cuda.synchronize()
        with Timer() as t:
            for _ in range(reps):
                a @ b
            if device == "cuda":
                torch.cuda.synchronize()
        _PEAK[key] = 2 * n**3 * reps / t.seconds
    return _PEAK[key]


_PEAK: dict = {}


def mfu(
    stats: dict, params_total: int, head_params: int, full: bool, device: str, bf16: bool = False
) -> dict:
    """Model FLOPs utilisation of a training run: FLOPs done per second / the device's peak.

    6 FLOPs per parameter and position for full fine-tuning, 4 for adapters (the frozen weights
    need no weight gradient), counted on the positions the loop really ran: a shared prefix once
    per micro-batch, the vocabulary projection (`head_params`) only where it ran (answer
    positions, for plain-head models). Counting every example token at 6N instead overstated
    the work by the shared prefix and the skipped projections: on claims triage a full
    fine-tune read MFU 1.29 that way. Against the peak of all processes' devices, measured in
    the dtype the matmuls ran in (`bf16`: under bf16 autocast).
    """
    per_param = 6 if full else 4
    flops = per_param * (
        (params_total - head_params) * stats["computed_tokens"] + head_params * stats["head_tokens"]
    )
    seconds = stats["seconds"] - stats["dev_eval_seconds"]
    processes = stats["processes"]
    peak = device_peak_flops(device, bf16)
    return {
        "flops_per_token": per_param * params_total,  # nominal (every position, every weight)
        "training_flops": flops,
        "device_peak_flops": round(peak),
        "device_peak_dtype": "bfloat16" if bf16 else "float32",
        "devices": processes,
        "mfu": round(flops / seconds / (peak * processes), 4) if seconds > 0 and flops else None,
    }
