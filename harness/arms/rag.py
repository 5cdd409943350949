"""Arm `rag`: retrieve the top-k passages (FAISS over the task's corpus), answer from them.

The base model is unchanged; the prompt is the passages, the task's instruction, a grounding
sentence that says where to look (never what form to answer in: that is the task's answer
style), then the question. `shots` solved train examples (random by default, so that they teach
the answer's form, not facts) come first; by default their number follows the answer style
(harness.spec.style.RAG_SHOTS) and the prompt budget drops them before any passage.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.arms.core import Arm
from harness.arms.few_shot import ShotPicker
from harness.data.tasks import Item, TaskData
from harness.engine.retrieval import RetrievalParams
from harness.metrics import Prediction
from harness.spec.style import RAG_SHOTS


class RagParams(RetrievalParams):
    shots: int | None = Field(
        None,
        ge=0,
        le=64,
        description="solved train examples before the question; default: by answer style "
        "(3 for one-line styles, 0 for long answers)",
    )
    shot_selection: Literal["random", "similar", "fixed"] = Field(
        "random",
        description="random: drawn per item; similar: nearest questions; fixed: the same shots "
        "for every item (their tokens are computed once per batch)",
    )
    include_unanswerable: bool = True
    passages_in_shots: bool = Field(
        False,
        description="each shot shows its own retrieved passages (each shot then costs about as "
        "many prompt tokens as the question's passages)",
    )


def retrieval_part(params: RetrievalParams) -> RetrievalParams:
    """The retrieval settings inside a parameter model that extends them."""
    return RetrievalParams(**params.model_dump(include=set(RetrievalParams.model_fields)))


class RagArm(Arm):
    kind = "rag"
    summary = "retrieval-augmented: top-k passages from the task's corpus (FAISS) + format shots"
    Params = RagParams

    def __init__(self, params: RagParams, ctx, retrieval=None, seed=None, variant=None):
        super().__init__(params, ctx, retrieval_part(params), seed, variant)

    def prepare(self, task: TaskData) -> None:
        p = self.params
        self.shots = p.shots if p.shots is not None else RAG_SHOTS[task.spec.answer_style]
        self.picker = None
        if self.shots:
            embedder = self.ctx.embedder(p.embedder) if p.shot_selection == "similar" else None
            self.picker = ShotPicker(
                task, self.shots, p.shot_selection, self.seed, p.include_unanswerable, embedder
            )
        self.stats["shots"] = self.shots

    def predict(self, task: TaskData, items: list[Item]) -> list[Prediction]:
        hits, seconds = self.retrieve(items)
        shots = self.picker.choose(items) if self.picker else None
        shot_hits = None
        if shots and self.params.passages_in_shots:
            unique = list({s.id: s for group in shots for s in group}.values())
            found, _ = self.retrieve(unique)
            shot_hits = {s.id: h for s, h in zip(unique, found or [])}
        return self.respond(task, items, shots, hits, seconds, shot_hits)
