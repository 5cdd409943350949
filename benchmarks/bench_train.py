"""LoRA training throughput and quality: adaptbench's training loop against a plain HF Trainer.

What is compared
----------------
The same LoRA fine-tune of the suite model (SmolLM2-135M-Instruct) on the train split of the
insurance claims-triage data, done three ways:

* trainer          `transformers.Trainer` as most people write it: one example per row, batches of
                   8 examples padded by `DataCollatorForSeq2Seq` (the default padding collator for
                   a causal LM with masked labels), fp32, `use_cpu=True` on CPU;
* adaptbench       `harness.engine.training.train` as the `lora` arm runs it (`make_rows`; with the
                   arm's LoRA dropout 0.05 `share_prefix: auto` is off): examples packed into
                   rows of 256 tokens, as many rows per optimizer step as hold about 8 examples
                   (drawn at random, like the Trainer's batches), the step's rows sorted by
                   length into micro-batches of 2 rows (gradient accumulation: less padding,
                   same gradient), the vocabulary projection computed only at answer positions
                   (the only ones with a loss), fp32;
* adaptbench-shared the same with `share_prefix: on`: every example starts with the same 58
                   prompt tokens (system prompt and instruction, no loss on them), so each row
                   holds one example without them and each micro-batch of `--micro-rows` rows
                   runs them once, every row attending to their keys and values (same loss and
                   gradients as whole examples without dropout, tested; with dropout one mask
                   per micro-batch for the prefix);
* adaptbench-bf16  `adaptbench` with bf16 autocast forced on (`bf16="on"`). On a CPU without
                   bf16 units this can be slower than fp32; it is reported either way.

Why it is fair
--------------
* Same data: every contender trains on exactly the `Example` objects `qa_examples` builds (the
  conversation the arm sees at evaluation, loss on the answer tokens only), the first
  `--examples` train items, for `--epochs` epochs.
* Same model and adapter: a fresh fp32 model per contender, `torch.manual_seed(seed)` right before
  `get_peft_model`, so every adapter starts from the same weights; the `lora` arm's defaults
  (r=16, alpha=32, dropout 0.05, attention and MLP projections).
* Same optimisation: AdamW, lr 2e-4, no weight decay, gradient clipping at 1.0, linear warmup over
  int(0.1 x total steps) steps then cosine decay (`transformers.get_scheduler` in both), a
  token-mean loss over each optimizer step, about 8 examples per step (the exact figures are
  reported). Shuffling differs (each uses its own seeded sampler), as do the dropout draws.
* Same counting: real tokens = every non-padding token trained on (sum of example lengths x
  epochs, the shared prefix counted in every example); tokens/s = real tokens / wall seconds of
  the training call (`time.perf_counter` around `trainer.train()` or `train()`, which includes
  each one's own set-up). The token positions the model actually ran (padding included, a shared
  prefix once per micro-batch) are counted by a forward pre-hook and reported per real token
  (`slots_per_token`: above 1 is padding, below 1 is the prefix computed once for many rows).
* Same quality yardstick: after training, every model's dev loss is computed by one function,
  `harness.engine.training.mean_loss` (mean cross-entropy over the answer tokens of the dev split, rows
  as the lora arm makes them, fp32), so the figures are comparable. The untrained model's dev
  loss is given for scale.
* No evaluation inside the timed region: the Trainer runs with `eval_strategy="no"` and
  adaptbench's loop gets no dev rows (so no early stopping either).
* An untimed warm-up forward/backward runs first; contenders then run one after another in one
  process, in the order given by `--contenders`.

Run it (on a quiet machine; the defaults take hours on a small CPU)::

    .venv/bin/python benchmarks/bench_train.py
    .venv/bin/python benchmarks/bench_train.py --examples 32 --epochs 1  # smoke test

On a CPU shared with other busy processes, pass `--threads` = the number of idle cores: with more
torch threads than free cores every parallel op waits for a descheduled thread (measured here: a
forward pass 8x slower with 2 threads than with 1 while another process held one of two cores).
The load average at start and end is recorded so a noisy run can be recognised.

Results go to `benchmarks/results/bench_train.json` (`--out` to change).
"""

from __future__ import annotations

import os

# No network, ever: set before transformers is imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import math  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import peft  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from _common import machine_info as common_machine_info  # noqa: E402
from _common import write_json
from peft import get_peft_model  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    PrinterCallback,
    Trainer,
    TrainingArguments,
)

from harness.arms.lora import LoraParams, lora_config  # noqa: E402
from harness.arms.prompting import conversation, gold_answer, wording_for  # noqa: E402
from harness.data.tasks import TaskData, load_task  # noqa: E402
from harness.engine.training import (  # noqa: E402
    Example,
    Row,
    TrainParams,
    collate,
    make_rows,
    mean_loss,
    qa_examples,
    token_loss_sum,
    train,
)
from harness.models.hf import HFBackend  # noqa: E402
from harness.models.resolve import resolve_model  # noqa: E402
from harness.spec.config import DataSpec, ModelSpec, TaskSpec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "suites" / "data" / "insurance-claims-triage"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bench_train.json"
INSTRUCTION = (
    "Triage this insurance claim. Reply exactly as: line: <line>; severity: <severity>; "
    "route: <route>"
)
TEMPLATE = "Claim: {question}"
MAX_SEQ_LEN = 256
TRAINER_BATCH = 8  # examples per optimizer step for the Trainer; adaptbench aims for the same
EVAL_BATCH_ROWS = 8
CONTENDERS = ("trainer", "adaptbench", "adaptbench-shared", "adaptbench-bf16")


@dataclass
class Result:
    contender: str
    config: dict
    seconds: float = 0.0
    real_tokens: int = 0
    token_slots: int = 0  # positions the model processed in training, padding included
    optimizer_steps: int = 0
    examples_per_step: float = 0.0
    final_train_loss: float | None = None
    dev_loss: float | None = None
    dev_seconds: float | None = None  # the dev-loss evaluation, outside the timed region
    loss_curve: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def tokens_per_s(self) -> float:
        return self.real_tokens / self.seconds if self.seconds else 0.0

    @property
    def slots_per_token(self) -> float:
        return self.token_slots / self.real_tokens if self.real_tokens else 0.0

    def record(self) -> dict:
        return asdict(self) | {
            "tokens_per_s": round(self.tokens_per_s, 2),
            "slots_per_token": round(self.slots_per_token, 4),
        }


# ------------------------------------------------------------------------------ data and model


def claims_task() -> TaskData:
    spec = TaskSpec(
        name="claims",
        data=DataSpec(
            train=str(DATA / "train.jsonl"),
            dev=str(DATA / "dev.jsonl"),
            eval=str(DATA / "eval.jsonl"),
        ),
        instruction=INSTRUCTION,
        template=TEMPLATE,
    )
    return load_task(spec)


def build_data(
    backend: HFBackend, task: TaskData, n_examples: int | None, n_dev: int | None = None
) -> tuple[list[Example], list[Row]]:
    """The train examples (first `n_examples` items) and the dev rows (first `n_dev`)."""
    items = task.train[:n_examples] if n_examples else task.train
    wording = wording_for(task)

    def pairs(chosen):
        return [(conversation(task.spec, wording, i), gold_answer(task.spec, i)) for i in chosen]

    examples = qa_examples(backend, pairs(items), MAX_SEQ_LEN)
    dev_items = task.splits["dev"][:n_dev] if n_dev else task.splits["dev"]
    dev = qa_examples(backend, pairs(dev_items), MAX_SEQ_LEN)
    params = TrainParams(max_seq_len=MAX_SEQ_LEN)  # the dev rows as the lora arm makes them
    return examples, make_rows(dev, params, backend.tokenizer.pad_token_id)


def fresh_lora_model(path: Path, lora: LoraParams, seed: int, device: str):
    """The fp32 base model with a freshly initialised adapter (same weights for every seed)."""
    base = AutoModelForCausalLM.from_pretrained(str(path), dtype="float32", use_safetensors=True)
    torch.manual_seed(seed)
    return get_peft_model(base, lora_config(lora)).to(device)


class SlotCounter:
    """Counts the token positions (padding included) the model embeds, whichever forward runs."""

    def __init__(self, model):
        self.slots = 0
        self.handle = model.get_input_embeddings().register_forward_pre_hook(self._hook)

    def _hook(self, module, args):
        self.slots += args[0].numel()

    def remove(self) -> None:
        self.handle.remove()


def dev_loss(model, dev_rows: list[Row], pad_id: int, device: str) -> float:
    """Mean answer-token loss on the dev split, fp32, the same function for every contender."""
    return mean_loss(model, dev_rows, pad_id, device, EVAL_BATCH_ROWS, contextlib.nullcontext)


def warm_up(path: Path, lora: LoraParams, rows: list[Row], pad_id: int, device: str) -> None:
    """One untimed forward/backward so lazy kernel set-up is not charged to the first contender."""
    model = fresh_lora_model(path, lora, 0, device)
    model.train()
    loss, n = token_loss_sum(model, collate(rows[:EVAL_BATCH_ROWS], pad_id, device))
    (loss / max(n, 1)).backward()
    del model


def warmup_steps(total_steps: int, ratio: float) -> int:
    """adaptbench's rule (`harness.engine.training.train`), given to the Trainer as a step count."""
    return int(ratio * total_steps)


# ------------------------------------------------------------------------------ contenders


def run_trainer(
    path: Path,
    examples: list[Example],
    lora: LoraParams,
    epochs: int,
    seed: int,
    device: str,
    scratch: Path,
) -> tuple[Result, object]:
    """`transformers.Trainer`, one example per row, batches padded by DataCollatorForSeq2Seq."""
    tokenizer = AutoTokenizer.from_pretrained(str(path), padding_side="right")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    features = [
        {"input_ids": e.ids, "attention_mask": [1] * len(e.ids), "labels": e.labels}
        for e in examples
    ]
    steps = math.ceil(len(features) / TRAINER_BATCH) * epochs
    args = TrainingArguments(
        output_dir=str(scratch),
        per_device_train_batch_size=TRAINER_BATCH,
        gradient_accumulation_steps=1,
        num_train_epochs=epochs,
        learning_rate=lora.learning_rate,
        weight_decay=lora.weight_decay,
        max_grad_norm=lora.max_grad_norm,
        lr_scheduler_type=lora.schedule,
        warmup_steps=warmup_steps(steps, lora.warmup_ratio),
        bf16=False,
        fp16=False,
        use_cpu=device == "cpu",
        seed=seed,
        data_seed=seed,
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
        remove_unused_columns=False,
        label_names=["labels"],
        disable_tqdm=True,
    )
    model = fresh_lora_model(path, lora, seed, device)
    collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    trainer = Trainer(model=model, args=args, train_dataset=features, data_collator=collator)
    trainer.remove_callback(PrinterCallback)
    counter = SlotCounter(model)
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    counter.remove()
    curve = [
        {"step": h["step"], "loss": round(h["loss"], 5)}
        for h in trainer.state.log_history
        if "loss" in h
    ]
    config = {
        "runner": "transformers.Trainer",
        "collator": "DataCollatorForSeq2Seq(padding=True, label_pad_token_id=-100)",
        "packing": False,
        "per_device_train_batch_size": TRAINER_BATCH,
        "gradient_accumulation_steps": 1,
        "optim": str(args.optim),
        "lr_scheduler_type": str(args.lr_scheduler_type),
        "warmup_steps": args.warmup_steps,
        "max_grad_norm": args.max_grad_norm,
        "bf16": False,
        "use_cpu": args.use_cpu,
        "padding_side": tokenizer.padding_side,
    }
    result = Result(
        contender="trainer",
        config=config,
        seconds=seconds,
        real_tokens=sum(len(e.ids) for e in examples) * epochs,
        token_slots=counter.slots,
        optimizer_steps=trainer.state.global_step,
        examples_per_step=len(examples) * epochs / max(trainer.state.global_step, 1),
        final_train_loss=curve[-1]["loss"] if curve else None,
        loss_curve=curve,
    )
    return result, model


MICRO_ROWS = 2  # packed rows per micro-batch for adaptbench (--micro-rows; 2 measured best of 1-3)
SHARED_MICRO_ROWS = 4  # rows per micro-batch for adaptbench-shared (one prefix forward per 4 rows)


def rows_per_step_for(n_examples: int, n_rows: int, target: int = TRAINER_BATCH) -> int:
    """Packed rows per optimizer step so that a step sees about `target` examples."""
    return max(1, round(target * n_rows / max(n_examples, 1)))


def run_adaptbench(
    path: Path,
    examples: list[Example],
    lora: LoraParams,
    epochs: int,
    seed: int,
    device: str,
    pad_id: int,
    bf16: bool,
    share_prefix: str = "auto",
    micro_rows: int = MICRO_ROWS,
    name: str = "adaptbench",
) -> tuple[Result, object]:
    """`harness.engine.training.train` as the lora arm runs it, about 8 examples per optimizer step."""
    params = lora.model_copy(
        update={
            "epochs": float(epochs),
            "max_seq_len": MAX_SEQ_LEN,
            "packing": True,
            "share_prefix": share_prefix,
            "bf16": "on" if bf16 else "off",
            "early_stopping_patience": None,
        }
    )
    rows = make_rows(examples, params, pad_id)
    r = rows_per_step_for(len(examples), len(rows))
    accum = max(1, round(r / micro_rows))
    params = params.model_copy(update={"rows_per_step": micro_rows, "grad_accum": accum})
    model = fresh_lora_model(path, lora, seed, device)
    counter = SlotCounter(model)
    torch.manual_seed(seed)  # dropout draws, as the Trainer's set_seed does
    t0 = time.perf_counter()
    stats = train(model, rows, [], params, pad_id, device, seed, progress=False)
    seconds = time.perf_counter() - t0
    counter.remove()
    config = {
        "runner": "harness.engine.training.train",
        "shared_prefix_tokens": len(rows[0].prefix),
        "packing": not rows[0].prefix,
        "max_seq_len": MAX_SEQ_LEN,
        "rows": len(rows),
        "examples_per_row": round(len(examples) / len(rows), 3),
        "rows_per_step": micro_rows,
        "grad_accum": accum,
        "rows_per_optimizer_step": micro_rows * accum,
        "optim": "torch.optim.AdamW",
        "schedule": params.schedule,
        "warmup_steps": warmup_steps(stats["steps"], params.warmup_ratio),
        "max_grad_norm": params.max_grad_norm,
        "bf16_autocast": stats["bf16_autocast"],
    }
    result = Result(
        contender=name,
        config=config,
        seconds=seconds,
        real_tokens=stats["real_tokens"],
        token_slots=counter.slots,
        optimizer_steps=stats["steps"],
        examples_per_step=len(examples) * epochs / max(stats["steps"], 1),
        final_train_loss=stats["final_loss"],
        loss_curve=[{"step": c["step"], "loss": c["loss"]} for c in stats["loss_curve"]],
        extra={"loop_seconds": stats["seconds"], "loop_tokens_per_s": stats["tokens_per_s"]},
    )
    return result, model


# ------------------------------------------------------------------------------ reporting


def machine_info(device: str) -> dict:
    return common_machine_info(
        device=device,
        torch_threads=torch.get_num_threads(),
        torch=torch.__version__,
        transformers=transformers.__version__,
        peft=peft.__version__,
        cuda_device=torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    )


def ratios(results: list[Result]) -> dict[str, float]:
    """Each adaptbench variant's tokens/s divided by the Trainer's."""
    by_name = {r.contender: r for r in results}
    base = by_name.get("trainer")
    if base is None or not base.tokens_per_s:
        return {}
    return {
        f"{r.contender}/trainer": round(r.tokens_per_s / base.tokens_per_s, 3)
        for r in results
        if r.contender != "trainer"
    }


def print_table(results: list[Result], untrained_dev: float, speedups: dict[str, float]) -> None:
    head = f"{'contender':<16} {'seconds':>9} {'real tok':>9} {'tok/s':>8} {'slots/tok':>9} {'steps':>6} {'ex/step':>8} {'train loss':>10} {'dev loss':>9}"
    print(head)
    print("-" * len(head))
    for r in results:
        print(
            f"{r.contender:<16} {r.seconds:>9.1f} {r.real_tokens:>9d} {r.tokens_per_s:>8.1f} "
            f"{r.slots_per_token:>9.3f} {r.optimizer_steps:>6d} {r.examples_per_step:>8.2f} "
            f"{r.final_train_loss if r.final_train_loss is not None else float('nan'):>10.4f} "
            f"{r.dev_loss:>9.4f}"
        )
    print(f"untrained dev loss: {untrained_dev:.4f}")
    for name, value in speedups.items():
        print(f"tokens/s ratio {name}: {value:.3f}x")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--examples", type=int, default=None, help="train items to use (default: all)")
    p.add_argument("--epochs", type=int, default=1, help="training epochs (default 1)")
    p.add_argument(
        "--dev-items", type=int, default=None, help="dev items for the dev loss (default: all)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's own); use the number of idle cores",
    )
    p.add_argument(
        "--contenders",
        nargs="+",
        choices=CONTENDERS,
        default=list(CONTENDERS),
        help="which to run, in this order",
    )
    p.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto: cuda if present"
    )
    p.add_argument(
        "--micro-rows",
        type=int,
        default=MICRO_ROWS,
        help="adaptbench and adaptbench-bf16: packed rows per micro-batch (a step's rows are "
        f"split into such); adaptbench-shared always uses {SHARED_MICRO_ROWS}",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    if args.examples is not None and args.examples < 1:
        p.error("--examples must be at least 1")
    if args.dev_items is not None and args.dev_items < 1:
        p.error("--dev-items must be at least 1")
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be at least 1")
    if args.epochs < 1:
        p.error("--epochs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = (
        args.device if args.device != "auto" else "cuda" if torch.cuda.is_available() else "cpu"
    )
    machine = machine_info(device)
    print(f"device={device}, threads={machine['torch_threads']}, cpu={machine['cpu']}")

    path = resolve_model(ModelSpec(), progress=False).path
    backend = HFBackend(path, progress=False)
    pad_id = backend.tokenizer.pad_token_id
    task = claims_task()
    examples, dev_rows = build_data(backend, task, args.examples, args.dev_items)
    lora = LoraParams()
    print(
        f"{len(examples)} train examples ({sum(len(e.ids) for e in examples)} tokens), "
        f"{len(dev_rows)} dev rows, epochs={args.epochs}, "
        f"load average {machine['load_average_1_5_15']}"
    )

    warm_up(path, lora, dev_rows, pad_id, device)
    untrained = dev_loss(fresh_lora_model(path, lora, args.seed, device), dev_rows, pad_id, device)

    results = []
    with contextlib.ExitStack() as stack:
        for name in args.contenders:
            print(f"running {name} ...", flush=True)
            if name == "trainer":
                scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_")))
                result, model = run_trainer(
                    path, examples, lora, args.epochs, args.seed, device, scratch
                )
            else:
                shared = name == "adaptbench-shared"
                result, model = run_adaptbench(
                    path,
                    examples,
                    lora,
                    args.epochs,
                    args.seed,
                    device,
                    pad_id,
                    bf16=name == "adaptbench-bf16",
                    share_prefix="on" if shared else "auto",
                    micro_rows=SHARED_MICRO_ROWS if shared else args.micro_rows,
                    name=name,
                )
            t0 = time.perf_counter()
            result.dev_loss = round(dev_loss(model, dev_rows, pad_id, device), 5)
            result.dev_seconds = round(time.perf_counter() - t0, 2)
            print(
                f"  {name}: {result.seconds:.1f} s training, {result.tokens_per_s:.1f} real tok/s, "
                f"dev loss {result.dev_loss:.4f} ({result.dev_seconds:.1f} s)",
                flush=True,
            )
            results.append(result)
            del model

    speedups = ratios(results)
    print()
    print_table(results, untrained, speedups)
    record = {
        "benchmark": "bench_train",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": machine,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "model": str(path),
        "lora": lora.model_dump(include={"r", "alpha", "dropout", "target_modules"}),
        "train_examples": len(examples),
        "train_example_tokens": sum(len(e.ids) for e in examples),
        "dev_rows": len(dev_rows),
        "untrained_dev_loss": round(untrained, 5),
        "timing": "time.perf_counter around trainer.train() / harness.engine.training.train()",
        "tokens_per_s_ratio": speedups,
        "results": [r.record() for r in results],
    }
    write_json(args.out, record)


if __name__ == "__main__":
    main()
