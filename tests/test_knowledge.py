"""The knowledge drills (issue 25): counterfactual swaps, context-following against parametric
override, SliCK labels, and an update drill that recomputes only what it touched."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from harness.arms.rag import RagArm, RagParams
from harness.arms.trained import TrainedArm
from harness.data.tasks import Document, Item, load_task
from harness.engine.counterfactual import answer_kind, plan_swaps, swap_spans
from harness.engine.knowledge import (
    HIGHLY,
    MAYBE,
    UNKNOWN,
    WEAKLY,
    passage_outcome,
    slick_category,
)
from harness.engine.retrieval import Chunk, Hit
from harness.run.context import RunContext
from harness.run.knowledge import label_items
from harness.run.knowledge_drills import _rates, counterfactual_passages
from harness.run.runner import run_suite
from harness.run.suite import load_suite
from harness.spec.knowledge import KnownSpec

from .conftest import write_jsonl
from .fake_backend import USER, FakeBackend

DOCS = {
    "d1": "Hearthward Plus has a deductible of $640 per claim, and $6,400 is the cap.",
    "d2": "Pawsmith Lifetime has a waiting period of 19 days for illness.",
    "d3": "Roadwright calls are routed with code RX-4417 by the desk.",
    "d4": "Tenant Satchel has a deductible of $310 per claim.",
    "d5": "Brightwell has a grace period of 28 days.",
    "d6": "Hearthward claims use code LQ-3381.",
}
EVAL = [
    Item("q1", "What is the deductible for Hearthward Plus?", ("$640", "640"), doc_ids=("d1",)),
    Item("q2", "How long is the waiting period for Pawsmith?", ("19 days",), doc_ids=("d2",)),
    Item("q5", "What code routes calls about Roadwright?", ("RX-4417",), doc_ids=("d3",)),
]
TRAIN = [
    Item("t1", "Deductible of Tenant Satchel?", ("$310",), doc_ids=("d4",)),
    Item("t2", "Grace period of Brightwell?", ("28 days",), doc_ids=("d5",)),
    Item("t3", "Code for Hearthward claims?", ("LQ-3381",), doc_ids=("d6",)),
]
CORPUS = [Document(id=d, text=t) for d, t in DOCS.items()]


def test_a_swap_changes_only_the_span_and_keeps_its_kind():
    text = "Deductible: $640 per claim; excess $6,400 or $640.50. Waiting 19 days. $640!"
    new, count = swap_spans(text, "$640", "$310")
    assert count == 2  # "$6,400" and "$640.50" are other numbers, not the span
    assert new == "Deductible: $310 per claim; excess $6,400 or $640.50. Waiting 19 days. $310!"
    assert {answer_kind(s) for s in ("$640", "$1,250,000")} == {"amount"}
    assert answer_kind("19 days") == answer_kind("28 days") == "period:day"
    assert answer_kind("4 business days") != answer_kind("4 days")
    assert answer_kind("Form BM-50A") == answer_kind("RX-4417") == "code"
    assert answer_kind("Whitlow Desk") == "name" and answer_kind("2024-03-01") == "date"
    assert answer_kind("12%") == "percent" and answer_kind("1,250") == "number"

    swaps = plan_swaps(EVAL, EVAL + TRAIN, CORPUS, 3, seed=5)
    assert len(swaps) == 3 and swaps == plan_swaps(EVAL, EVAL + TRAIN, CORPUS, 3, seed=5)
    for s in swaps:
        assert answer_kind(s.original) == answer_kind(s.replacement) == s.kind
        doc = DOCS[s.doc_id]
        edited, n = swap_spans(doc, s.original, s.replacement)
        assert n == 1
        start = doc.index(s.original)  # every byte outside the span is unchanged
        assert edited[:start] == doc[:start]
        assert edited[start + len(s.replacement) :] == doc[start + len(s.original) :]
    assert {(s.original, s.replacement) for s in swaps} == {
        ("$640", "$310"),
        ("19 days", "28 days"),
        ("RX-4417", "LQ-3381"),
    }


class _Retriever:
    """Each question's gold chunk and the `$6,400` chunk of another document, as retrieved."""

    def __init__(self):
        self.chunks = [Chunk(f"{d}#0", d, 0, 0, "", t) for d, t in DOCS.items()]

    def search(self, queries, k):
        gold = {"Hearthward": "d1", "Pawsmith": "d2", "Roadwright": "d3"}
        out = []
        for q in queries:
            doc = next(d for word, d in gold.items() if word in q)
            hits = [
                Hit(f"{doc}#0", doc, "", DOCS[doc], 0.9, 1),
                Hit("d4#0", "d4", "", DOCS["d4"], 0.5, 2),
            ]
            out.append(hits[:k])
        return out, [0.0] * len(queries)


class _Copier(FakeBackend):
    """Answers with the first answer-like span of the first passage: it reads its passages."""

    def answer_for(self, prompt: str) -> str:
        turn = prompt.rsplit(USER, 1)[-1]
        first = turn.split("Passages:\n", 1)[1].splitlines()[0]
        return re.search(r"\$[\d,]+|\d+ days|[A-Z]{2}-\d+", first).group(0)


def _answer_counterfactuals(tiny_suite, backend, monkeypatch):
    from .fake_backend import install

    install(backend, monkeypatch)
    suite = load_suite(tiny_suite)
    ctx = RunContext(suite=suite, device="cpu", dtype="float32", progress=False)
    loaded = load_task(suite.tasks[0])  # the task spec with its style resolved
    task = replace(loaded, splits={"train": TRAIN, "eval": EVAL}, corpus=CORPUS)
    swaps = plan_swaps(EVAL, EVAL + TRAIN, CORPUS, 3, seed=5)
    by_item = {s.item_id: s for s in swaps}
    arm = RagArm(RagParams(k=2, shots=0), ctx, seed=1)
    arm.prepare(task)
    arm.retriever = _Retriever()
    arm.rewrite_passages = counterfactual_passages(arm, by_item, {d.id: d for d in CORPUS})
    preds = arm.predict(task, EVAL)
    for item, pred in zip(EVAL, preds):  # the passage shown holds the swap, not the original
        shown = pred.extra["passages"]
        assert by_item[item.id].replacement in shown[0]
        assert not any(swap_spans(p, by_item[item.id].original, "")[1] for p in shown)
    outcomes = {
        i.id: passage_outcome(p.output, p.abstained, by_item[i.id].new_answers, i.answers)
        for i, p in zip(EVAL, preds)
    }
    return _rates(outcomes, seed=1)


def test_an_arm_that_copies_the_passage_follows_it_every_time(tiny_suite, monkeypatch):
    rates = _answer_counterfactuals(tiny_suite, _Copier(), monkeypatch)
    assert rates["context"]["value"] == 1.0 and rates["context"]["n"] == 3
    assert rates["parametric"]["value"] == 0.0


def test_an_arm_that_ignores_passages_overrides_every_time(tiny_suite, monkeypatch):
    weights = FakeBackend({"Hearthward": "$640", "Pawsmith": "19 days", "Roadwright": "RX-4417"})
    rates = _answer_counterfactuals(tiny_suite, weights, monkeypatch)
    assert rates["parametric"]["value"] == 1.0 and rates["context"]["value"] == 0.0


def test_slick_categories_from_greedy_and_sampled_answers():
    assert slick_category([True, True], []) == HIGHLY
    assert slick_category([True, False], [False]) == MAYBE
    assert slick_category([False, False], [False, True]) == WEAKLY
    assert slick_category([False, False], [False, False]) == UNKNOWN
    assert passage_outcome("$310", False, ["$310"], ["$640"]) == "context"
    assert passage_outcome("$640 or $310", False, ["$310"], ["$640"]) == "other"
    assert passage_outcome("I don't know", True, ["$310"], ["$640"]) == "other"


class _Base(FakeBackend):
    """A base model with fixed closed-book answers: Hearthward always right, Pawsmith right
    under the first few-shot draw only, Molar right only when sampled, Roadwright never."""

    def __init__(self):
        super().__init__({"Hearthward": "$640", "Molar": "Form BM-99", "Roadwright": "RX-1"})
        self.draw = -1

    def generate(self, prompts, max_new_tokens, stop):
        self.draw += 1
        self.answers["Pawsmith"] = "19 days" if self.draw == 0 else "9 days"
        return super().generate(prompts, max_new_tokens, stop)

    def sample(self, prompts, max_new_tokens, stop, temperature, seed):
        sampled = FakeBackend({"Molar": "Form BM-12", "Pawsmith": "2 days", "Roadwright": "RX-2"})
        return sampled.generate(prompts, max_new_tokens, stop)


def test_slick_labels_of_a_fake_base_and_their_cache(tiny_suite, monkeypatch):
    from .fake_backend import install

    base = _Base()
    install(base, monkeypatch)
    suite = load_suite(tiny_suite)
    ctx = RunContext(suite=suite, device="cpu", dtype="float32", progress=False)
    task = load_task(suite.tasks[0])
    spec = KnownSpec(draws=3, shots=1, samples=2, temperature=0.5)
    got = label_items(ctx, task, task.eval, spec, "fp")
    cats = {i: lab["category"] for i, lab in got["labels"].items()}
    assert cats == {"q1": HIGHLY, "q2": MAYBE, "q3": WEAKLY, "q5": UNKNOWN}
    assert got["labelled_items"] == 4 and base.calls["generate"] == 3  # one per draw
    again = label_items(ctx, task, task.eval, spec, "fp")  # cached per model and item content
    assert again["labels"] == got["labels"] and again["labelled_items"] == 0
    assert base.calls["generate"] == 3


def _update_suite(tmp_path, tiny_model_dir, edits: int):
    data = tmp_path / "data"
    rows = [
        {"id": i.id, "question": i.question, "answers": list(i.answers), "doc_id": i.doc_ids[0]}
        for i in EVAL
    ]
    write_jsonl(data / "eval.jsonl", rows)
    write_jsonl(
        data / "train.jsonl",
        [{"id": i.id, "question": i.question, "answers": list(i.answers), "doc_id": i.doc_ids[0]}
         for i in TRAIN] + [dict(r, id="t" + r["id"]) for r in rows],
    )  # fmt: skip
    write_jsonl(data / "corpus.jsonl", [{"id": d, "text": t} for d, t in DOCS.items()])
    path = tmp_path / "suite.yaml"
    path.write_text(
        f"""
name: upd
seed: 7
model: {{name: {tiny_model_dir}, batch_size: 4}}
tasks:
  - name: qa
    data: {{train: data/train.jsonl, eval: data/eval.jsonl}}
    corpus: {{path: data/corpus.jsonl}}
    instruction: Answer briefly.
    template: "Question: {{question}}"
    generation: {{max_new_tokens: 4}}
arms:
  - arm: base
  - arm: rag
    params: {{k: 1, shots: 0}}
  - arm: lora
    params: {{epochs: 1, max_train_items: 4, rows_per_step: 2, r: 4}}
knowledge:
  known: {{draws: 2, shots: 1, samples: 1}}
  update: {{counterfactual: {edits}, unchanged: 3}}
""",
        encoding="utf-8",
    )
    return load_suite(path)


def test_update_drill_recomputes_only_what_it_touched_and_reports_a_stale_lora(
    tmp_path, tiny_model_dir, monkeypatch
):
    # The LoRA answers with what it was trained on: the golds before the update.
    memorised = FakeBackend({"Hearthward": "$640", "Pawsmith": "19 days", "Roadwright": "RX-4417"})
    monkeypatch.setattr(TrainedArm, "generator", lambda self: memorised)
    first = _knowledge(run_suite(_update_suite(tmp_path, tiny_model_dir, 1), tmp_path / "r1",
                                 progress=False))  # fmt: skip
    assert first["known"]["labelled_items"] == 3
    assert set(first["known"]["arms"]) == {"base", "rag", "lora"}
    stale = first["update"]["arms"]["lora"]
    assert stale["mode"] == "stale" and not stale["reused"]
    assert stale["stale_answer_rate"]["value"] == 1.0 and stale["stale_answer_rate"]["n"] == 1
    assert stale["changed_accuracy"]["value"] == 0.0
    assert stale["unchanged_accuracy"]["value"] == 1.0 and stale["unchanged_accuracy"]["n"] == 2
    # Same weights, same prompts: the cells' answers are taken, not generated again. rag
    # generates only where the update changed its passage (the changed item's edited document).
    drill = first["update"]["arms"]
    assert stale["reused_answers"] == 3 and drill["base"]["reused_answers"] == 3
    assert drill["rag"]["reused_answers"] == 2
    assert drill["rag"]["outputs"] != {}  # the changed item was answered from the new passage

    # Another update: the cells and the SliCK labels are reused, only the drill is recomputed.
    second = _knowledge(run_suite(_update_suite(tmp_path, tiny_model_dir, 2), tmp_path / "r2",
                                  progress=False))  # fmt: skip
    records = json.loads((tmp_path / "r2" / "results.json").read_text())["runs"]
    assert all(r["cached"] for r in records)
    assert second["known"]["labelled_items"] == 0 and second["known"]["reused_items"] == 3
    assert second["update"]["changed_items"] == 2
    assert not any(a["reused"] for a in second["update"]["arms"].values())
    html = (tmp_path / "r2" / "report.html").read_text()
    assert "Knowledge-update drill" in html and "Known and unknown items" in html
    report = (tmp_path / "r2" / "report.md").read_text()
    assert "### Knowledge-update drill" in report and "### Known and unknown items" in report
    # In words: the stale fine-tune, and what the known-item counts allow one to conclude.
    assert "`lora` keeps its trained weights: it still gives the old answer on" in report
    assert "Read: the base model knew" in report


def _knowledge(result) -> dict:
    payload = json.loads((result.out_dir / "results.json").read_text())
    return payload["knowledge"]["qa"]


@pytest.mark.parametrize("bad", ["{counterfactual: 2, documents: d.jsonl}", "{items: i.jsonl}"])
def test_an_update_block_needs_one_source(tmp_path, bad):
    from harness.spec.config import SpecError

    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\ntasks:\n  - name: t\n    data: {eval: e.jsonl}\narms: [base]\n"
        f"knowledge:\n  update: {bad}\n"
    )
    with pytest.raises(SpecError, match="update"):
        load_suite(path)


def test_counterfactual_pairs_against_rag_or_its_first_prompt_variant():
    from types import SimpleNamespace as NS

    from harness.run.knowledge_drills import _reference

    def cell(label, kind="rag", model=None):
        return NS(arm=NS(label=label, arm=kind, model=model))

    variants = [cell("lora+rag", "lora"), cell("rag~plain"), cell("rag~direct")]
    assert _reference(variants, {c.arm.label: {} for c in variants}) == "rag~plain"
    plain = [cell("rag~plain"), cell("rag")]
    assert _reference(plain, {"rag~plain": {}, "rag": {}}) == "rag"
    other_model = [cell("rag-7b", model="m"), cell("oracle_context", "oracle_context")]
    assert _reference(other_model, {"rag-7b": {}, "oracle_context": {}}) is None


def test_an_update_block_without_edits_or_files_makes_the_default_edits(tmp_path):
    # `--set knowledge.update.retrain=true` alone: the default update, retrained.
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ntasks:\n  - name: t\n    data: {eval: e.jsonl}\narms: [base]\n")
    suite = load_suite(path, ["knowledge.update.retrain=true"])
    assert suite.knowledge.update.counterfactual == 10 and suite.knowledge.update.retrain


def test_the_decision_quotes_a_stale_fine_tune_and_usage_makes_the_tie_break_measured():
    from harness.reports.knowledge_notes import annotate, tie_break_spec
    from harness.reports.verdict import Verdict
    from harness.spec.config import DecisionSpec
    from harness.spec.record import Results

    rate = {"value": 0.8, "ci_low": 0.5, "ci_high": 0.95, "n": 10}
    stale = {"mode": "stale", "stale_answer_rate": rate, "changed_accuracy": rate}
    payload = {
        "suite": "s",
        "environment": {},
        "tasks": {},
        "suite_spec": {"usage": {"knowledge_updates_per_month": 4}},
        "knowledge": {"qa": {"update": {"arms": {"lora": stale}}}},
        "runs": [{"task": "qa", "arm": "lora", "kind": "lora", "family": "lora"}],
    }
    results = Results.model_validate(payload)
    spec, measured = tie_break_spec(results, DecisionSpec(knowledge_changes_often=False))
    assert spec.knowledge_changes_often and measured
    fresh = dict(stale, stale_answer_rate={"value": 0.0, "ci_low": 0.0, "ci_high": 0.3, "n": 10})
    payload_fresh = payload | {"knowledge": {"qa": {"update": {"arms": {"lora": fresh}}}}}
    spec, measured = tie_break_spec(
        Results.model_validate(payload_fresh), DecisionSpec(knowledge_changes_often=True)
    )
    assert not spec.knowledge_changes_often and measured
    unstated = payload | {"suite_spec": {}}  # no updates per month: the yes/no setting stays
    stated = DecisionSpec(knowledge_changes_often=True)
    assert tie_break_spec(Results.model_validate(unstated), stated) == (stated, False)
    verdict = annotate(results, "qa", Verdict(task="qa", recommended="lora"))
    assert any("goes stale" in r and "0.80 [0.50, 0.95] of 10" in r for r in verdict.reasons)
    assert any("re-indexes" in w for w in verdict.would_change)
