"""What every arm shares: turning items into conversations, and answers into predictions.

An arm decides *which* messages a model sees (zero-shot, shots, passages); this module renders
them the same way for all arms, so differences in scores come from the arm and nothing else.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

from ..backends.base import Backend, Message
from ..config import TaskSpec
from ..data import Item
from ..metrics import Prediction


def user_turn(task: TaskSpec, item: Item, with_instruction: bool = True) -> str:
    body = task.template.format(**item.template_fields())
    if with_instruction and task.instruction.strip():
        return f"{task.instruction.format(**item.template_fields()).strip()}\n\n{body}"
    return body


def gold_answer(task: TaskSpec, item: Item) -> str:
    """The answer a demonstration (shot or training example) shows for an item."""
    if item.choices is not None and item.label is not None:
        answer = item.choices[item.label]
    elif not item.answerable:
        answer = task.abstain_answer
    else:
        answer = item.answers[0]
    return task.answer_template.format(answer=answer)


def conversation(task: TaskSpec, item: Item, shots: Sequence[Item] = ()) -> list[Message]:
    """Shots as earlier user/assistant turns, then the item. The instruction leads the first turn."""
    messages: list[Message] = []
    for i, shot in enumerate(shots):
        messages.append({"role": "user", "content": user_turn(task, shot, with_instruction=i == 0)})
        messages.append({"role": "assistant", "content": gold_answer(task, shot)})
    messages.append({"role": "user", "content": user_turn(task, item, with_instruction=not shots)})
    return messages


def is_abstention(text: str, patterns: Sequence[str]) -> bool:
    if not text.strip():
        return True
    return any(re.search(p, text, flags=re.IGNORECASE | re.MULTILINE) for p in patterns)


def answer(
    backend: Backend, task: TaskSpec, items: Sequence[Item], convs: Sequence[list[Message]]
) -> list[Prediction]:
    """Run the backend on prepared conversations: generation or choice log-likelihoods."""
    prompts = [backend.format_chat(c) for c in convs]
    if task.scoring == "choice":
        return _choose(backend, task, items, prompts)
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
    t0 = time.perf_counter()
    scores = backend.loglikelihood(pairs)
    per_item = (time.perf_counter() - t0) / max(1, len(items))
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
