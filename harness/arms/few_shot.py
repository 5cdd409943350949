"""Arm `few_shot`: k solved examples from the train split before each question.

Shots are drawn per item with a generator seeded by (suite seed, item id): the same item gets
the same shots in every run, whatever `--limit` selects around it.
"""

from __future__ import annotations

import hashlib
import random
from typing import Literal

from pydantic import Field

from ..config import Strict
from ..data import Item, TaskData, normalize_question
from ..metrics import Prediction
from .core import Arm, ArmError
from .prompting import answer, conversation


class FewShotArm(Arm):
    kind = "few_shot"
    summary = "k solved train examples (seeded random pick) as earlier chat turns"

    class Params(Strict):
        k: int = Field(3, ge=1, le=64)
        selection: Literal["random"] = "random"
        include_unanswerable: bool = Field(
            True,
            description="allow unanswerable train items (answered with abstain_answer) as shots",
        )

    def prepare(self, task: TaskData) -> None:
        pool = [i for i in task.train if self.params.include_unanswerable or i.answerable]
        if len(pool) < self.params.k:
            raise ArmError(
                f"few_shot needs at least k={self.params.k} train items in task '{task.spec.name}', "
                f"found {len(pool)} (is data.train set?)"
            )
        self.pool = pool

    def shots_for(self, item: Item) -> list[Item]:
        digest = hashlib.sha256(f"{self.ctx.seed}:{item.id}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        question = normalize_question(item.question)
        candidates = [
            s for s in self.pool if s.id != item.id and normalize_question(s.question) != question
        ]
        return rng.sample(candidates, self.params.k)

    def predict(self, task: TaskData, items: list[Item]) -> list[Prediction]:
        convs = []
        for item in items:
            shots = self.shots_for(item)
            convs.append(conversation(task.spec, item, shots))
        preds = answer(self.ctx.backend, task.spec, items, convs)
        for pred, conv in zip(preds, convs):
            pred.extra["shots"] = (len(conv) - 1) // 2
        return preds
