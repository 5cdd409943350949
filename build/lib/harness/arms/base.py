"""Arm `base`: the model as it is, zero-shot, with the task's instruction and template."""

from __future__ import annotations

from ..config import Strict
from ..data import Item, TaskData
from ..metrics import Prediction
from .core import Arm
from .prompting import answer, conversation


class BaseArm(Arm):
    kind = "base"
    summary = "zero-shot: the task's instruction and template, nothing else"

    class Params(Strict):
        pass

    def predict(self, task: TaskData, items: list[Item]) -> list[Prediction]:
        hits, seconds = self.retrieve(items)
        convs = [
            conversation(
                task.spec, item, passages=hits[i] if hits else None, retrieval=self.retrieval
            )
            for i, item in enumerate(items)
        ]
        return answer(self.generator(), task.spec, items, convs, hits, seconds)
