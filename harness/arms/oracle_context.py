"""Arm `oracle_context`: the item's gold document as the passages. A reference row.

It answers like `rag` (same instruction, grounding sentence, shots and budget), but its passages
are the chunks of the document(s) the item names as its source, ranked by similarity to the
question: the reader's ceiling when retrieval is perfect. `oracle_context` minus `rag` is what
retrieval loses; the task's ceiling (or `retrieval_only`) minus `oracle_context` is what the
reader loses. Items with no named document (unanswerable ones) get the ordinary top-k passages,
as in `rag`.
"""

from __future__ import annotations

from harness.arms.core import ArmError
from harness.arms.rag import RagArm, RagParams
from harness.base.measure import Timer
from harness.data.tasks import Item, TaskData
from harness.engine.retrieval import Hit


class OracleContextArm(RagArm):
    kind = "oracle_context"
    summary = "reference row: the item's gold document(s) as passages (the reader's ceiling)"
    Params = RagParams

    def prepare(self, task: TaskData) -> None:
        if not any(i.doc_ids for i in task.eval):
            raise ArmError(
                f"oracle_context needs eval items that name their gold document (field doc_id) "
                f"in task '{task.spec.name}'; none do"
            )
        super().prepare(task)

    def retrieve(self, items: list[Item]) -> tuple[list[list[Hit]] | None, list[float] | None]:
        ranked, seconds = super().retrieve(items)  # the fallback for items without a gold document
        if ranked is None or seconds is None or self.retriever is None:
            return ranked, seconds
        missing = 0
        for n, item in enumerate(items):
            if not item.doc_ids:
                continue
            with Timer() as t:
                hits = self.retriever.gold_hits(item.question, item.doc_ids, self.retrieval.k)
            if not hits:
                missing += 1  # the named document is not in the corpus: keep the retrieved ones
                continue
            ranked[n], seconds[n] = hits, t.seconds
        if missing:
            self.stats["oracle_documents_not_in_corpus"] = missing
        return ranked, seconds
