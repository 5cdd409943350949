"""Arm `rag`: retrieve the top-k passages (FAISS over the task's corpus), answer from them.

The base model is unchanged; the passages, then an instruction to answer only from them (or to
say it does not know), then the question. `shots` solved train examples (no passages) show the
answer format first: without them a 135M instruct model answered in full sentences and scored
near zero on exact match although it had the right passage (measured on insurance-policy-qa,
see `RagParams.shots`).
Shots are random by default so that they teach format, not facts: similar shots would retrieve
train questions about the same fact, which is what `few_shot` with `selection: similar` measures.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..retrieval import RetrievalParams
from .few_shot import FewShotArm


class RagParams(RetrievalParams):
    shots: int = Field(
        5,
        ge=0,
        le=64,
        description="solved train examples shown before the question (insurance-policy-qa, "
        "SmolLM2-135M, n=177: 0 shots 0.040 exact match, 3 shots 0.124, 5 shots 0.175, 8 shots 0.153)",
    )
    shot_selection: Literal["random", "similar"] = "random"
    include_unanswerable: bool = True
    passages_in_shots: bool = Field(
        False,
        description="each shot shows its own retrieved passages (insurance-policy-qa, SmolLM2-135M, "
        "3 shots: +0.03 exact match at n=60 in one run, 0.073 vs 0.124 at n=177 in another, for "
        "2-4x the prompt length, so off by default)",
    )


class RagArm(FewShotArm):
    kind = "rag"
    summary = (
        "retrieval-augmented: top-k passages from the task's corpus (FAISS) + format demonstrations"
    )
    Params = RagParams

    def __init__(self, params: RagParams, ctx, retrieval: RetrievalParams | None = None):
        shot_params = FewShotArm.Params(
            k=max(1, params.shots),
            selection=params.shot_selection,
            embedder=params.embedder,
            include_unanswerable=params.include_unanswerable,
        )
        super().__init__(
            shot_params,
            ctx,
            retrieval=RetrievalParams(
                **params.model_dump(
                    exclude=set(RagParams.model_fields) - set(RetrievalParams.model_fields)
                )
            ),
        )
        self.shots = params.shots
        self.passages_in_shots = params.passages_in_shots

    def prepare(self, task) -> None:
        if self.shots:
            super().prepare(task)

    def choose_shots(self, items):
        if not self.shots:
            return [[] for _ in items]
        return super().choose_shots(items)
