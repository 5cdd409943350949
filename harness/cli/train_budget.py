"""`adaptbench init --train-budget 20m`: size the fine-tuning arms by time, not by item count.

The rate (real training tokens per second) is, in order: `--train-rate` (one you measured), the
rate the newest cached training of the same model on the same kind of device recorded (every
trained artifact keeps it in its training.json), or a reference rate measured for this project
on a 2-core CPU (stated as such). A time budget and a rate give a number of tokens; the whole
split for FULL_EPOCHS when that fits, else the whole split for as many epochs as fit (at least
one), else as many items as one epoch of the budget holds (`max_train_items`; on a label task
a draw that takes every label in turn, harness.arms.train_share).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

FULL_EPOCHS = 3
# Per trained arm: what a run of init's suite can spend on one training by default.
DEFAULT_BUDGET_S = {"cpu": 10 * 60, "cuda": 30 * 60}
# Real tokens/s of a LoRA training of smollm2-135m-instruct measured for this project on a
# 2-core CPU (fp32, rows_per_step 2, grad_accum 2): 157-177; used only with nothing better.
REFERENCE_RATE = {"cpu": 160.0}
FULL_RATE_FACTOR = 2 / 3  # full fine-tuning: 6N FLOPs a token against LoRA's 4N
CHARS_PER_TOKEN = 4  # token estimate of an item's text where no tokenizer is loaded
TURN_OVERHEAD_TOKENS = 30  # chat template, system prompt, end-of-turn tokens of one example
MIN_ITEMS = 8


class BudgetError(ValueError):
    """A budget `init` cannot read."""


def parse_budget(text: str) -> float:
    """Seconds of a budget such as `20m`, `1h`, `90s`, `1.5h` (a bare number is minutes)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(text).lower())
    if not m or float(m.group(1)) <= 0:
        raise BudgetError(
            f"--train-budget {text!r}: give a time such as 20m, 1h or 90s (a number is minutes)"
        )
    return float(m.group(1)) * {"s": 1, "m": 60, "": 60, "h": 3600}[m.group(2)]


@dataclass(frozen=True)
class Rate:
    tokens_per_s: float
    source: str  # how it was obtained, for the suite comment


def stored_rate(cache: Path, model: str, device: str, kind: str = "lora") -> Rate | None:
    """The rate the newest cached `kind` training of `model` on `device` ("cpu"/"cuda") measured."""
    found = []
    for done in (cache / "artifacts").glob("*/training.json"):
        try:
            stats = json.loads(done.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(stats, dict) or not stats.get("tokens_per_s"):
            continue
        dev = str(stats.get("device", "")).split(":")[0]
        if stats.get("arm_kind") == kind and stats.get("model") == model and dev == device:
            found.append((done.stat().st_mtime, float(stats["tokens_per_s"])))
    if not found:
        return None
    _, rate = max(found)
    return Rate(rate, f"measured by the newest cached {kind} training of {model} on {device}")


def pick_rate(cache: Path, model: str, device: str, given: float | None) -> Rate | None:
    if given is not None:
        return Rate(given, "given with --train-rate")
    stored = stored_rate(cache, model, device)
    if stored is not None:
        return stored
    if device in REFERENCE_RATE:
        return Rate(
            REFERENCE_RATE[device],
            "not measured here: this project's reference rate for smollm2-135m-instruct LoRA on "
            "a 2-core CPU (after any training run on this machine, init uses its own rate)",
        )
    return None


@dataclass(frozen=True)
class Sizing:
    max_train_items: int | None  # None: the whole split
    epochs: float
    minutes: float
    items: int  # items seen per epoch
    split: int

    def params(self) -> dict:
        out: dict = {"epochs": self.epochs}
        if self.max_train_items is not None:
            out = {"max_train_items": self.max_train_items} | out
        return out

    def text(self) -> str:
        epochs = f"{self.epochs:g} epoch" + ("" if self.epochs == 1 else "s")
        return (
            f"{self.items:,} of {self.split:,} train items, {epochs}, about "
            f"{self.minutes:.0f} minutes"
        )


def size_training(split: int, tokens_per_item: float, rate: float, budget_s: float) -> Sizing:
    """Items and epochs that fit `budget_s` at `rate` real tokens/s (see the module rules)."""
    affordable = rate * budget_s
    epoch_tokens = split * tokens_per_item
    epochs_fit = affordable / epoch_tokens
    if epochs_fit >= FULL_EPOCHS:
        epochs, items = float(FULL_EPOCHS), split
    elif epochs_fit >= 1:
        epochs, items = math.floor(epochs_fit * 10) / 10, split
    else:
        epochs, items = 1.0, max(MIN_ITEMS, min(split, int(affordable // tokens_per_item)))
    minutes = items * tokens_per_item * epochs / rate / 60
    return Sizing(None if items >= split else items, epochs, minutes, items, split)


def tokens_per_item(texts: list[str], prompt_extra_chars: int) -> float:
    """Estimated real tokens of one training example: the item's text (question and answer),
    the instruction and label listing every example repeats, and the chat template's tokens."""
    mean_chars = sum(map(len, texts)) / max(1, len(texts))
    return (mean_chars + prompt_extra_chars) / CHARS_PER_TOKEN + TURN_OVERHEAD_TOKENS
