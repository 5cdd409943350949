"""exact_match and token_f1 against the official SQuAD 2.0 evaluation logic on fuzzed pairs.

The reference below is written from the published definition of the official script
(evaluate-v2.0.py: normalize_answer, get_tokens, compute_exact, compute_f1, and the rule that
gold answers normalising to nothing are left out); it shares no code with harness.metrics.
"""

from __future__ import annotations

import collections
import random
import re
import string

import pytest

from harness.data.tasks import Item
from harness.metrics import METRICS, Prediction


def ref_normalize(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(re.compile(r"\b(a|an|the)\b", re.UNICODE), " ", s)
    return " ".join(s.split())


def ref_tokens(s: str) -> list[str]:
    return ref_normalize(s).split() if s else []


def ref_exact(gold: str, pred: str) -> int:
    return int(ref_normalize(gold) == ref_normalize(pred))


def ref_f1(gold: str, pred: str) -> float:
    g, p = ref_tokens(gold), ref_tokens(pred)
    same = sum((collections.Counter(g) & collections.Counter(p)).values())
    if not g or not p:
        return int(g == p)
    if same == 0:
        return 0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def ref_scores(golds: list[str], pred: str) -> tuple[float, float]:
    kept = [g for g in golds if ref_normalize(g)]
    return max(ref_exact(g, pred) for g in kept), max(ref_f1(g, pred) for g in kept)


WORDS = [
    "the",
    "a",
    "an",
    "The",
    "AN",
    "US",
    "U.S.",
    "e-mail",
    "email",
    "BM-12",
    "BM12",
    "$1,780",
    "1780",
    "policy",
    "Policy's",
    "deductible",
    "640",
    "an-",
    "the.",
    "théâtre",
    "naïve",
    "co-pay",
    "copay",
    "(a)",
    "A.",
    "—",
    "“quoted”",
    "it’s",
    "its",
    "x",
    "",
    "N/A",
    "na",
]
PUNCT = list(string.punctuation) + ["\u2019", "\u201c", "\u2013", "\u00a0"]
SPACES = [" ", "  ", "\t", "\n", ""]


def fuzz_text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 6)):
        roll = rng.random()
        if roll < 0.55:
            parts.append(rng.choice(WORDS))
        elif roll < 0.8:
            parts.append(rng.choice(PUNCT))
        else:
            parts.append(
                "".join(
                    rng.choice(string.ascii_letters + string.digits)
                    for _ in range(rng.randint(1, 4))
                )
            )
        parts.append(rng.choice(SPACES))
    return "".join(parts)


def test_fuzzed_pairs_agree_with_official_logic():
    rng = random.Random(20240518)
    checked = 0
    for n in range(5000):
        golds = [fuzz_text(rng) for _ in range(rng.randint(1, 3))]
        if not any(ref_normalize(g) for g in golds):
            continue  # an answerable item needs a gold that normalises to something
        pred = fuzz_text(rng)
        item = Item(id=str(n), question="q", answers=tuple(golds))
        p = Prediction(output=pred)
        em, f1 = ref_scores(golds, pred)
        assert METRICS["exact_match"](item, p).value == em, (golds, pred)
        assert METRICS["token_f1"](item, p).value == pytest.approx(f1), (golds, pred)
        checked += 1
    assert checked > 3000


@pytest.mark.parametrize(
    "gold,pred",
    [
        ("U.S.", "US"),
        ("BM-12", "BM12"),
        ("e-mail", "email"),
        ("$1,780", "1780"),
        ("The policy's limit", "policys limit"),
    ],
)
def test_punctuation_is_deleted_as_in_squad(gold, pred):
    item = Item(id="i", question="q", answers=(gold,))
    assert METRICS["exact_match"](item, Prediction(output=pred)).value == 1.0
    assert METRICS["token_f1"](item, Prediction(output=pred)).value == 1.0
    assert ref_exact(gold, pred) == 1


def ref_unanswerable_scores(pred: str) -> tuple[float, float]:
    """The official script on an unanswerable item: its gold answers are [""]."""
    return ref_exact("", pred), ref_f1("", pred)


@pytest.mark.parametrize("pred", ["!!!", "the", "The.", "a an the", " ... ", "(a)", "--"])
def test_an_unanswerable_item_scores_an_output_normalising_to_nothing_as_squad(pred):
    assert ref_normalize(pred) == ""
    item = Item(id="u", question="q", answers=(), answerable=False)
    p = Prediction(output=pred)  # not an abstention by pattern: the text itself is empty
    em, f1 = ref_unanswerable_scores(pred)
    assert (em, f1) == (1, 1)
    assert METRICS["exact_match"](item, p).value == em
    assert METRICS["token_f1"](item, p).value == f1


def test_fuzzed_outputs_on_unanswerable_items_agree_with_official_logic():
    rng = random.Random(20240519)
    empties = 0
    for n in range(2000):
        pred = fuzz_text(rng)
        item = Item(id=str(n), question="q", answers=(), answerable=False)
        p = Prediction(output=pred)
        em, f1 = ref_unanswerable_scores(pred)
        assert METRICS["exact_match"](item, p).value == em, pred
        assert METRICS["token_f1"](item, p).value == pytest.approx(f1), pred
        empties += not ref_normalize(pred)
    assert empties > 100  # the case this pins down is well represented
