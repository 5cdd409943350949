"""Arm `few_shot`: k solved examples from the train split before each question.

`selection: random` draws shots per item with a generator seeded by (suite seed, item id): the
same item gets the same shots in every run, whatever `--limit` selects around it.
`selection: similar` takes the k train items whose questions are nearest to the item's question
(cosine over the same embedder the RAG arm uses).
"""

from __future__ import annotations

import hashlib
import random
from typing import Literal

import numpy as np
from pydantic import Field

from ..config import Strict
from ..data import Item, TaskData, normalize_question
from ..metrics import Prediction
from ..retrieval import DEFAULT_EMBEDDER
from .core import Arm, ArmError
from .prompting import answer, conversation


class FewShotArm(Arm):
    kind = "few_shot"
    summary = "k solved train examples as earlier chat turns (seeded random, or most similar)"

    class Params(Strict):
        k: int = Field(3, ge=1, le=64)
        selection: Literal["random", "similar"] = "random"
        embedder: str = Field(DEFAULT_EMBEDDER, description="for selection: similar")
        include_unanswerable: bool = Field(
            True,
            description="allow unanswerable train items (answered with abstain_answer) as shots",
        )

    def prepare(self, task: TaskData) -> None:
        pool = [i for i in task.train if self.params.include_unanswerable or i.answerable]
        if len(pool) <= self.params.k:
            raise ArmError(
                f"few_shot needs more than k={self.params.k} train items in task '{task.spec.name}', "
                f"found {len(pool)} (is data.train set?)"
            )
        self.pool = pool
        self.pool_keys = [normalize_question(s.question) for s in pool]
        if self.params.selection == "similar":
            self.embedder = self.ctx.embedder(self.params.embedder)
            self.pool_vectors = self.embedder.encode([s.question for s in pool])

    def _usable(self, item: Item) -> list[int]:
        question = normalize_question(item.question)
        return [
            j for j, s in enumerate(self.pool) if s.id != item.id and self.pool_keys[j] != question
        ]

    def random_shots(self, item: Item) -> list[Item]:
        digest = hashlib.sha256(f"{self.seed}:{item.id}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        return [self.pool[j] for j in rng.sample(self._usable(item), self.params.k)]

    def similar_shots(self, items: list[Item]) -> list[list[Item]]:
        sims = self.embedder.encode([i.question for i in items]) @ self.pool_vectors.T
        out = []
        for row, item in enumerate(items):
            usable = np.array(self._usable(item))
            best = usable[np.argsort(-sims[row, usable], kind="stable")[: self.params.k]]
            out.append(
                [self.pool[j] for j in best[::-1]]
            )  # the most similar shot sits next to the question
        return out

    def shot_passages(self, shots: list[list[Item]]) -> dict[str, list] | None:
        """Passages for each shot when the arm retrieves and demonstrations should show them."""
        if self.retriever is None or not getattr(self, "passages_in_shots", False):
            return None
        unique = list({s.id: s for group in shots for s in group}.values())
        hits, _ = self.retrieve(unique)
        return {s.id: h for s, h in zip(unique, hits or [])}

    def choose_shots(self, items: list[Item]) -> list[list[Item]]:
        if self.params.selection == "similar":
            return self.similar_shots(items)
        return [self.random_shots(item) for item in items]

    def predict(self, task: TaskData, items: list[Item]) -> list[Prediction]:
        shots = self.choose_shots(items)
        hits, seconds = self.retrieve(items)
        shot_hits = self.shot_passages(shots)
        convs = [
            conversation(
                task.spec,
                item,
                s,
                passages=hits[i] if hits else None,
                retrieval=self.retrieval,
                shot_passages=shot_hits,
            )
            for i, (item, s) in enumerate(zip(items, shots))
        ]
        preds = answer(self.generator(), task.spec, items, convs, hits, seconds)
        for pred, s in zip(preds, shots):
            pred.extra["shot_ids"] = [shot.id for shot in s]
        return preds
