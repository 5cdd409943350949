"""Training shared by the fine-tuning arms (full, lora, qlora): examples, packing, the loop.

Examples are rendered with the same conversation the arm sees at evaluation, and the loss is on
the answer tokens only. Rows are made one of two ways (`make_rows`):

* **shared prefix** (`share_prefix`; by default where no adapter dropout is drawn, e.g. full
  fine-tuning or LoRA with dropout 0): every example of a task starts with the same
  tokens (system prompt, instruction) and is trained on none of them, so each row holds one
  example without that prefix, and each micro-batch runs the prefix once and lets all its rows
  attend to its keys and values (gradients from every row flow back into it). Same loss and
  gradient as the whole examples (tested), with the prefix's tokens run once per micro-batch
  instead of once per example (its share of a task's tokens: see README, Limits today).
  With LoRA dropout it differs: one mask for the prefix per micro-batch, not per example
  (`shares_prefix`).
* **packing** otherwise: examples are packed into rows of `max_seq_len` tokens with per-example
  position ids; transformers then keeps packed examples from attending to each other, but only
  with the KV cache off and no attention mask (with the cache on it silently drops the
  per-sequence mask). `tests/test_training.py` checks that a packed batch gives the unpacked loss.

Each optimizer step takes `rows_per_step` x `grad_accum` random rows, sorted by length into its
micro-batches (`step_batches`); the vocabulary projection runs only where a label is
(`token_loss_sum`). Under `accelerate launch`/`torchrun` a step's rows are split between the
processes (`harness.common.distributed`).
"""

from __future__ import annotations

import functools
import inspect
import math
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Literal

import torch
from pydantic import Field
from tqdm.auto import tqdm

from harness.common import distributed
from harness.common.log import log as log_line
from harness.common.measure import Timer, tokens_per_s

# Computed in measure (the one place that times and counts); the training arms import them here.
from harness.common.measure import device_peak_flops as device_peak_flops
from harness.common.measure import mfu as mfu
from harness.data.tasks import Document
from harness.models.backend import Message
from harness.spec.config import Strict

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
    train_fraction: float = Field(
        1.0,
        gt=0,
        le=1,
        description="train on this nested share of the train split "
        "(harness.data.fractions); set per cell by the arm's `train_fractions`",
    )
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
    per micro-batch instead of one per example: the loss is the same only in expectation, and
    the trained model is not the one packed whole examples give, so `auto` shares the prefix
    only where no dropout is drawn (the dev losses of both: see README, Limits today)."""
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
    padding. Sorting across steps would cut padding further but makes each step's rows alike,
    which changes what a step learns from (a worse dev loss: see README, Limits today), so it
    is not done.
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
    most positions need no logits, and for a small model with a large vocabulary the head is a
    large part of the forward's FLOPs and its fp32 logits (rows x positions x vocabulary) of
    its memory. Same loss as the full forward (tested).
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


# --------------------------------------------------------------------------------------------
# The loop in its parts: the plan of steps, the optimizer and its schedule, one step, the token
# counts, the dev evaluations with early stopping, the log. `train` puts them together.


@dataclass(frozen=True)
class StepPlan:
    """How many optimizer steps a run takes, and after which steps it evaluates the dev loss."""

    steps_per_epoch: int
    total_steps: int
    eval_every: int

    @classmethod
    def for_rows(cls, n_rows: int, params: TrainParams) -> StepPlan:
        per_epoch = max(1, math.ceil(n_rows / (params.rows_per_step * params.grad_accum)))
        total = max(1, math.ceil(per_epoch * params.epochs))  # fractional epochs round up
        return cls(per_epoch, total, max(1, per_epoch // params.evals_per_epoch))

    def evaluates_at(self, step: int) -> bool:
        return step % self.eval_every == 0 or step == self.total_steps


def endless_steps(
    rows: list[Row], params: TrainParams, rng: random.Random
) -> Iterator[list[list[int]]]:
    """Optimizer steps (micro-batches of row indices), epoch after epoch; each epoch is drawn
    from `rng` when it starts, so the rows a run sees depend only on its seed."""
    while True:
        yield from step_batches(rows, params.rows_per_step, params.grad_accum, rng)


@dataclass
class Optimization:
    """AdamW over the trainable weights, its schedule (warmup, then decay) and gradient clipping:
    what happens once a step's gradients are in."""

    trainable: list[torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    max_grad_norm: float

    @classmethod
    def build(
        cls, trainable: list[torch.nn.Parameter], params: TrainParams, total_steps: int
    ) -> Optimization:
        from transformers import get_scheduler

        optimizer = torch.optim.AdamW(
            trainable, lr=params.learning_rate, weight_decay=params.weight_decay
        )
        scheduler = get_scheduler(
            params.schedule,
            optimizer,
            num_warmup_steps=int(params.warmup_ratio * total_steps),
            num_training_steps=total_steps,
        )
        return cls(trainable, optimizer, scheduler, params.max_grad_norm)

    def update(self) -> None:
        torch.nn.utils.clip_grad_norm_(self.trainable, self.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)


def train_step(
    model,
    rows: list[Row],
    micro_batches: list[list[int]],
    optim: Optimization,
    pad_id: int,
    device: str,
    autocast: Callable[[], AbstractContextManager],
    step: int,
) -> float:
    """One optimizer step; returns its loss per labelled token over all of its rows.

    Every micro-batch's loss is divided by the labelled tokens of the whole step, so the summed
    gradients are those of one batch of all the step's rows. Under several processes each runs
    its share of the micro-batches and the gradients are summed before the update. A loss that
    is not finite stops the run (`Diverged`) before it touches the weights.
    """
    n_tokens = max(sum(rows[i].loss_tokens for m in micro_batches for i in m), 1)
    loss_sum = 0.0
    for m in distributed.shard(micro_batches):  # this process's rows (all of them on one)
        with autocast():
            loss, _ = token_loss_sum(model, collate([rows[i] for i in m], pad_id, device))
        (loss / n_tokens).backward()
        loss_sum += float(loss.detach())
    distributed.sum_gradients(optim.trainable)
    (loss_sum,) = distributed.sum_across([loss_sum], device)
    step_loss = loss_sum / n_tokens
    if not math.isfinite(step_loss):
        raise Diverged(step, step_loss)
    optim.update()
    return step_loss


@dataclass
class TokenCounts:
    """Tokens a run trained on. `real`: every non-padding example token, its shared prefix
    included (what tokens/s counts). `computed`: positions the model really ran (a shared prefix
    once per micro-batch, no padding); `head`: positions the vocabulary projection ran on. MFU
    counts FLOPs from those two (`measure.mfu`)."""

    head_on_labels_only: bool
    real: int = 0
    computed: int = 0
    head: int = 0

    def add(self, rows: list[Row], micro_batches: list[list[int]]) -> None:
        for m in micro_batches:
            self.real += sum(rows[i].real_tokens for i in m)
            ran = len(rows[m[0]].prefix) + sum(len(rows[i].ids) for i in m)
            self.computed += ran
            self.head += sum(rows[i].loss_tokens for i in m) if self.head_on_labels_only else ran


class DevEvaluation:
    """Dev-loss evaluations and early stopping.

    Keeps a copy of the trainable weights of the best dev loss so far, stops after `patience`
    evaluations without a gain (never when patience is None), and puts the best weights back
    at the end. Its time is kept apart: inside the wall time, outside tokens/s.
    """

    def __init__(
        self,
        rows: list[Row],
        patience: int | None,
        pad_id: int,
        device: str,
        batch_rows: int,
        autocast: Callable[[], AbstractContextManager],
    ):
        self.rows, self.patience = rows, patience
        self.pad_id, self.device, self.batch_rows, self.autocast = (
            pad_id,
            device,
            batch_rows,
            autocast,
        )
        self.curve: list[dict] = []
        self.seconds = 0.0
        self.best_loss, self.best_step = math.inf, 0
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.since_best = 0
        self.stopped = False

    def evaluate(self, model, step: int) -> float:
        with Timer() as timer:
            loss = mean_loss(
                model, self.rows, self.pad_id, self.device, self.batch_rows, self.autocast
            )
        self.seconds += timer.seconds
        self.curve.append({"step": step, "dev_loss": round(loss, 5)})
        if loss < self.best_loss:
            self.best_loss, self.best_step, self.since_best = loss, step, 0
            self.best_weights = {
                k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad
            }
        else:
            self.since_best += 1
            self.stopped = bool(self.patience) and self.since_best >= self.patience
        return loss

    def restore_best(self, model, last_step: int) -> bool:
        """Put the best weights back unless the last step was the best; whether it did."""
        if self.best_weights is None or self.best_step == last_step:
            return False
        with torch.no_grad():
            named = dict(model.named_parameters())
            for k, v in self.best_weights.items():
                named[k].copy_(v)
        return True


class TrainLog:
    """The loss curve; a progress bar on a terminal, else plain lines (logs, CI): one per dev
    evaluation, and one every `LOG_EVERY_S` seconds, so that a run without a dev split (or with
    far-apart evaluations) still says it is alive. Only the main process shows anything."""

    LOG_EVERY_S = 30.0

    def __init__(self, total_steps: int, show: bool, clock: Callable[[], float] = time.monotonic):
        self.total_steps, self.show = total_steps, show
        self.curve: list[dict] = []
        self.last = (math.nan, math.nan)  # (loss, real tokens/s) of the latest step
        self.plain = show and not sys.stderr.isatty()
        self.bar = tqdm(
            total=total_steps, desc="train", unit="step", disable=not (show and sys.stderr.isatty())
        )
        self.clock = clock
        self.mark = (0, clock())  # (step, time) of the latest plain line, or of the start

    def step(self, step: int, loss: float, tokens_per_s: float) -> None:
        self.last = (loss, tokens_per_s)
        self.curve.append(
            {"step": step, "loss": round(loss, 5), "tokens_per_s": round(tokens_per_s, 1)}
        )
        self.bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tokens_per_s:.0f}")
        self.bar.update(1)
        now = self.clock()
        if self.plain and now - self.mark[1] >= self.LOG_EVERY_S:
            per_step = (now - self.mark[1]) / max(1, step - self.mark[0])
            log_line(
                f"train step {step}/{self.total_steps}: loss {loss:.4f}, {per_step:.2f} s per "
                f"step, {tokens_per_s:.0f} real tokens/s"
            )
            self.mark = (step, now)

    def evaluation(self, step: int, dev_loss: float) -> None:
        if self.plain:
            loss, tokens_per_s = self.last
            print(
                f"[adaptbench] train step {step}/{self.total_steps}: loss {loss:.4f}, "
                f"dev loss {dev_loss:.4f}, {tokens_per_s:.0f} real tokens/s",
                file=sys.stderr,
                flush=True,
            )
            self.mark = (step, self.clock())  # that was a line too: the next one 30 s on

    def close(self) -> None:
        self.bar.close()


def uses_bf16(params: TrainParams, device: str) -> bool:
    """bf16 autocast: `on`, or `auto` on a CUDA device that supports it."""
    return params.bf16 == "on" or (
        params.bf16 == "auto" and device == "cuda" and torch.cuda.is_bf16_supported()
    )


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
    if not train_rows:
        raise ValueError(
            f"nothing to train on: no example kept an answer token within max_seq_len "
            f"({params.max_seq_len}), or there were none"
        )
    model.config.use_cache = False  # required for packing (see the module docstring)
    if params.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    use_bf16 = uses_bf16(params, device)
    autocast = functools.partial(
        torch.autocast, device_type=device, dtype=torch.bfloat16, enabled=use_bf16
    )
    trainable = [p for p in model.parameters() if p.requires_grad]
    distributed.same_start(trainable)
    plan = StepPlan.for_rows(len(train_rows), params)
    optim = Optimization.build(trainable, params, plan.total_steps)
    patience = params.early_stopping_patience
    dev = DevEvaluation(dev_rows, patience, pad_id, device, params.rows_per_step, autocast)
    log = TrainLog(plan.total_steps, progress and distributed.is_main())
    counts = TokenCounts(head_on_labels_only=decoder_and_head(model) is not None)
    steps = endless_steps(train_rows, params, random.Random(seed))
    model.train()
    step = 0
    with Timer() as wall:
        for step, micro_batches in zip(range(1, plan.total_steps + 1), steps):
            loss = train_step(
                model, train_rows, micro_batches, optim, pad_id, device, autocast, step
            )
            counts.add(train_rows, micro_batches)
            log.step(step, loss, tokens_per_s(counts.real, max(wall.elapsed() - dev.seconds, 1e-9)))
            if dev_rows and plan.evaluates_at(step):
                log.evaluation(step, dev.evaluate(model, step))
                if dev.stopped:
                    break
    log.close()
    restored = dev.restore_best(model, step)
    model.eval()
    model.config.use_cache = True  # back on for generation
    # real tokens per second of training: the dev-loss evaluations are not counted
    speed = tokens_per_s(counts.real, wall.seconds - dev.seconds)
    return {
        "seconds": round(wall.seconds, 3),
        "steps": step,
        "epochs_run": round(step / plan.steps_per_epoch, 3),
        "real_tokens": counts.real,
        "computed_tokens": counts.computed,
        "head_tokens": counts.head,
        "dev_eval_seconds": round(dev.seconds, 3),
        "tokens_per_s": None if speed is None else round(speed, 2),
        "rows": len(train_rows),
        "bf16_autocast": use_bf16,
        "processes": distributed.processes(),
        "final_loss": log.curve[-1]["loss"] if log.curve else None,
        "best_dev_loss": None if dev.best_weights is None else round(dev.best_loss, 5),
        "best_dev_step": dev.best_step if dev.best_weights is not None else None,
        "restored_best": restored,
        "stopped_early": dev.stopped,
        "loss_curve": log.curve,
        "dev_loss_curve": dev.curve,
    }
