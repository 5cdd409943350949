"""The arm seam: `prepare` (train, index, pick shots, or nothing), then `predict`."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from ..data import Item, TaskData
from ..metrics import Prediction


class ArmError(RuntimeError):
    """An arm that cannot run with this task or these parameters."""


class Arm:
    kind: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    changes_weights: ClassVar[bool] = False

    def __init__(self, params: BaseModel, ctx: Any):
        self.params = params
        self.ctx = ctx  # harness.runner.RunContext: backend (lazy), seed, cache folder

    def prepare(self, task: TaskData) -> None:
        """Work done once per task before predicting (nothing for prompting arms)."""

    def predict(self, task: TaskData, items: list[Item]) -> list[Prediction]:
        raise NotImplementedError
