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
        convs = [conversation(task.spec, item) for item in items]
        return answer(self.ctx.backend, task.spec, items, convs)
