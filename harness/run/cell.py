"""A cell: one task x arm evaluation (one record, one samples file), described by everything
that decides its result."""

from __future__ import annotations

from dataclasses import dataclass

from harness.data.tasks import Item, TaskData
from harness.models.resolve import ResolvedModel
from harness.spec.config import ArmSpec


@dataclass(frozen=True, eq=False)
class Cell:
    """What a cell unit evaluates and the store keys: the suite's model, the task with the eval
    items it is scored on, the arm spec, the seed and its two keys (harness.run.keys.cell_keys).

    It carries no loaded model or open file, so an executor other than this process (one
    process per cell, a cluster) can be handed it.
    """

    model: ResolvedModel  # the base weights: path, source, fingerprint
    task: TaskData  # the task's specs and all its splits (trained arms read train/dev)
    items: list[Item]  # the eval items this cell predicts and is scored on
    arm: ArmSpec  # the arm, its parameters, retrieval settings, seed and prompt wording
    seed: int  # the arm's own seed, else the suite's
    key: str  # full key: everything that decides the record and samples (the cache key)
    prediction_key: str  # what decides the predictions alone: stored ones are re-scored

    @property
    def name(self) -> str:
        """`<task>__<arm>`: the record id and the samples file's name."""
        return f"{self.task.spec.name}__{self.arm.label}"

    @property
    def label(self) -> str:
        """`<task> / <arm>`, for log lines."""
        return f"{self.task.spec.name} / {self.arm.label}"
