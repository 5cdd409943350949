"""Counterfactual edits: a gold answer span replaced by another answer of the same kind.

A passage that contradicts what a model learned is made without a generator model: the span of
an item's gold answer in its gold document is swapped for the gold answer of another item of the
suite of the same kind (an amount by an amount, a period by a period of the same unit, a code by
a code, a name by a name). Everything else in the text stays byte-identical. The swaps are
seeded and deterministic: the same suite and seed give the same edits.

Used twice: the counterfactual-passage drill (does an arm read the passage or answer from its
weights?) and the knowledge-update drill (the same swaps applied to the corpus and the golds).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace

from harness.data.tasks import Document, Item
from harness.metrics.base import normalize_answer

_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
)
_UNIT = r"(?:business |working |calendar )?(?:days?|weeks?|months?|years?|hours?)"
# Kinds of answer span, tried in order; a span of none of them is never swapped.
KINDS: tuple[tuple[str, re.Pattern], ...] = (
    ("amount", re.compile(r"[$£€]\d[\d,]*(?:\.\d+)?(?: (?:million|billion))?")),
    ("percent", re.compile(r"\d+(?:\.\d+)?%")),
    ("period", re.compile(rf"\d+ {_UNIT}")),
    (
        "date",
        re.compile(
            rf"\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}} {_MONTH} \d{{4}}|{_MONTH} \d{{1,2}}(?:, \d{{4}})?"
        ),
    ),
    ("code", re.compile(r"(?:Form )?[A-Z]{1,4}-? ?\d+[A-Z]?")),
    ("number", re.compile(r"\d[\d,]*(?:\.\d+)?")),
    ("name", re.compile(r"[A-Z][\w'’.&-]*(?: (?:of |and |the )?[A-Z][\w'’.&-]*)*")),
)


def answer_kind(span: str) -> str | None:
    """The kind of an answer span; a period carries its unit ("period:business days") so that
    days are swapped for days, never for years."""
    for kind, pattern in KINDS:
        if pattern.fullmatch(span):
            if kind == "period":
                return "period:" + re.sub(r"s$", "", span.split(" ", 1)[1])
            return kind
    return None


def shape(span: str) -> str:
    """Letters as A, digits as 9: codes of the same shape are preferred as replacements."""
    return re.sub(r"\d", "9", re.sub(r"[A-Za-z]", "A", span))


def _span_pattern(span: str) -> re.Pattern:
    # A whole span: not inside a longer word or number ("$830" is not in "$8,300" or "$830.50").
    return re.compile(rf"(?<![\w$£€]){re.escape(span)}(?![\w%]|[.,]\d)")


def find_span(text: str, answers: tuple[str, ...]) -> str | None:
    """The first gold alias (in the item's order) that stands in the text as a whole span and
    has a kind."""
    for alias in answers:
        if alias and answer_kind(alias) and _span_pattern(alias).search(text):
            return alias
    return None


def swap_spans(text: str, original: str, replacement: str) -> tuple[str, int]:
    """The text with every whole-span occurrence of `original` replaced, and how many."""
    return _span_pattern(original).subn(lambda _: replacement, text)


@dataclass(frozen=True)
class Swap:
    """One edit: in document `doc_id`, `original` (the gold of `item_id`) becomes `replacement`
    (the gold of `donor_id`), whose aliases are `new_answers`."""

    item_id: str
    doc_id: str
    kind: str
    original: str
    replacement: str
    new_answers: tuple[str, ...]
    donor_id: str

    def as_dict(self) -> dict:
        return {
            "item": self.item_id,
            "doc": self.doc_id,
            "kind": self.kind,
            "original": self.original,
            "replacement": self.replacement,
        }


@dataclass(frozen=True)
class _Fact:
    item: Item
    doc: Document
    span: str
    kind: str


def _facts(items: list[Item], docs: dict[str, Document]) -> list[_Fact]:
    """Answerable items whose gold document holds one of their gold aliases as a span."""
    out = []
    for item in items:
        if not item.answerable or item.choices is not None or not item.doc_ids:
            continue
        doc = docs.get(item.doc_ids[0])
        span = find_span(doc.text, item.answers) if doc else None
        if doc and span:
            out.append(_Fact(item, doc, span, answer_kind(span) or ""))
    return out


def plan_swaps(
    items: list[Item], pool: list[Item], corpus: list[Document], count: int, seed: int
) -> list[Swap]:
    """Up to `count` edits for a seeded sample of `items`, one per (document, span): each
    gold span replaced by another gold answer of the same kind from `pool` (the suite's items),
    one that does not occur in the document and is not an alias of the original answer."""
    docs = {d.id: d for d in corpus}
    facts = _facts(items, docs)
    donors = _facts(pool, docs)
    order = random.Random(seed).sample(range(len(facts)), len(facts))
    swaps: list[Swap] = []
    seen: set[tuple[str, str]] = set()
    for index in order:
        if len(swaps) == count:
            break
        fact = facts[index]
        if (fact.doc.id, fact.span) in seen:
            continue
        donor = _pick_donor(fact, donors, random.Random(f"{seed}:{fact.item.id}"))
        if donor is None:
            continue
        seen.add((fact.doc.id, fact.span))
        swaps.append(
            Swap(
                fact.item.id,
                fact.doc.id,
                fact.kind,
                fact.span,
                donor.span,
                donor.item.answers,
                donor.item.id,
            )
        )
    return swaps


def _pick_donor(fact: _Fact, donors: list[_Fact], rng: random.Random) -> _Fact | None:
    own = {normalize_answer(a) for a in fact.item.answers}
    fits = [
        d
        for d in donors
        if d.kind == fact.kind
        and normalize_answer(d.span) not in own
        and not own & {normalize_answer(a) for a in d.item.answers}
        and not _span_pattern(d.span).search(fact.doc.text)
    ]
    # One candidate per distinct span, in a fixed order, so the draw does not depend on how
    # many items share an answer.
    unique = sorted({d.span: d for d in fits}.values(), key=lambda d: (d.span, d.item.id))
    alike = [d for d in unique if shape(d.span) == shape(fact.span)]
    choices = alike or unique
    return rng.choice(choices) if choices else None


def apply_to_documents(corpus: list[Document], swaps: list[Swap]) -> list[Document]:
    """The corpus with every swap applied to its document (all occurrences of the span)."""
    by_doc: dict[str, list[Swap]] = {}
    for s in swaps:
        by_doc.setdefault(s.doc_id, []).append(s)
    out = []
    for doc in corpus:
        text = doc.text
        for s in by_doc.get(doc.id, []):
            text, _ = swap_spans(text, s.original, s.replacement)
        out.append(replace(doc, text=text) if text != doc.text else doc)
    return out


def apply_to_items(items: list[Item], swaps: list[Swap]) -> tuple[list[Item], dict[str, Swap]]:
    """The items with new golds where a swap changed their fact (same gold document, an alias
    equal to the swapped span), and which swap changed each."""
    out, changed = [], {}
    for item in items:
        hit = next(
            (
                s
                for s in swaps
                if item.answerable
                and s.doc_id in item.doc_ids
                and normalize_answer(s.original) in {normalize_answer(a) for a in item.answers}
            ),
            None,
        )
        if hit is None:
            out.append(item)
            continue
        out.append(replace(item, answers=hit.new_answers))
        changed[item.id] = hit
    return out, changed
