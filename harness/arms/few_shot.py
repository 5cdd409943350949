"""Arm `few_shot`: k solved examples from the train split before each question.

`selection: random` draws shots per item with a generator seeded by (seed, item id): the same
item gets the same shots in every run, whatever `--limit` selects around it.
`selection: similar` takes the k train items whose questions are nearest to the item's question
(cosine over the same embedder the RAG arm uses). Shots that do not fit the task's prompt budget
are dropped, the farthest from the question first.
`selection: fixed` gives every item of a task the same k shots (a seeded draw per task, an item's
own question swapped for the next draw): the prompts then share their whole shot prefix, which
generation computes once (harness.models.continuous); `benchmarks/bench_shots.py` measures what
this costs in accuracy against shots drawn per item.
"""

from __future__ import annotations

import hashlib
import random
from typing import Literal

import numpy as np
from pydantic import Field

from harness.arms.core import Arm, ArmError
from harness.data.tasks import Item, TaskData, normalize_question
from harness.metrics import Prediction
from harness.spec.config import DEFAULT_EMBEDDER, Strict


class ShotPicker:
    """Chooses k solved train items per question; never the question itself or a rewording of it
    that normalises to the same text."""

    def __init__(
        self,
        task: TaskData,
        k: int,
        selection: str,
        seed: int,
        include_unanswerable: bool = True,
        embedder=None,
    ):
        pool = [i for i in task.train if include_unanswerable or i.answerable]
        if len(pool) <= k:
            raise ArmError(
                f"shots need more than k={k} train items in task '{task.spec.name}', "
                f"found {len(pool)} (is data.train set?)"
            )
        self.pool, self.k, self.selection, self.seed = pool, k, selection, seed
        self.pool_keys = [normalize_question(s.question) for s in pool]
        self.embedder = embedder
        if selection == "similar":
            self.pool_vectors = embedder.encode([s.question for s in pool])
        # One seeded order of the pool per task: `fixed` takes its first k usable entries.
        digest = hashlib.sha256(f"{seed}:fixed:{task.spec.name}".encode()).digest()
        self.fixed_order = list(range(len(pool)))
        random.Random(int.from_bytes(digest[:8], "big")).shuffle(self.fixed_order)

    def _usable(self, item: Item) -> list[int]:
        question = normalize_question(item.question)
        return [
            j for j, s in enumerate(self.pool) if s.id != item.id and self.pool_keys[j] != question
        ]

    def random_shots(self, item: Item) -> list[Item]:
        digest = hashlib.sha256(f"{self.seed}:{item.id}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        return [self.pool[j] for j in rng.sample(self._usable(item), self.k)]

    def similar_shots(self, items: list[Item]) -> list[list[Item]]:
        sims = self.embedder.encode([i.question for i in items]) @ self.pool_vectors.T
        out = []
        for row, item in enumerate(items):
            usable = np.array(self._usable(item))
            best = usable[np.argsort(-sims[row, usable], kind="stable")[: self.k]]
            out.append([self.pool[j] for j in best[::-1]])  # the nearest sits next to the question
        return out

    def fixed_shots(self, item: Item) -> list[Item]:
        """The task's k shots, in one order for every item; an item never sees itself (a shot
        with its question is replaced by the next one in the task's order)."""
        usable = set(self._usable(item))
        return [self.pool[j] for j in self.fixed_order if j in usable][: self.k]

    def choose(self, items: list[Item]) -> list[list[Item]]:
        if self.selection == "similar":
            return self.similar_shots(items)
        if self.selection == "fixed":
            return [self.fixed_shots(item) for item in items]
        return [self.random_shots(item) for item in items]


class FewShotArm(Arm):
    kind = "few_shot"
    summary = "k solved train examples as earlier chat turns (seeded random, most similar, fixed)"

    class Params(Strict):
        k: int = Field(3, ge=1, le=64)
        selection: Literal["random", "similar", "fixed"] = "random"
        embedder: str = Field(DEFAULT_EMBEDDER, description="for selection: similar")
        include_unanswerable: bool = Field(
            True,
            description="allow unanswerable train items (answered with abstain_answer) as shots",
        )

    def prepare(self, task: TaskData) -> None:
        p = self.params
        embedder = self.ctx.embedder(p.embedder) if p.selection == "similar" else None
        self.picker = ShotPicker(
            task, p.k, p.selection, self.seed, p.include_unanswerable, embedder
        )

    def predict(self, task: TaskData, items: list[Item]) -> list[Prediction]:
        shots = self.picker.choose(items)
        hits, seconds = self.retrieve(items)
        return self.respond(task, items, shots=shots, hits=hits, seconds=seconds)
