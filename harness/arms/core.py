"""The arm seam: `setup` (the arm's own `prepare`, then the retrieval index), then `predict`.

An arm is built for one cell with everything it needs (parameters, the run context, its seed,
its retrieval settings and prompt wording) and decides which messages the model sees; `respond`
renders them within the task's prompt budget and asks the generator. Any arm may carry a
`retrieval:` block (hybrids such as `lora+rag`): `setup` then builds a retriever over the task's
corpus (or its train items) and `retrieve` gives each item its passages.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from harness.arms.prompting import answer, fit_to_budget, wording_for
from harness.common.measure import count_parameters
from harness.data.tasks import Item, TaskData
from harness.engine.retrieval import (
    Hit,
    RetrievalError,
    RetrievalParams,
    Retriever,
    documents_from_train,
)
from harness.metrics import Prediction
from harness.models.resolve import count_weights, resolve_model
from harness.spec.config import PromptVariant


class ArmError(RuntimeError):
    """An arm that cannot run with this task or these parameters."""


class Arm:
    kind: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    changes_weights: ClassVar[bool] = False
    # What the arm is for in a comparison (harness.spec.record.Role): a deployable contender,
    # a reference row (explains a result, never recommended) or the baseline the others are
    # paired against.
    role: ClassVar[str] = "contender"
    uses_generator: ClassVar[bool] = True
    # Whether a retriever must exist before `prepare` (training that shows passages).
    retrieves_before_prepare: ClassVar[bool] = False

    def __init__(
        self,
        params: BaseModel,
        ctx: Any,  # harness.run.context.RunContext: backend and embedders, loaded lazily
        retrieval: RetrievalParams | None = None,
        seed: int | None = None,
        variant: PromptVariant | None = None,
    ):
        self.params = params
        self.ctx = ctx
        self.seed: int = ctx.seed if seed is None else seed
        self.retrieval = retrieval
        self.variant = variant
        self.retriever: Retriever | None = None
        self.stats: dict[str, Any] = {}  # arm-specific efficiency figures for the record
        # (items, hits) -> hits: passages edited before they are shown (the counterfactual
        # drill, harness/run/knowledge.py); None in ordinary cells.
        self.rewrite_passages: Any = None
        # prompt -> the answer these same weights already gave to it (a cell's stored
        # predictions): the knowledge update drill generates only for the prompts the update
        # changed (predictions are never generated twice). None in ordinary cells.
        self.remembered: dict[str, str] | None = None

    def setup(self, task: TaskData) -> None:
        # prepare (training, for fine-tuned arms) first: in a multi-GPU run the other processes
        # are already waiting in that training (harness.common.distributed).
        if self.retrieves_before_prepare:
            self.build_retriever(task)
        self.prepare(task)
        if not self.retrieves_before_prepare:
            self.build_retriever(task)

    def build_retriever(self, task: TaskData) -> None:
        if self.retrieval is None or self.retriever is not None:
            return
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
        """Zero-shot (with passages when the arm retrieves); arms with shots override this."""
        hits, seconds = self.retrieve(items)
        return self.respond(task, items, hits=hits, seconds=seconds)

    def respond(
        self,
        task: TaskData,
        items: list[Item],
        shots: list[list[Item]] | None = None,
        hits: list[list[Hit]] | None = None,
        seconds: list[float] | None = None,
        shot_passages: dict[str, list[Hit]] | None = None,
    ) -> list[Prediction]:
        """Each item's conversation fitted to the prompt budget, answered by the generator."""
        if hits is not None and self.rewrite_passages is not None:
            hits = self.rewrite_passages(items, hits)
        generator = self.generator()
        wording = wording_for(task, self.variant, self.retrieval)
        fitted = [
            fit_to_budget(
                generator,
                task.spec,
                wording,
                item,
                shots[i] if shots else (),
                hits[i] if hits else None,
                self.retrieval,
                shot_passages,
            )
            for i, item in enumerate(items)
        ]
        preds = answer(generator, task.spec, items, fitted, seconds, self.remembered)
        for pred, fit in zip(preds, fitted):
            if shots:
                pred.extra["shot_ids"] = [shot.id for shot in fit.shots]
        return preds

    def generator(self):
        """The backend that answers: the base model on the suite's backend, or a trained one
        for fine-tuning arms."""
        return self.ctx.generator

    def probe_backend(self):
        """The transformers backend of the weights that answer: retention probes run on it."""
        return self.ctx.backend

    def parameter_counts(self) -> tuple[int | None, int]:
        """(total, trainable) parameters of what produces the answers (total None: an endpoint,
        whose size the API does not say)."""
        model = self.ctx.suite.model
        if model.backend == "openai":
            return None, 0
        if model.backend == "vllm":  # its weights live in the engine: read their headers
            return count_weights(resolve_model(model, progress=False).path), 0
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
