"""What `adaptbench validate` checks beyond the suite and its data: what `run` would find,
short of loading a model (retrieval sources, k against the chunks a corpus gives, leakage,
doc_ids an oracle row points at, the embedder answer_similarity needs).
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.arms import ARMS
from harness.arms.oracle_context import oracle_problem
from harness.data.tasks import TaskData, leakage_warning
from harness.engine.retrieval import (
    EMBEDDED_EMBEDDERS,
    RetrievalError,
    RetrievalParams,
    chunk_documents,
    documents_from_train,
    resolve_embedder,
)
from harness.run.scoring import task_metrics
from harness.spec.config import ArmSpec, SuiteSpec


def retrieval_params(spec: ArmSpec) -> RetrievalParams | None:
    """The arm's retrieval settings (its params for rag/retrieval_only, else its `retrieval:`)."""
    params_cls = ARMS[spec.arm].Params
    if issubclass(params_cls, RetrievalParams):
        return params_cls.model_validate(spec.params)
    if spec.retrieval is not None:
        return RetrievalParams.model_validate(spec.retrieval)
    return None


def _count_chunks(params: RetrievalParams, docs: list, tokenizers: dict) -> int | None:
    """Chunks the run would index, from the embedder's tokenizer alone (no model weights).

    None when the embedder is neither embedded nor a local folder (counting would download it).
    """
    if params.embedder not in EMBEDDED_EMBEDDERS and not Path(params.embedder).is_dir():
        return None
    if params.embedder not in tokenizers:
        from transformers import AutoTokenizer

        path = resolve_embedder(params.embedder)
        config = path / "sentence_bert_config.json"
        tok = AutoTokenizer.from_pretrained(str(path))
        window = (
            json.loads(config.read_text())["max_seq_length"]
            if config.is_file()
            else tok.model_max_length
        )
        tokenizers[params.embedder] = (tok, int(window))
    tok, window = tokenizers[params.embedder]
    chunks, _ = chunk_documents(docs, tok, params, window)
    return len(chunks)


def check_task(suite: SuiteSpec, task: TaskData, tokenizers: dict) -> tuple[list[str], list[str]]:
    """(problems that would fail an arm of `run`, warnings `run` would print) for one task."""
    problems: list[str] = []
    warnings: list[str] = []
    if task.leakage.get("total"):
        warnings.append(leakage_warning(task.spec.name, task.leakage))
    name = task.spec.name
    problem = similarity_embedder_problem(suite, task, download=False)
    if problem:
        problems.append(problem)
    for spec in suite.arms:
        params = retrieval_params(spec)
        if params is None:
            continue
        where = f"task '{name}', arm '{spec.label}'"
        source = params.source
        if source == "auto":
            source = "corpus" if task.corpus else "train"
        if source == "corpus" and not task.corpus:
            problems.append(
                f"{where}: retrieval source is `corpus` but the task has no corpus "
                "(add `corpus:` to the task or set source: train)"
            )
            continue
        if source == "train" and not task.train:
            problems.append(f"{where}: retrieval from train items, but the task has no train split")
            continue
        if spec.arm == "oracle_context":
            problem = oracle_problem(task, params.source)
            if problem:
                problems.append(f"{where}: {problem}")
        docs = (
            task.corpus
            if source == "corpus"
            else documents_from_train(task.train, task.spec.abstain_answer)
        )
        try:
            n_chunks = _count_chunks(params, docs, tokenizers)
        except RetrievalError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if n_chunks is not None and params.k > n_chunks:
            problems.append(
                f"{where}: k={params.k} but the {source} gives only {n_chunks} chunk(s) "
                f"(chunk_tokens {params.chunk_tokens}): lower k"
            )
    return problems, warnings


def similarity_embedder_problem(suite: SuiteSpec, task: TaskData, download: bool) -> str | None:
    """Why the suite's `embedder` cannot serve the task's answer_similarity, or None (also when
    the task does not score it). Without `download` a hub id is not looked up (validate loads
    nothing); `run` resolves it, so an unknown name fails before any cell, not at scoring."""
    if "answer_similarity" not in task_metrics(task):
        return None
    name = suite.embedder
    local = name in EMBEDDED_EMBEDDERS or Path(name).expanduser().is_dir()
    if not download and not local and name.count("/") == 1:
        return None  # a hub id: `run` downloads it
    try:
        resolve_embedder(name)
    except RetrievalError as exc:
        return (
            f"task '{task.spec.name}' scores answer_similarity with the suite's `embedder`, "
            f"which cannot be used: {exc}"
        )
    return None
