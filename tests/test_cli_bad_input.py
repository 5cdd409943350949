"""Every bad input to the CLI ends in a clear message and exit 2, never a traceback."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main

from .conftest import write_jsonl
from .test_gate import GOOD as GOOD_SCORES
from .test_gate import make_run


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_bad_input(result, *fragments: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert result.output.strip(), "no message"
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)


def write_suite(tmp_path: Path, extra: str = "", arms: str = "arms: [base]") -> Path:
    write_jsonl(tmp_path / "e.jsonl", [{"id": "a", "question": "Q?", "answers": ["x"]}])
    path = tmp_path / "suite.yaml"
    path.write_text(
        "name: s\ntasks:\n  - name: t\n    data: {eval: e.jsonl}\n" + extra + arms + "\n"
    )
    return path


def reportable_run(folder: Path) -> Path:
    """A run folder `report` accepts (the synthetic one of test_gate plus the report header)."""
    make_run(folder, {"few_shot": GOOD_SCORES})
    payload = json.loads((folder / "results.json").read_text())
    payload["created"] = "2026-01-01T00:00:00+00:00"
    payload["environment"] |= {"device": "cpu", "dtype": "float32", "adaptbench": "0.1.0"}
    payload["model"] = {"name": "m", "source": "local", "fingerprint": "f"}
    payload["tasks"] = {"t": {"eval_items": 100, "eval_items_total": 100, "splits": {"eval": 100}}}
    (folder / "results.json").write_text(json.dumps(payload))
    return folder


# -- run ---------------------------------------------------------------------------------------


def test_out_under_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    r = invoke("run", write_suite(tmp_path), "--out", tmp_path / "afile" / "run")
    assert_bad_input(r, "--out", "cannot write there")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only folder")
def test_out_in_an_unwritable_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert_bad_input(invoke("run", write_suite(tmp_path), "--out", ro / "run"), "cannot write")
    finally:
        ro.chmod(0o700)


def test_out_in_an_unwritable_folder_any_user(tmp_path, monkeypatch):
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)
    r = invoke("run", write_suite(tmp_path), "--out", tmp_path / "run")
    assert_bad_input(r, "cannot write there (Permission denied)")


def test_cache_folder_under_a_file(tmp_path, monkeypatch):
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("ADAPTBENCH_CACHE", str(tmp_path / "afile" / "cache"))
    r = invoke("run", write_suite(tmp_path), "--out", tmp_path / "run")
    assert_bad_input(r, "cache folder", "ADAPTBENCH_CACHE", "cannot write there")


@pytest.mark.parametrize("arms", [",", " , ,", ""])
def test_arms_with_no_names(tmp_path, arms):
    r = invoke("run", write_suite(tmp_path), "--arms", arms, "--out", tmp_path / "o")
    assert_bad_input(r, "no arm names given")


@pytest.mark.parametrize(
    "option", [["--retries", "1"], ["--cpus-per-unit", "2"], ["--address", "auto"]]
)
def test_ray_options_without_ray_are_refused(tmp_path, option):
    r = invoke("run", write_suite(tmp_path), *option, "--out", tmp_path / "o")
    assert_bad_input(r, f"{option[0]} is for --executor ray")
    assert not (tmp_path / "o").exists()


# -- baseline, gate, report --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../x", "a/b", "", ".hidden", "..", "a\\b", "x..y"])
def test_baseline_names_are_plain(tmp_path, name):
    run = make_run(tmp_path / "run", {"few_shot": GOOD_SCORES})
    r = invoke("baseline", run, "--name", name, "--dir", tmp_path / "b")
    assert_bad_input(r, "plain file name")
    assert not list(tmp_path.rglob("*.json*")) or not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    "content,message",
    [
        ([], "not an adaptbench baseline"),
        ({"schema_version": 1}, "missing key 'suite'"),
        (
            {"schema_version": 1, "suite": "s", "environment": {}, "runs": [{"task": "t"}]},
            "runs[0]: missing key 'arm'",
        ),
    ],
)
def test_baseline_file_that_is_a_list_or_lacks_keys(tmp_path, content, message):
    run = make_run(tmp_path / "run", {"few_shot": GOOD_SCORES})
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps(content))
    assert_bad_input(invoke("gate", run, "--baseline", bad), str(bad), message)


@pytest.mark.parametrize(
    "content,message",
    [([], "expected a JSON object, got list"), ({}, "missing key 'suite'")],
)
@pytest.mark.parametrize("command", ["report", "compare", "baseline", "gate"])
def test_results_json_that_is_a_list_or_empty(tmp_path, content, message, command):
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(json.dumps(content))
    good = make_run(tmp_path / "good", {"few_shot": GOOD_SCORES})
    invoke("baseline", good, "--name", "b", "--dir", tmp_path)
    args = {
        "report": [run],
        "compare": [good, run],
        "baseline": [run, "--name", "x", "--dir", tmp_path / "bl"],
        "gate": [run, "--baseline", tmp_path / "b.json"],
    }[command]
    assert_bad_input(invoke(command, *args), "results.json", message)


def test_truncated_samples_line_given_to_report(tmp_path):
    run = reportable_run(tmp_path / "run")
    samples = run / "samples" / "t__few_shot.jsonl"
    samples.write_text(samples.read_text()[:-40])
    assert_bad_input(invoke("report", run), f"{samples}:100: samples line does not parse")
    assert invoke("report", reportable_run(tmp_path / "ok")).exit_code == 0


def test_report_md_escapes_user_text_in_headers_and_cells(tmp_path):
    run = reportable_run(tmp_path / "run")
    payload = json.loads((run / "results.json").read_text())
    evil = "field_accuracy:<img src=x onerror=alert(1)>"
    payload["runs"][0]["metrics"][evil] = {"value": 0.5, "ci_low": 0.1, "ci_high": 0.9, "n": 3}
    payload["runs"][0]["status"] = "failed"
    payload["runs"][0]["reason"] = "<script>alert(1)</script> | broke"
    (run / "results.json").write_text(json.dumps(payload))
    assert invoke("report", run).exit_code == 0
    md = (run / "report.md").read_text()
    assert "<img" not in md and "<script" not in md
    assert "&lt;img src=x onerror=alert(1)&gt;" in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt; \\| broke" in md


def test_report_md_escapes_field_names_in_the_ceiling_line(tmp_path):
    run = reportable_run(tmp_path / "run")
    payload = json.loads((run / "results.json").read_text())
    evil = "field_accuracy:<img src=x>|x"
    payload["tasks"]["t"]["style"] = {
        "answer_style": "short",
        "inferred": False,
        "max_new_tokens": 16,
        "max_prompt_tokens": 512,
        "style_instruction": "",
    }
    payload["tasks"]["t"]["ceiling"] = {
        "max_new_tokens": 16,
        "answers_cut": 0,
        "metrics": {evil: {"value": 0.9, "ci_low": 0.8, "ci_high": 1.0, "n": 3}},
    }
    (run / "results.json").write_text(json.dumps(payload))
    assert invoke("report", run).exit_code == 0
    line = next(x for x in (run / "report.md").read_text().splitlines() if "Ceiling" in x)
    assert "<img" not in line and "field_accuracy:&lt;img src=x&gt;\\|x 0.900" in line


def test_report_md_header_names_the_intervals_it_shows(tmp_path):
    run = reportable_run(tmp_path / "run")
    assert invoke("report", run).exit_code == 0
    header = (run / "report.md").read_text().split("## Task")[0]
    assert "bootstrap confidence intervals" not in header
    assert "Wilson score intervals for proportions" in header and "bootstrap for other" in header


# -- validate finds what run would ---------------------------------------------------------------


def test_validate_finds_corpus_source_without_corpus(tmp_path):
    arms = "arms:\n  - arm: rag\n    params: {source: corpus}"
    r = invoke("validate", write_suite(tmp_path, arms=arms))
    assert_bad_input(r, "arm 'rag': retrieval source is `corpus` but the task has no corpus")


def test_validate_finds_k_above_the_chunks(tmp_path):
    (tmp_path / "c.jsonl").write_text(
        json.dumps({"id": "d1", "text": "Short text."})
        + "\n"
        + json.dumps({"id": "d2", "text": "Another one."})
        + "\n"
    )
    arms = "arms:\n  - arm: rag\n    params: {k: 3}"
    r = invoke("validate", write_suite(tmp_path, extra="    corpus: {path: c.jsonl}\n", arms=arms))
    assert_bad_input(r, "k=3 but the corpus gives only 2 chunk(s)")
    arms = "arms:\n  - arm: rag\n    params: {k: 2}"
    r = invoke("validate", write_suite(tmp_path, extra="    corpus: {path: c.jsonl}\n", arms=arms))
    assert r.exit_code == 0, r.output


def test_validate_reports_leakage_as_run_does(tmp_path):
    write_jsonl(
        tmp_path / "tr.jsonl",
        [{"id": "t1", "question": "What is the deductible?", "answers": ["x"]}],
    )
    path = write_suite(tmp_path)
    path.write_text(
        path.read_text()
        .replace("{eval: e.jsonl}", "{eval: tr.jsonl, train: tr.jsonl}")
        .replace("arms", "arms")
    )
    text = path.read_text()
    write_jsonl(
        tmp_path / "ev.jsonl",
        [{"id": "e1", "question": "What is the deductible?", "answers": ["y"]}],
    )
    path.write_text(text.replace("{eval: tr.jsonl", "{eval: ev.jsonl"))
    r = invoke("validate", path)
    assert r.exit_code == 0, r.output
    assert "1 dev/eval question(s) identical or near-identical" in r.output
    assert "eval 'e1' ~ train 't1'" in r.output
    assert_bad_input(invoke("validate", "--strict-leakage", path), "identical or near-identical")


# -- garbage everywhere ------------------------------------------------------------------------


def garbage_files(folder: Path) -> list[Path]:
    rng = random.Random(7)
    folder.mkdir()
    contents: dict[str, bytes] = {
        "random.bin": bytes(rng.randrange(256) for _ in range(300)),
        "empty.yaml": b"",
        "list.json": b"[1, 2, 3]",
        "obj.json": b"{}",
        "runs5.json": b'{"schema_version": 1, "suite": "s", "environment": {}, "tasks": {}, "runs": 5}',
        "latin1.yaml": b"name: caf\xe9\n",
        "tabs.yaml": b"name: s\n\ttasks: [\n",
        "scalar.yaml": b"42\n",
        "dupe.yaml": b"name: a\nname: b\ntasks: []\narms: []\n",
        "badtypes.yaml": b"name: s\ntasks: [{name: t, data: {eval: 5}}]\narms: [{arm: 3}]\n",
        "jsonl.yaml": b"name: s\ntasks: [{name: t, data: {eval: random.bin, format: jsonl}}]\narms: [base]\n",
    }
    paths = []
    for name, data in contents.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


def run_folders(folder: Path, files: list[Path]) -> list[Path]:
    """Run folders whose results.json (and samples) are each garbage file."""
    out = []
    for f in files:
        d = folder / f"run-{f.stem}"
        (d / "samples").mkdir(parents=True)
        (d / "results.json").write_bytes(f.read_bytes())
        (d / "samples" / "t__a.jsonl").write_bytes(f.read_bytes())
        out.append(d)
    return out


GARBAGE_ARGS = [
    ["--limit", "-1"],
    ["--limit", "many"],
    ["--set", "==="],
    ["--set", "nokey"],
    ["--set", "tasks.99.name=x"],
    ["--no-such-option"],
    ["--arms", ","],
]


def test_every_command_on_garbage_ends_in_a_message_not_a_traceback(tmp_path):
    files = garbage_files(tmp_path / "g")
    runs = run_folders(tmp_path / "r", files)
    good_run = make_run(tmp_path / "good", {"few_shot": GOOD_SCORES})
    suite = write_suite(tmp_path / "s" if (tmp_path / "s").mkdir() is None else tmp_path)
    cases: list[list] = []
    for f in files:
        # jsonl.yaml is a valid suite over bad data: `run` would first convert the embedded
        # model (slow), so its data is fuzzed through `validate` only.
        run_case = [["run", f, "--out", tmp_path / "o"]] if f.name != "jsonl.yaml" else []
        cases += run_case + [
            ["validate", f],
            ["gate", good_run, "--baseline", f],
        ]
    for d in runs:
        cases += [
            ["report", d],
            ["compare", good_run, d],
            ["compare", d, good_run],
            ["baseline", d, "--name", "x", "--dir", tmp_path / "bl"],
            ["gate", d, "--baseline", files[3]],
        ]
    for args in GARBAGE_ARGS:
        cases.append(["run", suite, *args, "--out", tmp_path / "o2"])
    cases += [
        ["ls", "everything"],
        ["ls"],
        ["report"],
        ["report", tmp_path / "nowhere"],
        ["compare", tmp_path / "nowhere", good_run],
        ["baseline", good_run],
        ["gate", good_run],
        ["validate", tmp_path / "nowhere"],
        ["validate", tmp_path / "r"],  # a folder with no suites in it
        ["run", tmp_path / "g"],
        ["frobnicate"],
    ]
    for args in cases:
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.exit_code, result.output)
        assert "Traceback" not in result.output and "internal error" not in result.output, args
        assert result.output.strip(), args


def test_an_unexpected_error_is_one_line_and_exit_3(tmp_path, monkeypatch):
    import harness.reports.write

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(harness.reports.write, "write_reports", broken)
    r = invoke("report", reportable_run(tmp_path / "run"))
    assert r.exit_code == 3
    assert "internal error (RuntimeError: boom)" in r.output and "Traceback" not in r.output
    monkeypatch.setenv("ADAPTBENCH_DEBUG", "1")
    assert isinstance(invoke("report", tmp_path / "run").exception, RuntimeError)
