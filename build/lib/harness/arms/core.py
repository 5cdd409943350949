"""The arm seam: `setup` (the arm's own `prepare`, then the retrieval index), then `predict`.

Any arm may carry a `retrieval:` block (hybrids such as `lora+rag`): `setup` then builds a
retriever over the task's corpus (or its train items) and `retrieve` gives each item its passages.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from ..data import Item, TaskData
from ..measure import count_parameters
from ..metrics import Prediction
from ..retrieval import Hit, RetrievalError, RetrievalParams, Retriever, documents_from_train


class ArmError(RuntimeError):
    """An arm that cannot run with this task or these parameters."""


class Arm:
    kind: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    changes_weights: ClassVar[bool] = False
    uses_generator: ClassVar[bool] = True

    def __init__(self, params: BaseModel, ctx: Any, retrieval: RetrievalParams | None = None):
        self.params = params
        self.ctx = ctx  # harness.runner.RunContext: backend and embedders (lazy)
        self.seed: int = ctx.seed  # the runner sets the arm's own seed (`seed`/`seeds`) if given
        self.retrieval = retrieval
        self.retriever: Retriever | None = None
        self.stats: dict[str, Any] = {}  # arm-specific efficiency figures for the record

    def setup(self, task: TaskData) -> None:
        # prepare (training, for fine-tuned arms) first: in a multi-GPU run the other processes
        # are already waiting in that training (harness.distributed).
        self.prepare(task)
        if self.retrieval is not None:
            self.retriever = build_retriever(self.retrieval, task, self.ctx)
            self.stats["retrieval"] = self.retriever.stats
            if self.retriever.warnings:
                self.stats["retrieval_warnings"] = self.retriever.warnings

    def prepare(self, task: TaskData) -> None:
        """Work done once per task before predicting (nothing for prompting arms)."""

    def retrieve(self, items: list[Item]) -> tuple[list[list[Hit]] | None, list[float] | None]:
        if self.retriever is None or self.retrieval is None:
            return None, None
        return self.retriever.search([i.question for i in items], self.retrieval.k)

    def predict(self, task: TaskData, items: list[Item]) -> list[Prediction]:
        raise NotImplementedError

    def generator(self):
        """The backend that answers: the base model, or a trained one for fine-tuning arms."""
        return self.ctx.backend

    def parameter_counts(self) -> tuple[int, int]:
        """(total, trainable) parameters of what produces the answers."""
        total, trainable = count_parameters(self.ctx.backend.model)
        return total, (trainable if self.changes_weights else 0)


def build_retriever(params: RetrievalParams, task: TaskData, ctx: Any) -> Retriever:
    source = params.source
    if source == "auto":
        source = "corpus" if task.corpus else "train"
    if source == "corpus":
        if not task.corpus:
            raise RetrievalError(
                f"task '{task.spec.name}' has no corpus (set `corpus:` or retrieval.source: train)"
            )
        docs, name, answers = task.corpus, task.spec.corpus.path, None
    else:
        if not task.train:
            raise RetrievalError(
                f"task '{task.spec.name}' has neither a corpus nor a train split to retrieve from"
            )
        docs = documents_from_train(task.train, task.spec.abstain_answer)
        name = f"{task.spec.data.train} (train items as documents)"
        answers = {d.id: d.text.rsplit("\n", 1)[-1] for d in docs}
    return Retriever(params, ctx.embedder(params.embedder)).build(docs, name, answers)
