"""Answer style: what the gold answers look like, and the prompt defaults that follow from it.

Defaults come from the task, never from a shipped suite: a one-line-answer default (a "short
answer only" clause, five solved shots) applied to paragraph answers cuts the model's replies and
can flip a verdict. So every setting a suite leaves open (`answer_style`, `style_instruction`,
`generation.max_new_tokens` and `stop`, `max_prompt_tokens`) is resolved here once per task from
its gold answers, and every arm reads the same resolved spec.

Rules (documented in the README; `results.json` records what was inferred and why):
- `structured` when the task has `output_fields`; `label` for choice scoring, or when a few
  distinct answers repeat across many items; `long` when the median gold answer has at least
  LONG_MEDIAN_WORDS words; else `short`.
- max_new_tokens: the 95th percentile of gold answer length, at TOKENS_PER_WORD tokens a word,
  plus headroom, rounded up to a multiple of 8, within the style's bounds.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from harness.spec.config import TaskSpec

LONG_MEDIAN_WORDS = 10
TOKENS_PER_WORD = 1.5  # subword tokens per English word, with margin for numbers and codes
MAX_NEW_TOKENS_BOUNDS = {
    "short": (16, 64),
    "label": (8, 32),
    "structured": (32, 256),
    "long": (64, 512),
}
PROMPT_BUDGET = {"short": 1024, "label": 1024, "structured": 1024, "long": 2048}
STYLE_SENTENCE = {
    "short": "Reply with the short answer only, not a full sentence.",
    "label": "Reply with the label only.",
    "structured": "",
    "long": "",  # paragraphs are what an instruct model writes unprompted: no clause to add
}
# Solved examples the `rag` arm shows by default: format demonstrations help one-line styles;
# paragraph-long shots mostly spend the prompt budget.
RAG_SHOTS = {"short": 3, "label": 3, "structured": 3, "long": 0}

_WORD = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class StyleReport:
    """What was decided for a task, and why (stored in results.json under tasks.<name>.style)."""

    answer_style: str
    inferred: bool
    reason: str
    gold_words_median: float | None
    gold_words_p95: float | None
    max_new_tokens: int
    stop: list[str]
    style_instruction: str
    max_prompt_tokens: int
    has_unanswerable: bool

    def as_dict(self) -> dict:
        return asdict(self)


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def infer_style(
    spec: TaskSpec, golds: Sequence[str], distinct_labels: int | None = None
) -> tuple[str, str]:
    """(style, reason) from the task's scoring and its gold answers."""
    if spec.output_fields:
        return "structured", "the task has output_fields"
    if spec.scoring == "choice":
        return "label", "choice scoring"
    if not golds:
        return "short", "no gold answers to measure; short by default"
    distinct = distinct_labels if distinct_labels is not None else len(set(golds))
    median = statistics.median(word_count(g) for g in golds)
    if distinct <= 20 and len(golds) >= 3 * distinct and median <= 3:
        return "label", f"{distinct} distinct answers repeat over {len(golds)} items"
    if median >= LONG_MEDIAN_WORDS:
        return "long", f"median gold answer {median:g} words (long from {LONG_MEDIAN_WORDS})"
    return "short", f"median gold answer {median:g} words (long from {LONG_MEDIAN_WORDS})"


def default_max_new_tokens(style: str, golds: Sequence[str]) -> int:
    low, high = MAX_NEW_TOKENS_BOUNDS[style]
    if not golds:
        return low
    p95 = _percentile([word_count(g) for g in golds], 95)
    wanted = math.ceil(p95 * TOKENS_PER_WORD) + 8
    return max(low, min(high, 8 * math.ceil(wanted / 8)))


def resolve_task_spec(
    spec: TaskSpec, golds: Sequence[str], has_unanswerable: bool
) -> tuple[TaskSpec, StyleReport]:
    """A copy of `spec` with every style-dependent default filled in, and the report of it.

    `golds` are the first gold answer of each answerable item (train and dev when the task has
    them, else eval: only their lengths and repetition are used).
    """
    inferred = spec.answer_style == "auto"
    if inferred:
        style, reason = infer_style(spec, golds)
    else:
        style, reason = spec.answer_style, "set in the suite"
    words = [word_count(g) for g in golds]
    gen = spec.generation
    max_new = gen.max_new_tokens or default_max_new_tokens(style, golds)
    stop = gen.stop if gen.stop is not None else ([] if style == "long" else ["\n"])
    sentence = (
        spec.style_instruction if spec.style_instruction is not None else STYLE_SENTENCE[style]
    )
    budget = spec.max_prompt_tokens or PROMPT_BUDGET[style]
    resolved = spec.model_copy(
        update={
            "answer_style": style,
            "style_instruction": sentence,
            "max_prompt_tokens": budget,
            "generation": gen.model_copy(update={"max_new_tokens": max_new, "stop": list(stop)}),
        }
    )
    report = StyleReport(
        answer_style=style,
        inferred=inferred,
        reason=reason,
        gold_words_median=float(statistics.median(words)) if words else None,
        gold_words_p95=_percentile(words, 95) if words else None,
        max_new_tokens=max_new,
        stop=list(stop),
        style_instruction=sentence,
        max_prompt_tokens=budget,
        has_unanswerable=has_unanswerable,
    )
    return resolved, report


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, math.ceil(q / 100 * len(ordered)) - 1)  # nearest-rank percentile
    return float(ordered[rank])
