"""Model judges and the grounding checker: judged metrics are scores of stored predictions (a
new rubric re-judges and generates nothing), repeats report their agreement, the judge's cost
is recorded apart, and a grounding checkpoint is checked before it loads."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.data.tasks import load_task
from harness.engine.judges import Judge, judge_correctness, judge_groundedness, load_rubric
from harness.metrics.claims import split_claims
from harness.metrics.retrieval import content_tokens
from harness.models.backend import Generation
from harness.run import evaluate, judging
from harness.run.suite import load_suite
from harness.spec import judge as judge_spec

from .conftest import write_jsonl
from .test_retrieval import DOCS


class FakeJudge:
    """A judge that reads its prompt: CORRECT when the gold answer is in the answer; a claim is
    SUPPORTED when its content words are in the passages, CONTRADICTED when it has a word with a
    digit the passages lack. With `flaky`, the verdict on a claim holding that word flips with
    the order of the examples (what the repeats change)."""

    name = "fake-judge"

    def __init__(self, flaky: str | None = None):
        self.flaky = flaky
        self.prompts: list[str] = []

    def format_chat(self, messages):
        return messages[-1]["content"]

    def count_tokens(self, prompt):
        return len(prompt.split())

    def verdict(self, prompt: str) -> str:
        tail = prompt.rsplit("\n\n", 1)[-1]
        if "Gold answer(s):" in tail:
            gold = re.search(r"Gold answer\(s\): (.*)", tail).group(1).split(" | ")
            answer = re.search(r"\nAnswer: (.*)", tail).group(1).lower()
            return "CORRECT" if any(g.lower() in answer for g in gold) else "INCORRECT"
        passages = tail.split("Claim:")[0].lower()
        claim = re.search(r"Claim: (.*)", tail).group(1)
        if self.flaky and self.flaky in claim:
            first_shot = prompt.split("Claim: ", 1)[1]
            return "SUPPORTED" if first_shot.startswith("The Basic") else "NOT_FOUND"
        words = content_tokens(claim)
        if all(w in passages for w in words):
            return "SUPPORTED"
        if any(any(c.isdigit() for c in w) and w not in passages for w in words):
            return "CONTRADICTED"
        return "NOT_FOUND"

    def generate(self, prompts, max_new_tokens, stop):
        self.prompts.extend(prompts)
        return [Generation(self.verdict(p), len(p.split()), 2, 0.001, "eos") for p in prompts]

    def loglikelihood(self, pairs):
        raise AssertionError("a judge never asks for log-likelihoods")


@pytest.fixture
def fake_judge(monkeypatch):
    judge = FakeJudge()
    monkeypatch.setattr(judging, "judge_backend", lambda ctx, spec: judge)
    return judge


def test_claims_are_sentences_with_a_content_word():
    text = "The deductible is $1,250.50 per claim. See e.g. the handbook!\n- Form BM-12 starts it.\nYes."
    assert split_claims(text) == [
        "The deductible is $1,250.50 per claim.",
        "See e.g. the handbook!",
        "Form BM-12 starts it.",
    ]
    assert split_claims("I. M. Pei designed it. It is tall.") == [
        "I. M. Pei designed it.",
        "It is tall.",
    ]


def test_groundedness_counts_supported_and_contradicted_apart():
    judge = Judge(FakeJudge(), load_rubric("v1"), repeats=1)
    passages = "The deductible is $640 per claim. Form BM-12 starts a claim."
    out, agreement = judge_groundedness(
        judge,
        [passages],
        ["The deductible is $640 per claim. The deductible is $999. Pets are covered worldwide."],
    )
    v = out[0]
    assert v["claims"] == 3
    assert v["supported"] == pytest.approx(1 / 3) and v["contradicted"] == pytest.approx(1 / 3)
    assert agreement["fleiss_kappa"] is None  # one repeat: nothing to agree with
    assert judge.usage.prompts == 3 and judge.usage.unparsed == 0


def test_repeats_change_the_example_order_and_report_their_agreement():
    backend = FakeJudge(flaky="Flood")
    judge = Judge(backend, load_rubric("v1"), repeats=4, seed=3)
    orders = {judge.examples("groundedness", r) for r in range(4)}
    assert len(orders) > 1  # repeats show the examples in different orders
    answers = ["The deductible is $640.", "Flood is covered.", "The deductible is $999."]
    out, agreement = judge_groundedness(judge, ["The deductible is $640."] * 3, answers)
    flood = out[1]["verdicts"][0]
    assert len(flood) == 4 and len(set(flood)) == 2  # the flaky claim splits the repeats
    assert agreement["repeats"] == 4 and agreement["subjects"] == 3
    assert agreement["unanimous"] == pytest.approx(2 / 3)
    assert agreement["spread_max"] == 1.0 and 0 < agreement["spread_mean"] < 1
    assert agreement["fleiss_kappa"] is not None and agreement["fleiss_kappa"] < 1
    assert judge.usage.prompts == 12


def test_unparsable_verdicts_are_counted_and_negative():
    class Mumbler(FakeJudge):
        def verdict(self, prompt):
            return "hmm, hard to say"

    judge = Judge(Mumbler(), load_rubric("v1"), repeats=2)
    out, _ = judge_correctness(judge, ["q?"], [["$640"]], ["$640"])
    assert out[0]["value"] == 0.0 and judge.usage.unparsed == 2


def _judged_suite(tiny_suite: Path, tmp_path: Path, rubric: str = "v1", repeats: int = 2) -> Path:
    write_jsonl(
        tmp_path / "data" / "handbook.jsonl",
        [{"id": d.id, "title": d.title, "text": d.text} for d in DOCS],
    )
    text = tiny_suite.read_text()
    text = text.replace(
        "    instruction:",
        "    corpus: {path: data/handbook.jsonl}\n"
        "    metrics: [exact_match, answer_correctness, groundedness, contradicted_share,"
        " grounding_score, unsupported_share]\n    instruction:",
    )
    text = text.replace(
        "  - arm: few_shot\n    params: {k: 2}\n", "  - arm: rag\n    params: {k: 1}\n"
    )
    text += f"judge: {{model: judge-model, rubric: {rubric}, repeats: {repeats}}}\n"
    text += f"grounding_model: {build_grounding_model(tmp_path / 'nli')}\n"
    text += "decision: {metric: answer_correctness}\n"
    tiny_suite.write_text(text)
    return tiny_suite


def _run(suite: Path, out: Path):
    r = CliRunner().invoke(main, ["run", str(suite), "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    return r, {x["arm"]: x for x in json.loads((out / "results.json").read_text())["runs"]}


def test_judged_run_stores_scores_and_a_new_rubric_rescores_only(
    tiny_suite, tmp_path, fake_backend, fake_judge, monkeypatch
):
    real = evaluate.calibrate  # one timed repeat is enough here: the judged scores are tested
    monkeypatch.setattr(
        evaluate, "calibrate", lambda model=None, device="cpu": real(model, 1, device)
    )
    suite = _judged_suite(tiny_suite, tmp_path)
    out = tmp_path / "out"
    _, first = _run(suite, out)
    generated = fake_backend.calls["generate"]
    rag = first["rag"]
    # The fake arm answers $640 and 19 days right, RX-9999 wrong, abstains on Molar.
    assert rag["metrics"]["answer_correctness"]["value"] == pytest.approx(
        rag["metrics"]["exact_match"]["value"]
    )
    assert rag["metrics"]["groundedness"]["n"] >= 3
    judges = rag["judges"]["judge"]
    assert judges["model"] == "judge-model" and judges["rubric"] == "v1" and judges["repeats"] == 2
    assert judges["groundedness"]["fleiss_kappa"] == 1.0  # a deterministic fake: repeats agree
    assert judges["groundedness"]["unanimous"] == 1.0
    assert judges["usage"]["prompts"] > 0 and judges["usage"]["prompt_tokens"] > 0
    assert "judges" in first["base"] and first["base"]["metrics"]["groundedness"]["n"] == 0
    assert rag["judges"]["grounding"]["pairs"] == rag["metrics"]["grounding_score"]["n"] >= 3
    assert 0 <= rag["metrics"]["grounding_score"]["value"] <= 1
    row = json.loads((out / "samples" / "qa__rag.jsonl").read_text().splitlines()[0])
    assert row["scores"]["groundedness"]["reason"].startswith("1 claim(s)")

    # The run's own answers against labels: every detector it scored, measured.
    labels = write_jsonl(
        tmp_path / "labels.jsonl",
        [
            {"id": "q1", "arm": "rag", "hallucinated": False},
            {"id": "q2", "arm": "rag", "correct": 1.0},
            {"id": "q5", "arm": "rag", "hallucinated": True},
            {"id": "q6", "arm": "rag", "correct": False},
        ],
    )
    r = CliRunner().invoke(
        main,
        ["judge-check", str(out), "--labels", str(labels), "--json", str(tmp_path / "check.json")],
    )
    assert r.exit_code == 0, r.output
    check = {
        d["detector"]: d for d in json.loads((tmp_path / "check.json").read_text())["detectors"]
    }
    assert {"answer_correctness", "groundedness", "grounding_score", "unsupported_share"} <= set(
        check
    )
    assert check["answer_correctness"]["n"] == 4 and check["answer_correctness"]["positives"] == 2
    assert check["answer_correctness"]["auc"]["value"] == 1.0  # the fake judge is right here
    # The report shows the judged scores with both agreements; the verdict names its judge.
    assert CliRunner().invoke(main, ["report", str(out)]).exit_code == 0
    md = (out / "report.md").read_text()
    assert "### Judged metrics and how far to trust them" in md
    assert "| rag | answer_correctness |" in md and "2 repeats: Fleiss kappa" in md
    assert "AUC 1.000 [" in md  # the label agreement judge-check stored in the run folder
    assert (
        "decided on the judged metric answer_correctness: judge judge-model (hf), rubric v1 (" in md
    )
    html = (out / "report.html").read_text()
    assert "Judged metrics and how far to trust them" in html and "Cohen&#39;s kappa" in html

    # Another rubric (the user's own folder): the stored answers are judged again, and
    # nothing is generated.
    rubric = tmp_path / "my-rubric"
    shutil.copytree(judge_spec.RUBRICS_DIR / "v1", rubric)
    suite.write_text(suite.read_text().replace("rubric: v1", f"rubric: {rubric}"))
    judged_before = len(fake_judge.prompts)
    r, again = _run(suite, out)
    assert fake_backend.calls["generate"] == generated  # not one answer regenerated
    assert len(fake_judge.prompts) > judged_before  # but judged again
    assert "re-scored (judge (model, rubric or repeats) changed); generated nothing" in r.output
    for arm in ("base", "rag"):
        assert again[arm]["rescored"] and again[arm]["judges"]["judge"]["rubric"] == str(rubric)
        assert again[arm]["prediction_key"] == first[arm]["prediction_key"]
        assert again[arm]["content_hash"] != first[arm]["content_hash"]

    # Editing a rubric's text in place changes its digest, so the scores' key: judged again.
    task = load_task(load_suite(suite).tasks[0])
    before = judging.judge_inputs(load_suite(suite), task, task.spec.metrics)
    path = rubric / "groundedness.txt"
    path.write_text(path.read_text().replace("You check", "Check"))
    after = judging.judge_inputs(load_suite(suite), task, task.spec.metrics)
    assert after["judge"]["rubric_digest"] != before["judge"]["rubric_digest"]


def test_a_judged_metric_without_a_judge_fails_with_its_name(tiny_suite, tmp_path, fake_backend):
    suite = _judged_suite(tiny_suite, tmp_path)
    suite.write_text(re.sub(r"judge: \{.*\}\n", "", suite.read_text()))
    r = CliRunner().invoke(main, ["run", str(suite), "--out", str(tmp_path / "o"), "--no-progress"])
    assert r.exit_code == 2, r.output
    assert "answer_correctness" in r.output and "judge" in r.output


def test_judge_through_the_in_process_hf_backend(tiny_suite, tiny_model_dir):
    """The tiny random Llama judges through the hf backend: greedy, so two runs of the same
    repeat agree exactly; its replies rarely parse, and the usage says how many did not."""
    from harness.run.context import RunContext
    from harness.spec.judge import JudgeSpec

    ctx = RunContext(load_suite(tiny_suite), device="cpu", dtype="float32", progress=False)
    spec = JudgeSpec(model=str(tiny_model_dir), repeats=2, max_new_tokens=3)
    backend = judging.judge_backend(ctx, spec)
    assert type(backend).__name__ == "HFBackend" and judging.judge_backend(ctx, spec) is backend
    answers = ["The deductible is $640. Pets wait 19 days.", "Form BM-12 starts a claim."]
    runs = []
    for _ in range(2):
        judge = Judge(backend, load_rubric("v1"), repeats=2, seed=7, max_new_tokens=3)
        out, agreement = judge_groundedness(judge, ["The deductible is $640."] * 2, answers)
        runs.append([v["verdicts"] for v in out])
    assert runs[0] == runs[1]  # greedy decoding: the same verdicts every time
    assert agreement["repeats"] == 2 and agreement["subjects"] == 3
    usage = judge.usage
    assert usage.prompts == 6 and usage.new_tokens > 0 and usage.seconds > 0
    assert 0 <= usage.unparsed <= usage.prompts


def build_grounding_model(folder: Path, labels: dict | None = None, remote: bool = False) -> Path:
    """A tiny random BERT cross-encoder (NLI-shaped: three labels, one of them entailment, or
    one output like HHEM when `labels` has one entry), saved as safetensors."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    labels = labels or {0: "contradiction", 1: "neutral", 2: "entailment"}
    folder.mkdir(parents=True, exist_ok=True)
    words = sorted({w for d in DOCS for w in content_tokens(d.text)} | {"the", "is", "a"})
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(tokens)})
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=len(labels),
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    BertForSequenceClassification(config).save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))
    if remote:
        cfg = json.loads((folder / "config.json").read_text())
        cfg["auto_map"] = {"AutoModelForSequenceClassification": "modeling_x.XModel"}
        (folder / "config.json").write_text(json.dumps(cfg))
    return folder


@pytest.mark.parametrize("labels", [None, {0: "hallucinated_score"}])
def test_grounding_model_scores_pairs_in_batches(tmp_path, labels):
    from harness.engine.grounding import GroundingModel
    from harness.spec.judge import GroundingSpec

    folder = build_grounding_model(tmp_path / "nli", labels)
    checker = GroundingModel(GroundingSpec(path=str(folder), batch_size=2))
    pairs = [(d.text, "The deductible is $640.") for d in DOCS] + [("short", "x " * 400)]
    scores = checker.score(pairs)
    assert len(scores) == 5 and all(0.0 <= s <= 1.0 for s in scores)
    assert checker.score(pairs[:1]) == pytest.approx(scores[:1], abs=1e-6)  # batching aside
    assert checker.index == (None if labels else 2) and checker.pairs == 6


def test_grounding_checkpoints_that_are_refused(tmp_path):
    from harness.engine.grounding import GroundingError, GroundingModel, check_folder
    from harness.spec.judge import GroundingSpec

    remote = build_grounding_model(tmp_path / "remote", remote=True)
    with pytest.raises(GroundingError, match=r"remote/config.json.*auto_map.*trust_remote_code"):
        GroundingModel(GroundingSpec(path=str(remote)))
    check_folder(GroundingSpec(path=str(remote), trust_remote_code=True))  # the opt-in passes

    labels = build_grounding_model(tmp_path / "labels", {0: "LABEL_0", 1: "LABEL_1"})
    with pytest.raises(GroundingError, match=r"labels/config.json: id2label .*no entailment"):
        GroundingModel(GroundingSpec(path=str(labels)))

    pickled = build_grounding_model(tmp_path / "pickled")
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04not loaded")
    with pytest.raises(GroundingError, match=r"pickled/pytorch_model.bin: pickled weights"):
        GroundingModel(GroundingSpec(path=str(pickled)))

    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_text("{}")
    with pytest.raises(GroundingError, match=r"bare: no \*.safetensors"):
        check_folder(GroundingSpec(path=str(bare)))


def test_agreement_statistics_match_independent_computations():
    from sklearn.metrics import cohen_kappa_score, roc_auc_score

    from harness.common.agreement import auc, cohen_kappa, fleiss_kappa

    rng = np.random.default_rng(5)
    y = rng.random(300) < 0.4
    s = np.round(rng.random(300) + 0.4 * y, 1)  # rounded: many ties
    assert auc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert cohen_kappa(s >= 0.5, y) == pytest.approx(cohen_kappa_score(s >= 0.5, y), abs=1e-12)
    # Fleiss' (1971) worked example as Wikipedia tabulates it: 10 subjects, 14 raters, kappa 0.210.
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    ratings = [[c for c, k in enumerate(row) for _ in range(k)] for row in table]
    assert fleiss_kappa([[str(c) for c in r] for r in ratings]) == pytest.approx(0.20993, abs=1e-4)
    assert fleiss_kappa([["a", "a"], ["a", "a"]]) is None  # one category: undefined


def test_judge_check_on_the_shipped_labelled_set(tmp_path):
    from sklearn.metrics import roc_auc_score

    from harness.reports.judge_check import LEXICAL, detector_scores, load_labelled_set

    path = Path(__file__).resolve().parents[1] / "suites/data/judge-labels/policy-qa-labels.jsonl"
    out = tmp_path / "figures.json"
    r = CliRunner().invoke(main, ["judge-check", str(path), "--json", str(out)])
    assert r.exit_code == 0, r.output
    figures = {d["detector"]: d for d in json.loads(out.read_text())["detectors"]}
    assert set(figures) == set(LEXICAL)
    rows = load_labelled_set(path)
    scores = detector_scores(rows, ["unsupported_share"])["unsupported_share"]
    expected = roc_auc_score([x.hallucinated for x in rows], scores)
    share = figures["unsupported_share"]
    assert share["n"] == len(rows) == 472 and share["auc"]["value"] == pytest.approx(expected)
    assert share["auc"]["ci_low"] <= share["auc"]["value"] <= share["auc"]["ci_high"]
    assert f"| unsupported_share | 472 | 236 | {expected:.3f} [" in r.output


def test_judge_check_input_errors(tmp_path):
    bad = tmp_path / "set.jsonl"
    bad.write_text('{"question": "q", "answer": "a", "passages": ["p"]}\n')
    r = CliRunner().invoke(main, ["judge-check", str(bad)])
    assert r.exit_code == 2 and f"{bad}:1: no label" in r.output
    r = CliRunner().invoke(main, ["judge-check", str(tmp_path)])
    assert r.exit_code == 2 and "needs --labels" in r.output


def test_judge_check_runs_the_suites_judges_on_a_labelled_set(tiny_suite, tmp_path, fake_judge):
    passage = "The Hearthward Plus deductible is $640 per claim."
    rows = [
        {
            "id": "a",
            "question": "Deductible?",
            "gold": ["$640"],
            "passages": [passage],
            "answer": "The deductible is $640.",
            "hallucinated": False,
        },
        {
            "id": "b",
            "question": "Deductible?",
            "gold": ["$640"],
            "passages": [passage],
            "answer": "The deductible is $999.",
            "hallucinated": True,
        },
        {
            "id": "c",
            "question": "Deductible?",
            "gold": ["$640"],
            "passages": [passage],
            "answer": "It is $640, as the policy states.",
            "correct": True,
        },
        {
            "id": "d",
            "question": "Deductible?",
            "gold": ["$640"],
            "passages": [passage],
            "answer": "It is $120, as the policy states.",
            "correct": 0.0,
        },
    ]
    labels = write_jsonl(tmp_path / "set.jsonl", rows)
    text = tiny_suite.read_text() + "judge: {model: judge-model, repeats: 2}\n"
    tiny_suite.write_text(text + f"grounding_model: {build_grounding_model(tmp_path / 'nli')}\n")
    out = tmp_path / "figures.json"
    r = CliRunner().invoke(
        main, ["judge-check", str(tiny_suite), "--labels", str(labels), "--json", str(out)]
    )
    assert r.exit_code == 0, r.output
    figures = {d["detector"]: d for d in json.loads(out.read_text())["detectors"]}
    assert set(figures) == {
        "unsupported_share",
        "unsupported_by_context",
        "false_answer_rate",
        "answer_correctness",
        "groundedness",
        "contradicted_share",
        "grounding_score",
    }
    assert all(f["n"] == 4 and f["positives"] == 2 for f in figures.values())
    assert figures["contradicted_share"]["auc"]["value"] == 1.0  # $999 and $120 contradict
    assert figures["answer_correctness"]["kappa"]["value"] == 1.0
    assert len(fake_judge.prompts) == 2 * 4 + 2 * 4  # 4 answers (1 claim each) x 2 repeats, twice


def test_judge_through_an_openai_compatible_endpoint(tiny_suite):
    """The judge on `backend: openai` (the stub server): requests go out, verdicts come back."""
    from harness.run.context import RunContext
    from harness.spec.judge import JudgeSpec

    from .openai_stub import Stub

    class VerdictStub(Stub):
        def answer(self, messages):
            return (
                "SUPPORTED"
                if "$640" in messages[-1]["content"].rsplit("Claim:", 1)[-1]
                else "no idea"
            )

    stub = VerdictStub()
    try:
        ctx = RunContext(load_suite(tiny_suite), device="cpu", dtype="float32", progress=False)
        spec = JudgeSpec.model_validate(
            {
                "model": stub.model,
                "backend": "openai",
                "base_url": stub.base_url,
                "endpoint": {"max_wait_s": 1.0, "retries": 1},
            }
        )
        judge = Judge(judging.judge_backend(ctx, spec), load_rubric("v1"))
        out, _ = judge_groundedness(
            judge, ["The deductible is $640."] * 2, ["The deductible is $640.", "Pets are covered."]
        )
    finally:
        stub.close()
    assert [v["verdicts"] for v in out] == [[["SUPPORTED"]], [["NOT_FOUND"]]]
    assert len(stub.requests) == 2 and judge.usage.unparsed == 1
    assert stub.requests[0]["temperature"] == 0  # greedy


@pytest.mark.parametrize(
    "kind, reply, verdict",
    [
        ("groundedness", "The claim is not supported by the passage.", "NOT_FOUND"),
        ("groundedness", "Unsupported.", "NOT_FOUND"),
        ("groundedness", "CONTRADICTED: the passage says $640", "CONTRADICTED"),
        ("groundedness", "not_found", "NOT_FOUND"),
        ("groundedness", "supported", "SUPPORTED"),
        ("groundedness", "\nSUPPORTED", "SUPPORTED"),
        ("correctness", "The answer is not correct.", "INCORRECT"),
        ("correctness", "Correct", "CORRECT"),
        ("correctness", "The deductible is $640.", None),
        ("correctness", "", None),
    ],
)
def test_verdict_parsing(kind, reply, verdict):
    from harness.engine.judges import parse_verdict

    assert parse_verdict(kind, reply) == verdict


def test_a_labelled_set_in_other_column_names_reads_the_same(tmp_path):
    from harness.reports.judge_check import detector_scores, load_labelled_set

    ours = tmp_path / "ours.jsonl"
    theirs = tmp_path / "theirs.jsonl"
    rows = [
        ("Which form?", "Form BM-50A", "Claims are made on Form BM-50A.", False),
        ("Which form?", "Form ZZ-9", "Claims are made on Form BM-50A.", True),
        ("How many days?", "118 days", "A claim must be reported within 118 days.", False),
    ]
    write_jsonl(
        ours,
        [
            {"question": q, "answer": a, "passages": [p], "gold": ["x"], "hallucinated": h}
            for q, a, p, h in rows
        ],
    )
    write_jsonl(
        theirs,
        [
            {"question": q, "response": a, "context": p, "reference": "x", "hallucinated": str(h)}
            for q, a, p, h in rows
        ],
    )
    a, b = load_labelled_set(ours), load_labelled_set(theirs)
    assert [x.hallucinated for x in a] == [x.hallucinated for x in b] == [False, True, False]
    names = ["unsupported_share", "false_answer_rate"]
    assert detector_scores(a, names) == detector_scores(b, names)
