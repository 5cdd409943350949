"""What every arm shares: turning items into conversations, and answers into predictions.

An arm decides *which* messages a model sees (zero-shot, shots, passages); this module renders
them the same way for all arms, so differences in scores come from the arm and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..backends.base import Backend, Message
from ..config import TaskSpec
from ..data import Item
from ..measure import Timer
from ..metrics import Prediction
from ..retrieval import Hit, RetrievalParams, format_passages


def user_turn(
    task: TaskSpec,
    item: Item,
    with_instruction: bool = True,
    passages: list[Hit] | None = None,
    retrieval: RetrievalParams | None = None,
) -> str:
    """Retrieved passages (if any), then the instructions, then the item through the task template.

    Passages come first so the instructions sit next to the question: a small model follows the
    last thing it read (measured on insurance-policy-qa: instructions before ~500 tokens of
    passages were mostly ignored, answers came as full sentences).
    """
    parts = []
    if passages is not None and retrieval is not None:
        parts.append("Passages:\n" + format_passages(passages, retrieval))
    instructions = []
    if with_instruction and task.instruction.strip():
        instructions.append(task.instruction.format(**item.template_fields()).strip())
    if passages is not None and retrieval is not None:
        instructions.append(
            retrieval.instruction.format(abstain_answer=task.abstain_answer).strip()
        )
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
            task, shot, with_instruction=i == 0, passages=shot_hits, retrieval=retrieval
        )
        messages.append({"role": "user", "content": content})
        messages.append({"role": "assistant", "content": gold_answer(task, shot)})
    last = user_turn(task, item, with_instruction=not shots, passages=passages, retrieval=retrieval)
    messages.append({"role": "user", "content": last})
    return messages


def is_abstention(text: str, patterns: Sequence[str]) -> bool:
    if not text.strip():
        return True
    return any(re.search(p, text, flags=re.IGNORECASE | re.MULTILINE) for p in patterns)


def answer(
    backend: Backend,
    task: TaskSpec,
    items: Sequence[Item],
    convs: Sequence[list[Message]],
    hits: list[list[Hit]] | None = None,
    retrieval_s: list[float] | None = None,
) -> list[Prediction]:
    """Run the backend on prepared conversations: generation or choice log-likelihoods.

    With retrieval, each prediction records its passages and its latency includes retrieval.
    """
    prompts = [backend.format_chat(c) for c in convs]
    if task.scoring == "choice":
        preds = _choose(backend, task, items, prompts)
    else:
        preds = _generate(backend, task, prompts)
    if hits is not None and retrieval_s is not None:
        for pred, item_hits, seconds in zip(preds, hits, retrieval_s):
            attach_retrieval(pred, item_hits, seconds)
    return preds


def attach_retrieval(pred: Prediction, hits: list[Hit], seconds: float) -> None:
    pred.latency_s += seconds
    pred.extra["retrieval_s"] = seconds
    pred.extra["retrieved"] = [
        {"doc_id": h.doc_id, "chunk_id": h.chunk_id, "score": round(h.score, 4)} for h in hits
    ]
    pred.extra["passages"] = [h.text for h in hits]


def _generate(backend: Backend, task: TaskSpec, prompts: list[str]) -> list[Prediction]:
    gen = task.generation
    outs = backend.generate(prompts, max_new_tokens=gen.max_new_tokens, stop=gen.stop)
    return [
        Prediction(
            output=o.text,
            prompt=p,
            abstained=is_abstention(o.text, task.abstain_patterns),
            new_tokens=o.new_tokens,
            latency_s=o.batch_seconds,
            extra={"finish": o.finish, "prompt_tokens": o.prompt_tokens},
        )
        for o, p in zip(outs, prompts)
    ]


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
