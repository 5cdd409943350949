"""Units, what an executor runs: a cell unit, or the training unit that cells share.

A unit names a module-level function and its arguments, so it runs in this process or in any
other one that has adaptbench installed (a Ray worker pickles the function by reference). Units
listed in `after` run first and their results are passed, in that order, after `args`: a cell
that needs a trained artifact gets its training unit's outcome, so two cells that need the same
adapter wait for one training instead of training twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TRAIN, CELL = "train", "cell"


@dataclass(frozen=True)
class Resources:
    """What one unit asks of the machine that runs it (Ray places it where this is free)."""

    cpus: float = 1.0
    gpus: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {"CPU": self.cpus, "GPU": self.gpus}

    def __str__(self) -> str:
        parts = [f"{self.cpus:g} CPU"]
        if self.gpus:
            parts.append(f"{self.gpus:g} GPU")
        return " + ".join(parts)


@dataclass(frozen=True)
class Unit:
    id: str  # unique in a run: the cell's content hash, or "train:<artifact key>"
    label: str  # for progress lines: "<task> / <arm>" or "<task> / <arm> (training)"
    kind: str  # TRAIN or CELL
    fn: Callable[..., Any]  # a module-level function (importable where the unit runs)
    args: tuple = ()
    after: tuple[str, ...] = ()  # ids of units whose results follow `args`
    resources: Resources = field(default_factory=Resources)  # per process
    # Processes the unit runs as (data-parallel training over Ray Train): the unit itself then
    # only coordinates, and each of its processes asks for `resources`.
    processes: int = 1

    def call(self, *dependencies: Any) -> Any:
        return self.fn(*self.args, *dependencies)


class ExecutorError(RuntimeError):
    """The executor cannot run this suite (Ray missing, cluster unreachable, no node can give a
    unit what it needs, a node cannot see the cache): a clear message, exit 2."""


@dataclass(frozen=True)
class Lost:
    """A unit the executor could not finish: its worker died more often than retries allow,
    or a unit it depends on was lost. The arm itself never failed here (that is a record)."""

    reason: str
    attempts: int = 1


def in_dependency_order(units: list[Unit]) -> list[Unit]:
    """Units with each one after those it depends on (stable otherwise); a dependency that is
    not among the units is a planning bug and raises."""
    by_id = {u.id: u for u in units}
    done: set[str] = set()
    out: list[Unit] = []

    def visit(u: Unit, path: tuple[str, ...]) -> None:
        if u.id in done:
            return
        if u.id in path:
            raise ValueError(f"units depend on each other in a circle: {' -> '.join(path)}")
        for dep in u.after:
            if dep not in by_id:
                raise ValueError(f"unit {u.label} depends on {dep}, which is not planned")
            visit(by_id[dep], (*path, u.id))
        done.add(u.id)
        out.append(u)

    for u in units:
        visit(u, ())
    return out
