"""An embedder folder is part of the cache keys by content: weights changed in place recompute
retrieval and shot picking (prediction key) and answer_similarity (scoring inputs)."""

from __future__ import annotations

from harness.data.tasks import load_task
from harness.engine.retrieval import embedder_key
from harness.run.keys import cell_keys, folder_embedders, scoring_inputs
from harness.run.suite import load_suite
from harness.spec.config import DEFAULT_EMBEDDER

from .conftest import QA_ROWS, write_jsonl


def _embedder_folder(folder):
    folder.mkdir()
    (folder / "config.json").write_text('{"hidden_size": 8}')
    (folder / "model.safetensors").write_bytes(b"weights-1")
    return folder


def _suite(tmp_path, embedder):
    write_jsonl(tmp_path / "train.jsonl", [dict(r, id="t" + r["id"]) for r in QA_ROWS])
    write_jsonl(tmp_path / "eval.jsonl", QA_ROWS)
    path = tmp_path / "suite.yaml"
    path.write_text(
        f"name: s\nembedder: {embedder}\ntasks:\n  - name: t\n"
        "    data: {train: train.jsonl, eval: eval.jsonl}\n"
        "    metrics: [token_f1, answer_similarity]\n"
        "arms:\n  - arm: base\n"
        f"  - arm: rag\n    params: {{embedder: {embedder}}}\n"
        f"  - arm: few_shot\n    params: {{selection: similar, embedder: {embedder}}}\n"
        f"  - arm: lora\n    retrieval: {{embedder: {embedder}}}\n",
        encoding="utf-8",
    )
    suite = load_suite(path)
    return suite, load_task(suite.tasks[0])


def _keys(suite, task):
    return {
        a.label: cell_keys(suite, task, task.eval, a, "fp", "float32", "cpu") for a in suite.arms
    }


def test_weights_changed_in_place_change_the_keys_that_read_them(tmp_path):
    folder = _embedder_folder(tmp_path / "emb")
    suite, task = _suite(tmp_path, folder)
    before = _keys(suite, task)
    assert _keys(suite, task) == before  # nothing changed: the same keys
    (folder / "model.safetensors").write_bytes(b"weights-2, retrained")  # same name, new weights
    after = _keys(suite, task)
    for label in ("rag", "few_shot", "lora"):  # they retrieve or pick shots with it: predict again
        assert after[label][0] != before[label][0], label
    # base embeds nothing to predict: its predictions are kept and re-scored (similarity)
    assert after["base"][0] == before["base"][0] and after["base"][1] != before["base"][1]


def test_embedded_and_hub_embedders_are_keyed_by_name_as_before(tmp_path):
    suite, task = _suite(tmp_path, DEFAULT_EMBEDDER)
    assert embedder_key(DEFAULT_EMBEDDER) == DEFAULT_EMBEDDER
    assert embedder_key("org/some-embedder") == "org/some-embedder"
    assert all(folder_embedders(a) == {} for a in suite.arms)
    assert scoring_inputs(suite, task)["embedder"] == DEFAULT_EMBEDDER
