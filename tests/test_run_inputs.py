"""Inputs of `run` that used to pass silently or end in an internal error: an unknown embedder
for answer_similarity, --limit above the items, a run that stops before any cell."""

from __future__ import annotations

from click.testing import CliRunner

from harness.cli import main

from .conftest import QA_ROWS, write_jsonl


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_an_unknown_similarity_embedder_is_bad_input_in_run_and_validate(tiny_suite, tmp_path):
    text = tiny_suite.read_text().replace(
        "    generation:", "    metrics: [token_f1, answer_similarity]\n    generation:"
    )
    tiny_suite.write_text("embedder: no-such-embedder\n" + text)
    r = invoke("run", tiny_suite, "--arms", "base", "--out", tmp_path / "out", "--no-progress")
    assert r.exit_code == 2, r.output
    assert "scores answer_similarity with the suite's `embedder`" in r.output
    assert "embedder 'no-such-embedder' not found" in r.output
    assert not (tmp_path / "out").exists()
    r = invoke("validate", tiny_suite)
    assert r.exit_code == 2 and "FAIL" in r.output and "no-such-embedder" in r.output
    # Unused (no answer_similarity), the name decides nothing: no error.
    tiny_suite.write_text(
        "embedder: no-such-embedder\n"
        + tiny_suite.read_text().split("\n", 1)[1].replace(", answer_similarity", "")
    )
    assert invoke("validate", tiny_suite).exit_code == 0


def test_strict_leakage_leaves_no_output_folder(tiny_suite, tmp_path, fake_backend):
    write_jsonl(tmp_path / "data" / "train.jsonl", [dict(r, id="t" + r["id"]) for r in QA_ROWS])
    out = tmp_path / "runs" / "first"
    r = invoke("run", tiny_suite, "--strict-leakage", "--out", out, "--no-progress")
    assert r.exit_code == 2 and "identical or near-identical" in r.output
    assert not (tmp_path / "runs").exists()  # neither the folder nor the parent made for it
    kept = tmp_path / "kept"
    kept.mkdir()  # a folder the user made is left as it was
    r = invoke("run", tiny_suite, "--strict-leakage", "--out", kept, "--no-progress")
    assert r.exit_code == 2 and kept.is_dir()


def test_a_limit_above_the_items_says_so(tiny_suite, tmp_path, fake_backend):
    out = tmp_path / "o"
    r = invoke("run", tiny_suite, "--arms", "base", "--limit", "50", "--out", out)
    assert (out / "results.json").is_file(), r.output
    assert "warning: --limit 50 is above the 6 eval items of task 'qa'" in r.output
    r = invoke("run", tiny_suite, "--arms", "base", "--limit", "6", "--out", out)
    assert (out / "results.json").is_file() and "--limit" not in r.output
