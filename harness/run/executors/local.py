"""The local executor: every unit in this process, one after another, in dependency order.

This is how adaptbench has always run a suite: one model load shared by all cells, and
`accelerate launch` / `torchrun` for several GPUs of one machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.common.board import Board
from harness.models.resolve import pick_device
from harness.run.units import Unit, in_dependency_order


class LocalExecutor:
    name = "local"
    # One process: the first cell that needs an artifact trains it and the next ones find it in
    # the cache, so training needs no unit of its own (and the trained model stays in memory).
    plans_training = False
    cpus_per_unit = 1.0

    def start(self) -> None:
        return None

    def device(self, requested: str) -> str:
        return pick_device(requested)

    def check(self, units: list[Unit], model_spec: Any = None, model_fp: str = "") -> None:
        return None  # this machine is the one the suite's device was resolved on

    def run(self, units: list[Unit], board: Board) -> Iterator[tuple[Unit, Any]]:
        results: dict[str, Any] = {}
        for unit in in_dependency_order(units):
            out = unit.call(*(results[d] for d in unit.after))
            results[unit.id] = out
            yield unit, out

    def placement(self, unit_id: str) -> dict | None:
        return None  # this process, once

    def close(self) -> None:
        return None
