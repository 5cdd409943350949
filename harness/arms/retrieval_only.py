"""Arm `retrieval_only`: no generator. A reference row that shows what retrieval alone achieves.

It answers with the top passage, or, when retrieving train items (tasks without a corpus), with
the nearest train item's answer (kNN; with k: 1 on a label task, the 1-nearest-neighbour
classifier every fine-tune of that task should beat). Comparing it with `rag` shows how much the generator adds
or wastes on top of the same passages.
"""

from __future__ import annotations

from harness.arms.core import Arm
from harness.arms.prompting import attach_retrieval, is_abstention, name_label
from harness.data.tasks import Document, Item, TaskData
from harness.engine.retrieval import RetrievalParams, Retriever
from harness.metrics import Prediction


class RetrievalOnlyArm(Arm):
    kind = "retrieval_only"
    # Deployable: it reads what a deployment has (the index), and on a label task its nearest
    # neighbour's label is an answer a team can ship; the report still uses it to locate the
    # bottleneck of a RAG pipeline.
    summary = "no generator: answers with the top passage (or the nearest train item's answer)"
    Params = RetrievalParams
    uses_generator = False

    def __init__(self, params: RetrievalParams, ctx, retrieval=None, seed=None, variant=None):
        super().__init__(params, ctx, params, seed, variant)

    def build_retriever(self, task: TaskData) -> None:
        """On a label task retrieving train items, the index holds their messages alone: the
        nearest-neighbour classifier compares message with message, the label is only read
        off the neighbour (in the text it would pull messages that mention a label's words)."""
        source = self.params.source
        if source == "auto":
            source = "corpus" if task.corpus else "train"
        if not (task.spec.label_set and source == "train" and task.train):
            return super().build_retriever(task)
        docs = [Document(id=i.id, text=i.question, source=i.source) for i in task.train]
        labels = {i.id: _label_of(i, task.spec.abstain_answer) for i in task.train}
        name = f"{task.spec.data.train} (train messages, labels kept apart)"
        embedder = self.ctx.embedder(self.params.embedder)
        self.retriever = Retriever(self.params, embedder).build(docs, name, labels)
        self.stats["retrieval"] = self.retriever.stats

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
            if task.spec.label_set and task.spec.answer_style == "label":
                name_label(pred, task.spec.label_set)  # the nearest train item's label: kNN
            attach_retrieval(pred, item_hits, s)
            preds.append(pred)
        return preds

    def parameter_counts(self) -> tuple[int, int]:
        return self.retriever.embedder.parameter_count() if self.retriever else 0, 0


def _label_of(item: Item, abstain_answer: str) -> str:
    if item.choices is not None and item.label is not None:
        return item.choices[item.label]
    return item.answers[0] if item.answerable and item.answers else abstain_answer
