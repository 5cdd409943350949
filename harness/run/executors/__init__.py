"""Executors run a run's units: `local` in this process, one after another (the default), or
`ray` on a Ray cluster, in parallel where resources allow (`harness.run.executors.ray_cluster`).

Both take the same planned units and yield each unit's outcome as it finishes; the runner writes
records as they arrive, so a run that is stopped keeps every finished cell.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from harness.common.board import Board
from harness.run.executors.local import LocalExecutor
from harness.run.units import ExecutorError, Unit

__all__ = ["EXECUTORS", "Executor", "ExecutorError", "LocalExecutor", "make_executor"]


class Executor(Protocol):
    name: str

    def start(self) -> None: ...

    def device(self, requested: str) -> str: ...

    # Whether trainings are units of their own (cells that need an artifact wait for it).
    plans_training: bool
    cpus_per_unit: float

    def check(self, units: list[Unit], model_spec: Any = None, model_fp: str = "") -> None: ...

    def run(self, units: list[Unit], board: Board) -> Iterator[tuple[Unit, Any]]: ...

    def placement(self, unit_id: str) -> dict | None: ...

    def close(self) -> None: ...


EXECUTORS = ("local", "ray")


DEFAULT_RETRIES = 2  # how often Ray runs again a unit whose worker died


def make_executor(
    name: str,
    address: str | None = None,
    retries: int | None = None,
    cpus_per_unit: float | None = None,
) -> Executor:
    """The executor `--executor` names. The Ray options (None: not given) are refused without
    Ray, rather than ignored: a user who sets them expects them to act."""
    if name == "local":
        given = {"--address": address, "--retries": retries, "--cpus-per-unit": cpus_per_unit}
        for option, value in given.items():
            if value is not None:
                raise ExecutorError(
                    f"{option} is for --executor ray; the local executor needs none"
                )
        return LocalExecutor()
    if name == "ray":
        from harness.run.executors.ray_cluster import RayExecutor

        return RayExecutor(
            address=address,
            retries=DEFAULT_RETRIES if retries is None else retries,
            cpus_per_unit=cpus_per_unit,
        )
    raise ExecutorError(f"--executor {name!r}: choose one of {', '.join(EXECUTORS)}")
