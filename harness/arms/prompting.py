"""What every arm shares: turning items into conversations, and answers into predictions.

An arm decides *which* messages a model sees (zero-shot, shots, passages); this module renders
them the same way for all arms, so differences in scores come from the arm and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from harness.common.measure import Timer
from harness.data.tasks import Item, TaskData
from harness.engine.retrieval import (
    ABSTAIN_CLAUSE,
    DEFAULT_GROUNDING,
    Hit,
    RetrievalParams,
    format_passages,
)
from harness.metrics import Prediction
from harness.metrics.labels import LABEL_KEY, match_label
from harness.models.backend import Backend, Message
from harness.spec.config import PromptVariant, TaskSpec


@dataclass(frozen=True)
class Wording:
    """The sentences a prompt is made of, resolved once per (task, arm, prompt variant).

    `instruction` is the task's (or the variant's) plus the answer-style sentence; `grounding` is
    what retrieval adds after the passages: where to look, never what form to answer in.
    `labels` are a label task's labels, listed after the instruction (all of them unless the
    prompt budget holds fewer: `fit_to_budget`).
    """

    instruction: str
    grounding: str
    labels: tuple[str, ...] = ()


def wording_for(
    task: TaskData, variant: PromptVariant | None = None, retrieval: RetrievalParams | None = None
) -> Wording:
    spec = task.spec
    base = spec.instruction
    if variant is not None and variant.instruction is not None:
        base = variant.instruction
    instruction = " ".join(p for p in (base.strip(), (spec.style_instruction or "").strip()) if p)
    if variant is not None and variant.grounding is not None:
        grounding = variant.grounding
    elif retrieval is not None and retrieval.instruction is not None:
        grounding = retrieval.instruction
    else:
        # Telling the model how to abstain only where abstaining can be right: on a task without
        # unanswerable items the clause invites refusals whenever retrieval misses.
        abstains = task.style is not None and task.style.has_unanswerable
        grounding = DEFAULT_GROUNDING + (" " + ABSTAIN_CLAUSE if abstains else "")
    # A label task names its labels: a model never shown them can only guess their spelling.
    labels = tuple(spec.label_set or ()) if spec.answer_style == "label" else ()
    return Wording(
        instruction, grounding.format(abstain_answer=spec.abstain_answer).strip(), labels
    )


def label_line(labels: Sequence[str]) -> str:
    return "Labels: " + ", ".join(labels) + "."


def user_turn(
    task: TaskSpec,
    wording: Wording,
    item: Item,
    with_instruction: bool = True,
    passages: list[Hit] | None = None,
    retrieval: RetrievalParams | None = None,
) -> str:
    """Retrieved passages (if any), then the instructions, then the item through the task template.

    Passages come first so the instructions sit next to the question: a small model follows the
    last thing it read (README, "Limits today").
    """
    parts = []
    if passages is not None and retrieval is not None:
        parts.append("Passages:\n" + format_passages(passages, retrieval))
    instructions = []
    if with_instruction and wording.instruction:
        instructions.append(wording.instruction.format(**item.template_fields()).strip())
    if with_instruction and wording.labels:
        instructions.append(label_line(wording.labels))
    if passages is not None and retrieval is not None:
        instructions.append(wording.grounding)
    if instructions:
        parts.append(" ".join(instructions))
    parts.append(task.template.format(**item.template_fields()))
    return "\n\n".join(parts)


def gold_answer(task: TaskSpec, item: Item) -> str:
    """The answer a demonstration (shot or training example) shows for an item."""
    if item.choices is not None and item.label is not None:
        answer = item.choices[item.label]
    elif not item.answerable:
        answer = task.abstain_answer
    else:
        answer = item.answers[0]
    return task.answer_template.format(answer=answer)


def conversation(
    task: TaskSpec,
    wording: Wording,
    item: Item,
    shots: Sequence[Item] = (),
    passages: list[Hit] | None = None,
    retrieval: RetrievalParams | None = None,
    shot_passages: dict[str, list[Hit]] | None = None,
) -> list[Message]:
    """Shots as earlier user/assistant turns, then the item (with its passages, if retrieved).

    The instruction leads the first turn. `shot_passages` (shot id -> hits) gives each shot its
    own passages, so a demonstration has the same shape as the question it demonstrates.
    """
    messages: list[Message] = []
    for i, shot in enumerate(shots):
        shot_hits = (shot_passages or {}).get(shot.id)
        content = user_turn(
            task, wording, shot, with_instruction=i == 0, passages=shot_hits, retrieval=retrieval
        )
        messages.append({"role": "user", "content": content})
        messages.append({"role": "assistant", "content": gold_answer(task, shot)})
    last = user_turn(
        task, wording, item, with_instruction=not shots, passages=passages, retrieval=retrieval
    )
    messages.append({"role": "user", "content": last})
    return messages


@dataclass
class Fitted:
    """A prompt within the task's token budget, and what was dropped to get there."""

    messages: list[Message]
    shots: list[Item]
    passages: list[Hit] | None
    prompt_tokens: int
    dropped_shots: int = 0
    dropped_passages: int = 0
    labels_listed: int | None = None  # a label task's labels in the prompt, when not all fit


def fit_to_budget(
    backend: Backend,
    task: TaskSpec,
    wording: Wording,
    item: Item,
    shots: Sequence[Item] = (),
    passages: list[Hit] | None = None,
    retrieval: RetrievalParams | None = None,
    shot_passages: dict[str, list[Hit]] | None = None,
) -> Fitted:
    """The conversation, dropping shots (farthest from the question first), then the lowest-ranked
    passages, until the rendered prompt fits `task.max_prompt_tokens`.

    The question and the first passage are never dropped: a prompt that still does not fit is
    kept whole and counted as over budget by the caller (its prompt_tokens say by how much).
    """
    budget = task.max_prompt_tokens or 0
    shots, kept = list(shots), list(passages) if passages is not None else None
    dropped_shots = dropped_passages = 0
    while True:
        messages = conversation(task, wording, item, shots, kept, retrieval, shot_passages)
        tokens = backend.count_tokens(backend.format_chat(messages))
        if not budget or tokens <= budget:
            break
        if shots:
            shots.pop(0)  # shots are ordered with the most relevant next to the question
            dropped_shots += 1
        elif kept is not None and len(kept) > 1:
            kept.pop()
            dropped_passages += 1
        else:
            break
    fitted = Fitted(messages, shots, kept, tokens, dropped_shots, dropped_passages)
    if budget and tokens > budget and len(wording.labels) > 1:
        return _fewer_labels(backend, task, wording, item, fitted, retrieval, shot_passages)
    return fitted


def _fewer_labels(backend, task, wording, item, fitted, retrieval, shot_passages) -> Fitted:
    """The most labels (in listed order) that let the prompt fit; the record says how many.
    A task whose labels do not fit is better scored over them (`scoring: choice`)."""

    def render(n: int) -> tuple[list[Message], int]:
        short = replace(wording, labels=wording.labels[:n])
        messages = conversation(
            task, short, item, fitted.shots, fitted.passages, retrieval, shot_passages
        )
        return messages, backend.count_tokens(backend.format_chat(messages))

    low, high = 1, len(wording.labels) - 1
    while low < high:  # the largest n whose prompt fits
        mid = (low + high + 1) // 2
        if render(mid)[1] <= (task.max_prompt_tokens or 0):
            low = mid
        else:
            high = mid - 1
    fitted.messages, fitted.prompt_tokens = render(low)
    fitted.labels_listed = low
    return fitted


def is_abstention(text: str, patterns: Sequence[str]) -> bool:
    if not text.strip():
        return True
    return any(re.search(p, text, flags=re.IGNORECASE | re.MULTILINE) for p in patterns)


def answer(
    backend: Backend,
    task: TaskSpec,
    items: Sequence[Item],
    fitted: Sequence[Fitted],
    retrieval_s: list[float] | None = None,
    remembered: dict[str, str] | None = None,
) -> list[Prediction]:
    """Run the backend on fitted prompts: generation or choice log-likelihoods.

    Each prediction records its prompt length and what the budget dropped; with retrieval, its
    passages, and its latency includes retrieval. A generated prompt found in `remembered`
    (prompt -> answer the same weights gave) is not generated again.
    """
    prompts = [backend.format_chat(f.messages) for f in fitted]
    if task.scoring == "choice":
        preds = _choose(backend, task, items, prompts)
    else:
        preds = _generate(backend, task, prompts, remembered or {})
    for i, (pred, fit) in enumerate(zip(preds, fitted)):
        pred.extra["prompt_tokens"] = fit.prompt_tokens
        if task.label_set and task.answer_style == "label":
            name_label(pred, task.label_set)
        if fit.labels_listed is not None:
            pred.extra["labels_listed"] = fit.labels_listed
        if fit.dropped_shots or fit.dropped_passages:
            pred.extra["budget_dropped"] = {
                "shots": fit.dropped_shots,
                "passages": fit.dropped_passages,
            }
        if fit.prompt_tokens > (task.max_prompt_tokens or fit.prompt_tokens):
            pred.extra["over_budget"] = True
        if fit.passages is not None and retrieval_s is not None:
            attach_retrieval(pred, fit.passages, retrieval_s[i])
    return preds


def name_label(pred: Prediction, labels: Sequence[str]) -> None:
    """Read an answer as one of the task's labels (harness.metrics.labels states the rule): an
    answer that names one becomes its spelling, the raw text kept; `extra["label"]` says which
    label, or None when the answer names none (counted by `invalid_label_rate`)."""
    label = match_label(pred.output, labels)
    pred.extra[LABEL_KEY] = label
    if label is not None and label != pred.output:
        pred.extra["raw_output"] = pred.output
        pred.output = label


def attach_retrieval(pred: Prediction, hits: list[Hit], seconds: float) -> None:
    pred.latency_s += seconds
    pred.extra["retrieval_s"] = seconds
    pred.extra["retrieved"] = [
        {"doc_id": h.doc_id, "chunk_id": h.chunk_id, "score": round(h.score, 4)} for h in hits
    ]
    pred.extra["passages"] = [h.text for h in hits]


def _generate(
    backend: Backend, task: TaskSpec, prompts: list[str], remembered: dict[str, str]
) -> list[Prediction]:
    gen = task.generation
    todo = [p for p in prompts if p not in remembered]
    fresh = iter(
        backend.generate(todo, max_new_tokens=gen.max_new_tokens, stop=gen.stop) if todo else ()
    )
    preds = []
    for p in prompts:
        if p in remembered:  # no tokens, no time: the answer was generated before
            text = remembered[p]
            preds.append(
                Prediction(
                    output=text,
                    prompt=p,
                    abstained=is_abstention(text, task.abstain_patterns),
                    extra={"reused": True},
                )
            )
            continue
        o = next(fresh)
        preds.append(
            Prediction(
                output=o.text,
                prompt=p,
                abstained=is_abstention(o.text, task.abstain_patterns),
                new_tokens=o.new_tokens,
                latency_s=o.batch_seconds,
                extra={"finish": o.finish} | ({"usage": o.usage} if o.usage else {}),
            )
        )
    return preds


def _choose(
    backend: Backend, task: TaskSpec, items: Sequence[Item], prompts: list[str]
) -> list[Prediction]:
    pairs, owners = [], []
    for idx, (item, prompt) in enumerate(zip(items, prompts)):
        for choice in item.choices or ():
            pairs.append((prompt, task.answer_template.format(answer=choice)))
            owners.append(idx)
    with Timer() as timer:
        scores = backend.loglikelihood(pairs)
    per_item = timer.seconds / max(1, len(items))
    grouped: list[list[float]] = [[] for _ in items]
    for owner, s in zip(owners, scores):
        grouped[owner].append(s)
    preds = []
    for item, prompt, lps in zip(items, prompts, grouped):
        best = max(range(len(lps)), key=lps.__getitem__)
        preds.append(
            Prediction(
                output=item.choices[best],
                prompt=prompt,
                choice=best,
                choice_logprobs=lps,
                latency_s=per_item,
            )
        )
    return preds
