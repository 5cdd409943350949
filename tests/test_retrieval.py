"""Retrieval: chunking, FAISS indexes, the cache, and the rag / retrieval_only / hybrid arms."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.data.tasks import Document
from harness.engine.retrieval import (
    Embedder,
    RetrievalError,
    RetrievalParams,
    Retriever,
    chunk_documents,
    resolve_embedder,
)

from .conftest import write_jsonl

DOCS = [
    Document(
        "hearth-deductible",
        "The Hearthward Plus home policy has a deductible of $640 per claim.",
        "Hearthward Plus deductibles",
        "h.jsonl:1",
    ),
    Document(
        "paw-waiting",
        "Pawsmith Lifetime pet cover starts after a waiting period of 19 days.",
        "Pawsmith Lifetime waiting period",
        "h.jsonl:2",
    ),
    Document(
        "molar-form",
        "Claims under Molar Meridian dental cover are made on Form BM-12.",
        "Molar Meridian claims",
        "h.jsonl:3",
    ),
    Document(
        "road-code",
        "Calls about Roadwright motor claims are routed with code RX-4417.",
        "Roadwright phone routing",
        "h.jsonl:4",
    ),
]


@pytest.fixture(scope="module")
def embedder():
    return Embedder()


def test_embeddings_are_normalised_float32(embedder):
    v = embedder.encode(["a deductible of $640", "waiting period"])
    assert v.dtype.name == "float32" and v.shape == (2, 384)
    assert abs(float((v[0] ** 2).sum()) - 1.0) < 1e-4


def test_chunking_keeps_ids_positions_and_overlap(embedder):
    long_text = " ".join(f"word{i}" for i in range(400))
    docs = [Document("long", long_text, "Long", "corpus.jsonl:7"), DOCS[0]]
    params = RetrievalParams(chunk_tokens=100, chunk_overlap=20)
    chunks, warnings = chunk_documents(docs, embedder.tokenizer, params, embedder.max_tokens)
    long_chunks = [c for c in chunks if c.doc_id == "long"]
    assert [c.position for c in long_chunks] == list(range(len(long_chunks))) and len(
        long_chunks
    ) > 5
    assert [c.start_token for c in long_chunks[:3]] == [0, 80, 160]
    assert long_chunks[0].text.split()[-1] in long_chunks[1].text  # the overlap is shared
    assert len(warnings) == 1 and "corpus.jsonl:7" in warnings[0] and "'long'" in warnings[0]
    assert [c.id for c in chunks if c.doc_id == "hearth-deductible"] == ["hearth-deductible#0"]
    with pytest.raises(RetrievalError, match="exceeds the embedder's window"):
        chunk_documents(
            docs, embedder.tokenizer, RetrievalParams(chunk_tokens=1000), embedder.max_tokens
        )


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_indexes_find_the_right_document_and_are_cached(embedder, kind):
    params = RetrievalParams(index=kind, k=2)
    r = Retriever(params, embedder).build(DOCS, "handbook.jsonl")
    assert (
        r.stats["index_cached"] is False and r.stats["index_bytes"] > 0 and r.stats["chunks"] == 4
    )
    hits, latencies = r.search(
        ["How long must I wait before Pawsmith pet cover starts?", "Roadwright phone code"], 2
    )
    assert [h[0].doc_id for h in hits] == ["paw-waiting", "road-code"]
    assert [h.rank for h in hits[0]] == [1, 2] and all(t > 0 for t in latencies)
    again = Retriever(params, embedder).build(DOCS, "handbook.jsonl")
    assert again.stats["index_cached"] is True and [c.id for c in again.chunks] == [
        c.id for c in r.chunks
    ]
    changed = Retriever(
        RetrievalParams(index=kind, chunk_tokens=64, chunk_overlap=8), embedder
    ).build(DOCS, "h")
    assert changed.stats["index_cached"] is False


def test_bad_retrieval_inputs(embedder):
    r = Retriever(RetrievalParams(), embedder)
    with pytest.raises(RetrievalError, match="handbook.jsonl: the corpus to index is empty"):
        r.build([], "handbook.jsonl")
    r.build(DOCS, "handbook.jsonl")
    with pytest.raises(
        RetrievalError, match=r"k=9 is larger than the number of chunks in the index \(4\)"
    ):
        r.search(["q"], 9)
    with pytest.raises(RetrievalError, match="not found"):
        resolve_embedder("no-such-embedder")
    with pytest.raises(ValueError, match="chunk_overlap"):
        RetrievalParams(chunk_tokens=32, chunk_overlap=32)


@pytest.fixture
def rag_suite(tiny_suite, tmp_path):
    write_jsonl(
        tmp_path / "data" / "handbook.jsonl",
        [{"id": d.id, "title": d.title, "text": d.text} for d in DOCS],
    )
    rows = [json.loads(x) for x in (tmp_path / "data" / "eval.jsonl").read_text().splitlines()]
    gold = {"q1": "hearth-deductible", "q2": "paw-waiting", "q3": "molar-form", "q5": "road-code"}
    write_jsonl(tmp_path / "data" / "eval.jsonl", [dict(r, doc_id=gold.get(r["id"])) for r in rows])
    text = tiny_suite.read_text().replace(
        "    instruction:", "    corpus: {path: data/handbook.jsonl}\n    instruction:"
    )
    text = text.replace(
        "arms:\n",
        "arms:\n  - arm: rag\n    params: {k: 2}\n  - arm: retrieval_only\n"
        "  - arm: few_shot\n    name: few_shot+rag\n    params: {k: 1, selection: similar}\n    retrieval: {k: 1}\n",
    )
    tiny_suite.write_text(text)
    return tiny_suite


def test_rag_arms_report_retrieval_and_grounding(rag_suite, tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(rag_suite), "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    runs = {x["arm"]: x for x in json.loads((out / "results.json").read_text())["runs"]}
    rag = runs["rag"]
    assert rag["metrics"]["recall@k"]["value"] == 1.0 and rag["metrics"]["recall@k"]["n"] == 4
    assert rag["metrics"]["mrr"]["value"] == 1.0
    assert "unsupported_by_context" in rag["metrics"]  # n depends on what the random model answers
    eff = rag["efficiency"]
    assert (
        eff["retrieval_latency_p50_s"] > 0
        and eff["retrieval_latency_p95_s"] >= eff["retrieval_latency_p50_s"]
    )
    assert eff["retrieval"]["index_bytes"] > 0 and eff["retrieval"]["chunks"] == 4
    assert (
        eff["latency_p50_s"] >= eff["retrieval_latency_p50_s"]
    )  # retrieval is part of an item's latency
    sample = json.loads((out / "samples" / "qa__rag.jsonl").read_text().splitlines()[0])
    assert (
        "Passages:" in sample["prompt"]
        and sample["extra"]["retrieved"][0]["doc_id"] == "hearth-deductible"
    )
    # The reference row answers with the top passage: the gold answer is in it.
    ro = runs["retrieval_only"]
    assert (
        ro["metrics"]["false_answer_rate"]["value"] == 0.0
        and ro["efficiency"]["params_trainable"] == 0
    )
    assert ro["efficiency"]["tokens_per_s"] is None
    assert runs["base"]["metrics"]["recall@k"]["n"] == 0  # no retrieval, metric does not apply
    hybrid = runs["few_shot+rag"]
    assert hybrid["status"] == "ok" and hybrid["metrics"]["recall@k"]["value"] == 1.0
    row = json.loads((out / "samples" / "qa__few_shot+rag.jsonl").read_text().splitlines()[0])
    assert len(row["extra"]["shot_ids"]) == 1 and len(row["extra"]["retrieved"]) == 1
    # The rerun reuses the finished runs; a new output folder with --force reuses the cached index.
    forced = CliRunner().invoke(
        main,
        [
            "run",
            str(rag_suite),
            "--arms",
            "rag",
            "--force",
            "--out",
            str(tmp_path / "o2"),
            "--no-progress",
        ],
    )
    assert forced.exit_code == 0
    run = json.loads((tmp_path / "o2" / "results.json").read_text())["runs"][0]
    assert run["efficiency"]["retrieval"]["index_cached"] is True


def test_retrieval_block_on_a_rag_arm_is_rejected(rag_suite):
    rag_suite.write_text(
        rag_suite.read_text().replace(
            "  - arm: retrieval_only\n", "  - arm: retrieval_only\n    retrieval: {k: 1}\n"
        )
    )
    r = CliRunner().invoke(main, ["validate", str(rag_suite)])
    assert r.exit_code == 2 and "takes its retrieval settings in `params`" in r.output


def test_oracle_context_reads_the_gold_document_and_raft_trains_with_passages(rag_suite, tmp_path):
    data = tmp_path / "data"
    gold = {
        "tq1": "hearth-deductible",
        "tq2": "paw-waiting",
        "tq3": "molar-form",
        "tq5": "road-code",
    }
    train = [json.loads(x) for x in (data / "train.jsonl").read_text().splitlines()]
    write_jsonl(data / "train.jsonl", [dict(r, doc_id=gold.get(r["id"])) for r in train])
    rag_suite.write_text(
        rag_suite.read_text().replace(
            "arms:\n",
            "arms:\n  - arm: oracle_context\n    params: {k: 1}\n"
            "  - arm: lora\n    name: lora+raft\n    params: {epochs: 1, train_with_retrieval: true,"
            " raft_gold_probability: 1.0, rows_per_step: 2, grad_accum: 1, max_seq_len: 1024}\n    retrieval: {k: 2}\n",
        )
    )
    out = tmp_path / "out"
    r = CliRunner().invoke(
        main,
        [
            "run",
            str(rag_suite),
            "--arms",
            "oracle_context,lora+raft,rag",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert r.exit_code == 0, r.output
    results = json.loads((out / "results.json").read_text())
    runs = {x["arm"]: x for x in results["runs"]}
    rows = [
        json.loads(x)
        for x in (out / "samples" / "qa__oracle_context.jsonl").read_text().splitlines()
    ]
    eval_gold = {
        "q1": "hearth-deductible",
        "q2": "paw-waiting",
        "q3": "molar-form",
        "q5": "road-code",
    }
    for row in rows:
        if row["id"] in eval_gold:
            assert [h["doc_id"] for h in row["extra"]["retrieved"]] == [eval_gold[row["id"]]]
    assert runs["oracle_context"]["metrics"]["recall@k"]["value"] == 1.0
    raft = runs["lora+raft"]
    assert raft["status"] == "ok", raft.get("reason")
    # every answerable train item with a known document saw its gold passage (p = 1)
    assert raft["efficiency"]["raft"] == {"items": 6, "with_gold_passage": 4}
    assert (
        raft["efficiency"]["prompt_tokens_mean"]
        > runs["rag"]["efficiency"]["prompt_tokens_mean"] / 2
    )
    info = results["tasks"]["qa"]
    assert info["style"]["answer_style"] == "short" and info["style"]["inferred"] is True
    ceiling = info["ceiling"]["metrics"]["exact_match"]
    assert ceiling["n"] == 6 and 0 < ceiling["value"] <= 1
    report = (out / "report.md").read_text()
    assert "Answer style **short**" in report and "Ceiling (each gold answer cut" in report
