from __future__ import annotations

import pytest

from harness.arms.prompting import is_abstention
from harness.data.tasks import Item
from harness.metrics import METRICS, Prediction
from harness.metrics.base import normalize_answer
from harness.spec.config import DEFAULT_ABSTAIN_PATTERNS

ANSWERABLE = Item(id="a", question="q", answers=("$640", "640 dollars"))
UNANSWERABLE = Item(id="u", question="q", answers=(), answerable=False)


def score(metric, item, output, abstained=False):
    return METRICS[metric](item, Prediction(output=output, abstained=abstained))


def test_normalize():
    assert normalize_answer("The  $640, please!") == "640 please"
    # SQuAD deletes punctuation (no space in its place)
    assert normalize_answer("Form BM-50A") == "form bm50a"
    assert normalize_answer("U.S.") == normalize_answer("US") == "us"


def test_exact_match_and_f1_hand_computed():
    assert score("exact_match", ANSWERABLE, "640").value == 1.0
    assert score("exact_match", ANSWERABLE, "the deductible is $640").value == 0.0
    # pred tokens: deductible is 640 (3), gold "640" (1): P=1/3, R=1, F1=0.5
    assert score("token_f1", ANSWERABLE, "The deductible is $640").value == pytest.approx(0.5)
    # against "640 dollars": common 1, P=1/3, R=1/2 -> F1=0.4; the best alias gives 0.5
    assert score("token_f1", ANSWERABLE, "deductible is 640").value == pytest.approx(0.5)
    assert score("token_f1", ANSWERABLE, "nothing useful").value == 0.0


def test_unanswerable_convention():
    assert score("exact_match", UNANSWERABLE, "I don't know", abstained=True).value == 1.0
    assert score("exact_match", UNANSWERABLE, "$500").value == 0.0
    assert score("token_f1", UNANSWERABLE, "$500").value == 0.0
    assert score("exact_match", ANSWERABLE, "I don't know", abstained=True).value == 0.0


def test_hallucination_rates():
    assert score("false_answer_rate", ANSWERABLE, "$500").value == 1.0
    assert (
        score("false_answer_rate", ANSWERABLE, "It is $640 per claim.").value == 0.0
    )  # contains gold
    assert score("false_answer_rate", ANSWERABLE, "I don't know", abstained=True).value == 0.0
    assert score("false_answer_rate", UNANSWERABLE, "$500") is None
    assert score("unanswerable_answered", UNANSWERABLE, "$500").value == 1.0
    assert score("unanswerable_answered", UNANSWERABLE, "I don't know", abstained=True).value == 0.0
    assert score("unanswerable_answered", ANSWERABLE, "$500") is None
    assert score("abstention_rate", ANSWERABLE, "", abstained=True).value == 1.0
    # a gold alias inside a longer number is not a match
    assert score("false_answer_rate", ANSWERABLE, "$6,400").value == 1.0


def test_choice_accuracy_and_reasons():
    item = Item(id="c", question="q", choices=("a", "b", "c"), label=2, answers=("c",))
    s = METRICS["choice_accuracy"](item, Prediction(output="c", choice=2))
    assert s.value == 1.0 and "gold 2" in s.reason
    assert METRICS["choice_accuracy"](item, Prediction(output="a", choice=0)).value == 0.0
    assert METRICS["exact_match"](item, Prediction(output="c", choice=2)) is None
    assert METRICS["choice_accuracy"](ANSWERABLE, Prediction(output="x")) is None


@pytest.mark.parametrize(
    "text,expected",
    [
        ("I don't know.", True),
        ("I do not know the answer", True),
        ("", True),
        ("The handbook has no information on that.", True),
        ("$640", False),
        ("Know your policy: $640", False),
    ],
)
def test_abstention_patterns(text, expected):
    assert is_abstention(text, DEFAULT_ABSTAIN_PATTERNS) is expected


def test_retrieval_metrics_hand_computed():
    item = Item(id="a", question="q", answers=("$640",), doc_ids=("hearth",))
    retrieved = [
        {"doc_id": "paw"},
        {"doc_id": "paw"},
        {"doc_id": "hearth"},
    ]  # duplicates count once
    pred = Prediction(
        output="$640", extra={"retrieved": retrieved, "passages": ["The deductible is $640."]}
    )
    assert METRICS["recall@k"](item, pred).value == 1.0
    assert METRICS["mrr"](item, pred).value == pytest.approx(0.5)  # second distinct document
    miss = Prediction(output="x", extra={"retrieved": [{"doc_id": "paw"}], "passages": ["p"]})
    assert METRICS["recall@k"](item, miss).value == 0.0 and METRICS["mrr"](item, miss).value == 0.0
    assert METRICS["recall@k"](item, Prediction(output="$640")) is None  # no retrieval
    assert METRICS["recall@k"](UNANSWERABLE, pred) is None


def test_unsupported_by_context_hand_computed():
    passages = ["Hearthward Plus has a deductible of $640 per claim."]
    ok = Prediction(output="The deductible is $640.", extra={"retrieved": [], "passages": passages})
    bad = Prediction(output="$750 per claim", extra={"retrieved": [], "passages": passages})
    assert METRICS["unsupported_by_context"](ANSWERABLE, ok).value == 0.0
    s = METRICS["unsupported_by_context"](ANSWERABLE, bad)
    assert s.value == 1.0 and "750" in s.reason
    abstained = Prediction(
        output="I don't know", abstained=True, extra={"retrieved": [], "passages": passages}
    )
    assert METRICS["unsupported_by_context"](UNANSWERABLE, abstained) is None
    assert METRICS["unsupported_by_context"](ANSWERABLE, Prediction(output="$640")) is None


def test_words_repeated_from_the_question_are_not_unsupported():
    item = Item(id="h", question="What is the deductible for Hearthward Plus?", answers=("$640",))
    pred = Prediction(
        output="The Hearthward Plus deductible is $640.",
        extra={"retrieved": [], "passages": ["A deductible of $640 applies."]},
    )
    assert METRICS["unsupported_by_context"](item, pred).value == 0.0


def test_structured_fields_hand_computed():
    from harness.metrics import get_metric
    from harness.metrics.fields import macro_f1, parse_fields

    item = Item(
        id="c",
        question="q",
        answers=("x",),
        labels=(("line", "motor"), ("severity", "minor"), ("route", "adjuster")),
    )
    good = Prediction(output="line: Motor; severity: minor; route: adjuster.")
    half = Prediction(output="line: motor; severity: major; route: adjuster")
    broken = Prediction(output="It is a motor claim")
    assert parse_fields(good.output, ["line", "route"]) == {"line": "motor", "route": "adjuster"}
    assert METRICS["fields_exact"](item, good).value == 1.0
    s = METRICS["fields_exact"](item, half)
    assert s.value == 0.0 and "severity" in s.reason
    assert METRICS["parse_failure_rate"](item, broken).value == 1.0
    assert METRICS["parse_failure_rate"](item, half).value == 0.0
    assert get_metric("field_accuracy:severity")(item, half).value == 0.0
    assert get_metric("field_accuracy:line")(item, half).value == 1.0
    assert METRICS["fields_exact"](ANSWERABLE, good) is None  # no labels: does not apply
    # Macro-F1 by hand: classes a, b. pred [a, a, b, x] vs gold [a, b, b, b]:
    # a: tp 1, fp 1, fn 0 -> 2/3; b: tp 1, fp 0, fn 2 -> 2/4 = 0.5; mean 0.58333
    import numpy as np

    gold, pred = np.array(["a", "b", "b", "b"]), np.array(["a", "a", "b", "x"])
    assert macro_f1(gold, pred, np.unique(gold)) == pytest.approx((2 / 3 + 0.5) / 2)
