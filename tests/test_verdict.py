"""Verdicts that hold on material unlike ours: defaults from the task, long-answer metrics,
reference rows, and a decision tested against prompt wording."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.arms.prompting import fit_to_budget, user_turn, wording_for
from harness.common.stats import summarize
from harness.data.tasks import Item, TaskData, load_task
from harness.engine.retrieval import Hit, RetrievalParams
from harness.metrics import METRICS, annotate_similarity, default_metrics
from harness.metrics.base import Prediction
from harness.reports.decision import bottleneck, decide
from harness.run.runner import _select_arms
from harness.run.suite import load_suite
from harness.spec.config import ArmSpec, DataSpec, PromptVariant, SuiteSpec, TaskSpec
from harness.spec.record import Results, RunRecord
from harness.spec.style import default_max_new_tokens, infer_style, resolve_task_spec

from .conftest import QA_ROWS, write_jsonl

PARAGRAPH = (
    "Members claim online or by phone within thirty days of the loss, send the receipts and "
    "photos the claims team asks for, and receive a decision within ten working days; payments "
    "reach the account on file after the deductible is taken off."
)


def _task(**kw) -> TaskSpec:
    return TaskSpec(**({"name": "t", "data": DataSpec(eval="x.jsonl")} | kw))


# ------------------------------------------------------------------ answer style


def test_style_is_inferred_from_gold_answer_lengths():
    assert infer_style(_task(), ["$640", "19 days", "Form BM-12"])[0] == "short"
    assert infer_style(_task(), [PARAGRAPH, PARAGRAPH[:150]])[0] == "long"
    labels = ["motor", "home", "travel"] * 10
    assert infer_style(_task(), labels)[0] == "label"
    assert infer_style(_task(output_fields=["line"]), ["line: motor"])[0] == "structured"
    assert infer_style(_task(scoring="choice"), [])[0] == "label"


def test_resolved_defaults_follow_the_style_and_never_override_the_suite():
    short, report = resolve_task_spec(_task(), ["$640", "19 days"], has_unanswerable=True)
    assert short.answer_style == "short" and report.inferred
    assert short.generation.stop == ["\n"] and short.generation.max_new_tokens == 16
    assert "short answer" in short.style_instruction
    long, _ = resolve_task_spec(_task(), [PARAGRAPH] * 3, has_unanswerable=False)
    assert long.answer_style == "long" and long.generation.stop == []
    assert long.style_instruction == ""  # no answer-form clause for paragraphs
    assert long.generation.max_new_tokens >= 1.3 * len(PARAGRAPH.split())
    assert long.max_prompt_tokens > short.max_prompt_tokens
    fixed = _task(
        answer_style="short",
        style_instruction="",
        max_prompt_tokens=300,
        generation={"max_new_tokens": 7, "stop": ["."]},
    )
    kept, report = resolve_task_spec(fixed, [PARAGRAPH] * 3, has_unanswerable=False)
    assert (kept.answer_style, kept.style_instruction, kept.max_prompt_tokens) == ("short", "", 300)
    assert (kept.generation.max_new_tokens, kept.generation.stop) == (7, ["."])
    assert not report.inferred


def test_max_new_tokens_stays_within_the_style_bounds():
    assert default_max_new_tokens("short", ["word " * 200]) == 64
    assert default_max_new_tokens("long", ["word " * 2000]) == 512
    assert default_max_new_tokens("long", []) == 64


def _loaded(tmp_path: Path, rows: list[dict]) -> TaskData:
    write_jsonl(tmp_path / "eval.jsonl", rows)
    return load_task(_task(data=DataSpec(eval=str(tmp_path / "eval.jsonl"))))


def test_grounding_is_neutral_and_offers_abstaining_only_where_it_can_be_right(tmp_path):
    long_rows = [
        {"id": f"l{i}", "question": f"How do I claim {i}?", "answers": [PARAGRAPH]}
        for i in range(4)
    ]
    task = _loaded(tmp_path / "a", long_rows)
    w = wording_for(task, retrieval=RetrievalParams())
    assert w.grounding == "Use the passages above to answer."
    hits = [Hit("d#0", "d", "Claims", "Claim within 30 days.", 0.9, 1)]
    turn = user_turn(task.spec, w, task.eval[0], passages=hits, retrieval=RetrievalParams())
    assert "short" not in turn.lower() and "don't know" not in turn
    with_unanswerable = _loaded(tmp_path / "b", QA_ROWS)
    w = wording_for(with_unanswerable, retrieval=RetrievalParams())
    assert "I don't know." in w.grounding
    v = PromptVariant(name="v", instruction="Reply to the member.", grounding="Read the above.")
    w = wording_for(with_unanswerable, v, RetrievalParams())
    assert w.grounding == "Read the above." and w.instruction.startswith("Reply to the member.")


class WordBackend:
    """Counts a word as a token; renders a conversation as its contents."""

    def format_chat(self, messages):
        return "\n".join(m["content"] for m in messages)

    def count_tokens(self, prompt: str) -> int:
        return len(prompt.split())


def test_the_budget_drops_far_shots_first_then_low_ranked_passages():
    task = _task(template="Q: {question}", max_prompt_tokens=64)
    w = wording_for(TaskData(spec=task, splits={"eval": []}), retrieval=RetrievalParams())
    item = Item(id="q", question="one two three")
    shots = [Item(id=f"s{i}", question="shot words here " * 3, answers=("ans",)) for i in range(3)]
    hits = [Hit(f"d#{i}", "d", "", "passage text " * 12, 1.0, i + 1) for i in range(3)]
    fit = fit_to_budget(WordBackend(), task, w, item, shots, hits, RetrievalParams())
    assert fit.prompt_tokens <= 64
    assert fit.dropped_shots == 3 and fit.dropped_passages >= 1
    assert fit.passages[0].rank == 1  # the best passage stays
    roomy = task.model_copy(update={"max_prompt_tokens": 10_000})
    fit = fit_to_budget(WordBackend(), roomy, w, item, shots, hits, RetrievalParams())
    assert (fit.dropped_shots, fit.dropped_passages, len(fit.shots)) == (0, 0, 3)


# ------------------------------------------------------------------ long-answer metrics


def test_long_answer_metrics_are_graded_and_follow_squad_on_unanswerable_items():
    item = Item(id="q", question="How do I claim?", answers=(PARAGRAPH,))
    rouge = METRICS["rouge_l"]
    assert rouge(item, Prediction(output=PARAGRAPH)).value == pytest.approx(1.0)
    half = rouge(item, Prediction(output=PARAGRAPH[: len(PARAGRAPH) // 2])).value
    assert 0.3 < half < 0.9
    assert rouge(item, Prediction(output="bananas are yellow")).value == 0.0
    assert rouge(item, Prediction(output="I don't know", abstained=True)).value == 0.0
    none = Item(id="u", question="?", answerable=False)
    assert rouge(none, Prediction(output="I don't know", abstained=True)).value == 1.0
    assert "unanswerable_answered" in default_metrics("generate", None, "long")
    assert "exact_match" not in default_metrics("generate", None, "long")
    assert "rouge_l" in default_metrics("generate", None, "long")


class BagEmbedder:
    """Bag-of-letters vectors, L2-normalised: similar texts have similar vectors."""

    def encode(self, texts):
        out = np.zeros((len(texts), 26), dtype=np.float32)
        for i, t in enumerate(texts):
            for ch in t.lower():
                if "a" <= ch <= "z":
                    out[i, ord(ch) - 97] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_answer_similarity_is_the_best_cosine_over_aliases():
    items = [
        Item(id="a", question="?", answers=("zzz", PARAGRAPH)),
        Item(id="b", question="?", answers=(PARAGRAPH,)),
    ]
    preds = [Prediction(output=PARAGRAPH), Prediction(output="qqq xxx")]
    annotate_similarity(items, preds, BagEmbedder())
    sim = METRICS["answer_similarity"]
    assert sim(items[0], preds[0]).value == pytest.approx(1.0, abs=1e-5)
    assert sim(items[1], preds[1]).value < 0.3


def test_unsupported_share_is_graded_where_the_flag_is_all_or_nothing():
    item = Item(id="q", question="How do I claim?", answers=(PARAGRAPH,))
    pred = Prediction(
        output="Claim within thirty days using the online form and purple elephants.",
        extra={
            "retrieved": [{"doc_id": "d"}],
            "passages": ["Claim within thirty days online form."],
        },
    )
    share = METRICS["unsupported_share"](item, pred)
    flag = METRICS["unsupported_by_context"](item, pred)
    assert flag.value == 1.0
    assert 0 < share.value < 0.5  # 'purple', 'elephants', 'using' of the content words


# ------------------------------------------------------------------ prompt variants


def test_suite_prompt_variants_make_cells_for_prompting_arms_only(tmp_path, tiny_suite):
    raw = tiny_suite.read_text()
    raw += "  - arm: lora\n    params: {epochs: 1}\nprompt_variants:\n  - {name: a}\n  - {name: b, instruction: Reply.}\n"
    tiny_suite.write_text(raw)
    suite = load_suite(tiny_suite)
    cells = _select_arms(suite, None)
    labels = [c.label for c in cells]
    assert labels == ["base~a", "base~b", "few_shot~a", "few_shot~b", "lora"]
    assert {c.family for c in cells} == {"base", "few_shot", "lora"}
    seeded = ArmSpec(arm="lora", seeds=[1, 2], prompt_variants=[{"name": "x"}, {"name": "y"}])
    assert [c.label for c in seeded.cells()] == [
        "lora~x@seed1",
        "lora~x@seed2",
        "lora~y@seed1",
        "lora~y@seed2",
    ]


def test_repeated_variant_names_are_rejected():
    with pytest.raises(ValueError, match="repeat"):
        SuiteSpec(
            name="s",
            tasks=[_task()],
            arms=[{"arm": "base"}],
            prompt_variants=[{"name": "a"}, {"name": "a"}],
        )


def _variant_run(folder: Path, cells: dict[tuple[str, str | None], list[float]]) -> dict:
    runs = []
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    for (family, variant), scores in cells.items():
        arm = f"{family}~{variant}" if variant else family
        rows = [
            {"id": f"q{i}", "scores": {"token_f1": {"value": v, "reason": ""}}}
            for i, v in enumerate(scores)
        ]
        (folder / "samples" / f"t__{arm}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows)
        )
        runs.append(
            {
                "task": "t",
                "arm": arm,
                "kind": family,
                "family": family,
                "variant": variant,
                "status": "ok",
                "metrics": {"token_f1": summarize(scores) | {"higher_is_better": True}},
                "efficiency": {"latency_p95_s": 1.0},
                "samples": f"samples/t__{arm}.jsonl",
            }
        )
    return {
        "suite": "s",
        "environment": {"seed": 1},
        "metric_definitions": {"token_f1": {"higher_is_better": True}},
        "suite_spec": {"decision": {"metric": "token_f1"}},
        "tasks": {"t": {}},
        "runs": runs,
    }


HIGH = [0.9] * 50 + [0.1] * 10
LOW = [0.1] * 50 + [0.9] * 10


def test_the_decision_says_when_the_verdict_depends_on_wording(tmp_path):
    payload = _variant_run(
        tmp_path,
        {("base", "a"): HIGH, ("rag", "a"): LOW, ("base", "b"): LOW, ("rag", "b"): HIGH},
    )
    (d,) = decide(Results.model_validate(payload), tmp_path)
    assert d.recommended is None and d.robust_to_wording is False
    assert "depends on wording" in d.reasons[0]
    assert d.per_wording == {"a": "base", "b": "rag"}


def test_a_verdict_that_holds_for_every_wording_names_the_arm(tmp_path):
    payload = _variant_run(
        tmp_path,
        {
            ("base", "a"): LOW,
            ("rag", "a"): HIGH,
            ("base", "b"): LOW,
            ("rag", "b"): HIGH,
            ("lora", None): LOW,
        },
    )
    (d,) = decide(Results.model_validate(payload), tmp_path)
    assert d.recommended == "rag" and d.robust_to_wording is True
    assert "every prompt wording" in d.reasons[0]


def test_bottleneck_separates_retrieval_from_reading():
    def run(kind, f1, recall=None):
        metrics = {"token_f1": {"value": f1}}
        if recall is not None:
            metrics["recall@k"] = {"value": recall}
        return RunRecord.model_validate(
            {"task": "t", "kind": kind, "arm": kind, "metrics": metrics}
        )

    payload = Results.model_validate(
        {
            "suite": "s",
            "environment": {},
            "tasks": {"t": {"ceiling": {"metrics": {"token_f1": {"value": 0.9}}}}},
            "runs": [],
        }
    )
    runs = [run("rag", 0.2, 0.5), run("oracle_context", 0.6)]
    b = bottleneck(payload, "t", runs, "token_f1")
    assert b.where == "retrieval" and b.retrieval_loss == pytest.approx(0.4)
    assert "recall@k 0.50" in b.text
    runs = [run("rag", 0.2, 0.95), run("oracle_context", 0.25)]
    assert bottleneck(payload, "t", runs, "token_f1").where == "reading"
    assert bottleneck(payload, "t", runs[:1], "token_f1") is None


def test_the_verdict_reads_weight_changes_from_the_record_not_the_kind(tmp_path):
    payload = _variant_run(tmp_path, {("base", None): LOW, ("my_adapter", None): HIGH})
    hint = "knowledge_changes_often"
    (d,) = decide(Results.model_validate(payload), tmp_path)
    assert not any(hint in c for c in d.would_change)  # unknown kind, no flag: not retrained
    payload["runs"][1]["changes_weights"] = True
    (d,) = decide(Results.model_validate(payload), tmp_path)
    assert d.recommended == "my_adapter" and any(hint in c for c in d.would_change)
