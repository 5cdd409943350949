"""Arm `retrieval_only`: no generator. A reference row that shows what retrieval alone achieves.

It answers with the top passage, or, when retrieving train items (tasks without a corpus), with
the nearest train item's answer (kNN). Comparing it with `rag` shows how much the generator adds
or wastes on top of the same passages.
"""

from __future__ import annotations

from harness.arms.core import Arm
from harness.arms.prompting import attach_retrieval, is_abstention
from harness.data.tasks import Item, TaskData
from harness.engine.retrieval import RetrievalParams
from harness.metrics import Prediction


class RetrievalOnlyArm(Arm):
    kind = "retrieval_only"
    summary = "no generator: answers with the top passage (or the nearest train item's answer)"
    Params = RetrievalParams
    uses_generator = False

    def __init__(self, params: RetrievalParams, ctx, retrieval=None, seed=None, variant=None):
        super().__init__(params, ctx, params, seed, variant)

    def predict(self, task: TaskData, items: list[Item]) -> list[Prediction]:
        hits, seconds = self.retrieve(items)
        assert hits is not None and seconds is not None
        preds = []
        for item, item_hits, s in zip(items, hits, seconds):
            top = item_hits[0]
            output = top.answer if top.answer is not None else top.text
            pred = Prediction(
                output=output,
                prompt=item.question,
                abstained=is_abstention(output, task.spec.abstain_patterns),
            )
            if item.choices is not None:
                pred.choice = item.choices.index(output) if output in item.choices else None
            attach_retrieval(pred, item_hits, s)
            preds.append(pred)
        return preds

    def parameter_counts(self) -> tuple[int, int]:
        return self.retriever.embedder.parameter_count() if self.retriever else 0, 0
