"""Arm `oracle_context`: the item's gold document as the passages. A reference row.

It answers like `rag` (same instruction, grounding sentence, shots and budget), but its passages
are the chunks of the document(s) the item names as its source, ranked by similarity to the
question: the reader's ceiling when retrieval is perfect. `oracle_context` minus `rag` is what
retrieval loses; the task's ceiling (or `retrieval_only`) minus `oracle_context` is what the
reader loses. Items with no named document (unanswerable ones) get the ordinary top-k passages,
as in `rag`. When no eval item names a document of the index, the arm fails (`oracle_problem`):
its row would be `rag` under another name, and a verdict read from it would be wrong.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from harness.arms.core import ArmError
from harness.arms.rag import RagArm, RagParams
from harness.common.measure import Timer
from harness.data.tasks import Item, TaskData
from harness.engine.retrieval import Hit, documents_from_train

NEAREST_IDS = 3  # corpus ids shown next to a doc_id that names none


def oracle_problem(task: TaskData, source: str = "auto") -> str | None:
    """Why `oracle_context` would not be the oracle on this task, or None when it would.

    It is the oracle only when some eval item's doc_id names a document it retrieves from (or a
    part of one, `<file>#p3`); otherwise every item would fall back to ordinary retrieval and
    the row would be `rag` under another name. The message shows an item, what it names and
    the nearest document ids (the usual cause: `d1.md` against a corpus whose ids are `d1`).
    """
    named = [i for i in task.eval if i.doc_ids]
    name = task.spec.name
    if not named:
        return (
            f"oracle_context needs eval items that name their gold document (field doc_id) "
            f"in task '{name}'; none do"
        )
    if source == "auto":
        source = "corpus" if task.corpus else "train"
    docs = (
        task.corpus
        if source == "corpus"
        else documents_from_train(task.train, task.spec.abstain_answer)
    )
    ids = list(dict.fromkeys(d.id for d in docs or []))
    known = _named_ids(ids)
    if any(gold in known for item in named for gold in item.doc_ids):
        return None
    item, gold = named[0], named[0].doc_ids[0]
    nearest = difflib.get_close_matches(gold, ids, n=NEAREST_IDS, cutoff=0.0)
    what = "corpus" if source == "corpus" else "train items (its retrieval source)"
    return (
        f"oracle_context: no eval item of task '{name}' names a document of its {what} "
        f"({len(ids)} document(s)): e.g. item {item.id!r} ({item.source}) has doc_id {gold!r}; "
        f"nearest document ids: {nearest}. Make the items' doc_id match the document ids "
        "(a folder's documents are named by their path relative to it)"
    )


def _named_ids(ids: Iterable[str]) -> set[str]:
    """Every doc_id that names one of these documents: an id, or a `#` prefix of one (the file
    of a PDF page `<file>#p3`), as the oracle's passages are found (Retriever.gold_hits)."""
    out = set()
    for doc_id in ids:
        parts = doc_id.split("#")
        out.update("#".join(parts[:end]) for end in range(1, len(parts) + 1))
    return out


class OracleContextArm(RagArm):
    kind = "oracle_context"
    role = "reference"
    summary = "reference row: the item's gold document(s) as passages (the reader's ceiling)"
    Params = RagParams

    def prepare(self, task: TaskData) -> None:
        problem = oracle_problem(task, self.params.source)
        if problem:
            raise ArmError(problem)
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
