"""Retrieval and grounding: recall@k and MRR of the gold documents, answers unsupported by passages."""

from __future__ import annotations

from harness.metrics.base import Metric, Prediction, Score, normalize_answer

# Function words that carry no claim; an answer's other tokens must appear in the passages.
STOPWORDS = frozenset(
    "a an the is are was were be been it its of in on at to for from by with and or as that this these those "
    "there their they you your i we he she his her our my me do does did not no yes so if then than per "
    "up out into over under about what which who whom when where why how can could would should will may "
    "must has have had".split()
)


def _ranked_docs(pred: Prediction) -> list[str]:
    seen: list[str] = []
    for hit in pred.extra.get("retrieved", []):
        if hit["doc_id"] not in seen:
            seen.append(hit["doc_id"])
    return seen


def _applies(item, pred: Prediction) -> bool:
    return "retrieved" in pred.extra and item.answerable and bool(item.doc_ids)


def names(gold: str, doc_id: str) -> bool:
    """A gold document id names a retrieved one: the same id, or one page (`#p<n>`) of that file."""
    if doc_id == gold:
        return True
    page = doc_id[len(gold) + 2 :]
    return doc_id.startswith(gold + "#p") and page.isdigit()


def _gold_ranks(item, docs: list[str]) -> list[tuple[int, str]]:
    return [(r, d) for r, d in enumerate(docs, 1) if any(names(g, d) for g in item.doc_ids)]


def _recall(item, pred: Prediction) -> Score | None:
    if not _applies(item, pred):
        return None
    docs = _ranked_docs(pred)
    found = _gold_ranks(item, docs)
    if found:
        return Score(1.0, f"gold document {found[0][1]!r} retrieved at rank {found[0][0]}")
    return Score(0.0, f"gold document(s) {list(item.doc_ids)} not among the {len(docs)} retrieved")


def _mrr(item, pred: Prediction) -> Score | None:
    if not _applies(item, pred):
        return None
    found = _gold_ranks(item, _ranked_docs(pred))
    if not found:
        return Score(0.0, "gold document not retrieved")
    return Score(1.0 / found[0][0], f"first gold document at rank {found[0][0]}")


def content_tokens(text: str) -> list[str]:
    return [t for t in normalize_answer(text).split() if t not in STOPWORDS]


def _grounding(item, pred: Prediction, graded: bool) -> Score | None:
    """Content tokens of the answer found neither in the retrieved passages nor the question:
    their share (`graded`, for long answers) or a flag for any of them (short answers)."""
    if "retrieved" not in pred.extra or item.choices is not None or pred.abstained:
        return None
    tokens = content_tokens(pred.output)
    if not tokens:
        return Score(0.0, "no content tokens in the answer")
    # Words the answer repeats from the question ("The deductible for X is ...") are not claims.
    known = set(
        normalize_answer(" ".join(pred.extra.get("passages", [])) + " " + item.question).split()
    )
    missing = [t for t in tokens if t not in known]
    if graded:
        share = len(missing) / len(tokens)
        return Score(
            share, f"{len(missing)} of {len(tokens)} content words unsupported: {missing[:5]}"
        )
    if missing:
        return Score(1.0, f"not in the retrieved passages: {missing[:5]}")
    return Score(0.0, "every content token appears in the retrieved passages")


def _unsupported_share(item, pred: Prediction) -> Score | None:
    return _grounding(item, pred, graded=True)


def _unsupported(item, pred: Prediction) -> Score | None:
    return _grounding(item, pred, graded=False)


recall_at_k = Metric(
    "recall@k",
    _recall,
    True,
    "Answerable items whose gold document is among the k retrieved documents / answerable items with a "
    "known gold document (retrieval arms only). A gold id naming a file credits any of its PDF pages "
    "(`file.pdf#p<n>`).",
)
mrr = Metric(
    "mrr",
    _mrr,
    True,
    "Mean reciprocal rank of the first gold document among the retrieved ones (0 when not retrieved).",
)
unsupported_by_context = Metric(
    "unsupported_by_context",
    _unsupported,
    False,
    "Answered (non-abstaining) items whose answer has a content token (normalised, stopwords removed) "
    "found neither in the retrieved passages nor in the question / answered items (retrieval arms only).",
)
unsupported_share = Metric(
    "unsupported_share",
    _unsupported_share,
    False,
    "Graded form of unsupported_by_context for long answers: per answered item, the share of the "
    "answer's content tokens found neither in the retrieved passages nor in the question; the "
    "mean over answered items (retrieval arms only).",
)
