"""The openai backend's own logic against a small stub server (tests/openai_stub.py): errors
that name the setting, retries, the response cache, the key never written, capability checks
before the run. tests/test_endpoint_server.py runs the integration against a real `vllm serve`."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.models.endpoint import EndpointBackend, EndpointError, describe
from harness.spec.config import ModelSpec

from .openai_stub import Stub

KEY = "sk-test-3b9f2c71d0a84e6f"


@pytest.fixture
def stub():
    server = Stub()
    yield server
    server.close()


def spec_for(stub: Stub, **extra) -> ModelSpec:
    return ModelSpec.model_validate(
        {"backend": "openai", "model": stub.model, "base_url": stub.base_url}
        | {"endpoint": {"max_wait_s": 1.0, "retries": 3}}
        | extra
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_describe_names_the_setting_for_each_bad_input(stub, monkeypatch):
    assert describe(spec_for(stub))["id"] == stub.model
    with pytest.raises(EndpointError, match="model.name 'gpt-nope' is not served .* stub-model"):
        describe(spec_for(stub, model="gpt-nope"))
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(EndpointError, match=f"model.base_url {url}: no answer"):
        describe(spec_for(stub, base_url=url))
    with pytest.raises(EndpointError, match="404.*usually ends in /v1"):
        describe(spec_for(stub, base_url=stub.base_url[: -len("/v1")] + "/api"))
    stub.key = KEY
    with pytest.raises(EndpointError, match="model.api_key_env: .*refused no key"):
        describe(spec_for(stub))
    with pytest.raises(EndpointError, match="'STUB_KEY' but that environment variable is not set"):
        describe(spec_for(stub, api_key_env="STUB_KEY"))
    monkeypatch.setenv("STUB_KEY", "wrong")
    with pytest.raises(EndpointError, match=r"refused the key in \$STUB_KEY \(HTTP 401"):
        describe(spec_for(stub, api_key_env="STUB_KEY"))
    monkeypatch.setenv("STUB_KEY", KEY)
    assert describe(spec_for(stub, api_key_env="STUB_KEY"))["id"] == stub.model
    stub.garbage = True
    with pytest.raises(EndpointError, match="not JSON .*OpenAI-compatible"):
        describe(spec_for(stub))


def test_retries_then_caches_every_answer(stub, tmp_path):
    spec = spec_for(stub)
    backend = EndpointBackend(spec, describe(spec), tmp_path / "responses", progress=False)
    prompts = [
        backend.format_chat([{"role": "user", "content": f"Question: {q}"}])
        for q in ("Hearthward deductible?", "Pawsmith wait?", "Who?")
    ]
    stub.fail_next = [500, 429]  # the first two requests fail, their retries succeed
    outs = backend.generate(prompts, max_new_tokens=8, stop=["\n"])
    assert [o.text for o in outs] == ["$640", "19 days", "I don't know."]
    assert len(stub.requests) == 5
    assert outs[0].usage == {"prompt_tokens": 11, "completion_tokens": 1, "cached": False}
    assert stub.requests[-1]["temperature"] == 0.0 and stub.requests[-1]["stop"] == ["\n"]
    again = backend.generate(prompts, max_new_tokens=8, stop=["\n"])
    assert [o.text for o in again] == [o.text for o in outs]
    assert len(stub.requests) == 5 and all(o.usage["cached"] for o in again)
    stub.fail_next = [500] * 10
    with pytest.raises(EndpointError, match=r"answered HTTP 500 4 time\(s\)"):
        backend.generate(prompts[:1], max_new_tokens=9, stop=[])


def test_server_gone_fails_after_max_wait_and_keeps_finished_answers(stub, tmp_path):
    spec = spec_for(stub)
    backend = EndpointBackend(spec, describe(spec), tmp_path / "responses", progress=False)
    first = backend.format_chat([{"role": "user", "content": "Question: Hearthward?"}])
    second = backend.format_chat([{"role": "user", "content": "Question: Pawsmith?"}])
    backend.generate([first], 8, [])
    stub.close()
    with pytest.raises(
        EndpointError, match=f"model.base_url {stub.base_url}: no answer .* for 1 s"
    ):
        backend.generate([first, second], 8, [])
    # The finished answer is still served from the cache with the server down.
    assert backend.generate([first], 8, [])[0].text == "$640"


def endpoint_suite(tmp_path: Path, stub: Stub, arms: list, scoring: str = "generate") -> Path:
    from .conftest import QA_ROWS, write_jsonl

    data = tmp_path / "data"
    rows = QA_ROWS
    if scoring == "choice":
        rows = [dict(r, choices=["a", "b"], label=0, answers=["a"]) for r in QA_ROWS]
    write_jsonl(data / "train.jsonl", [dict(r, id="t" + r["id"]) for r in rows])
    write_jsonl(data / "eval.jsonl", rows)
    suite = {
        "name": "endpoint",
        "model": {
            "backend": "openai",
            "model": stub.model,
            "base_url": stub.base_url,
            "api_key_env": "STUB_KEY",
            "endpoint": {"max_wait_s": 1.0},
        },
        "tasks": [
            {
                "name": "qa",
                "data": {"train": "data/train.jsonl", "eval": "data/eval.jsonl"},
                "instruction": "Answer briefly.",
                "template": "Question: {question}",
                "scoring": scoring,
                "generation": {"max_new_tokens": 6},
            }
        ],
        "arms": arms,
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def test_a_suite_on_an_endpoint_runs_records_its_backend_and_writes_no_key(
    stub, tmp_path, monkeypatch, isolated_cache
):
    stub.key = KEY
    monkeypatch.setenv("STUB_KEY", KEY)
    suite = endpoint_suite(tmp_path, stub, ["base", {"arm": "few_shot", "params": {"k": 1}}])
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(suite), "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    results = json.loads((out / "results.json").read_text())
    base = next(run for run in results["runs"] if run["arm"] == "base")
    assert base["backend"]["kind"] == "openai" and base["backend"]["api_key_env"] == "STUB_KEY"
    assert base["backend"]["served"]["id"] == stub.model
    assert base["backend"]["token_counts"] == "estimate"  # the stub has no /tokenize
    assert base["metrics"]["exact_match"]["value"] == pytest.approx(
        3 / 6
    )  # 2 right, 1 right abstention
    usage = base["efficiency"]["server_usage"]
    assert usage == {
        "requests": 6,
        "prompt_tokens": 66,
        "completion_tokens": usage["completion_tokens"],
        "cached_responses": 0,
    }
    assert all(h == f"Bearer {KEY}" for h in stub.headers)
    assert "openai" in (out / "report.md").read_text()
    for folder in (out, isolated_cache):
        for f in folder.rglob("*"):
            if f.is_file():
                assert KEY not in f.read_text(errors="replace"), f
    sent = len(stub.requests)
    r = CliRunner().invoke(
        main, ["run", str(suite), "--out", str(tmp_path / "again"), "--force", "--no-progress"]
    )
    assert r.exit_code == 0, r.output
    assert len(stub.requests) == sent  # --force recomputes the cells from cached answers


def test_what_an_endpoint_cannot_do_is_refused_before_any_cell(stub, tmp_path, monkeypatch):
    monkeypatch.setenv("STUB_KEY", "x")
    for arms, scoring, message in (
        (["lora"], "generate", "lora trains weights"),
        (["base"], "choice", "log-likelihood of each choice"),
    ):
        suite = endpoint_suite(tmp_path, stub, arms, scoring)
        r = CliRunner().invoke(
            main, ["run", str(suite), "--out", str(tmp_path / "o"), "--no-progress"]
        )
        assert r.exit_code == 2 and message in r.output, r.output
        assert stub.requests == []
    suite = endpoint_suite(tmp_path, stub, ["base"])
    monkeypatch.delenv("STUB_KEY")
    r = CliRunner().invoke(main, ["run", str(suite), "--out", str(tmp_path / "o"), "--no-progress"])
    assert r.exit_code == 2 and "STUB_KEY" in r.output and "not set" in r.output, r.output


def test_openai_settings_are_checked_when_the_suite_loads():
    with pytest.raises(ValueError, match="needs `base_url`"):
        ModelSpec.model_validate({"backend": "openai", "model": "m"})
    with pytest.raises(ValueError, match="applies to backend openai"):
        ModelSpec.model_validate({"name": "m", "base_url": "http://127.0.0.1:1/v1"})
    with pytest.raises(ValueError, match="not an http"):
        ModelSpec.model_validate({"backend": "openai", "model": "m", "base_url": "localhost:8000"})
    with pytest.raises(ValueError, match="not both"):
        ModelSpec.model_validate({"name": "a", "model": "b"})


def test_the_same_prompt_twice_is_one_request_and_urls_carry_no_secrets(stub, tmp_path):
    spec = spec_for(stub)
    backend = EndpointBackend(spec, describe(spec), tmp_path / "responses", progress=False)
    prompt = backend.format_chat([{"role": "user", "content": "Question: Pawsmith?"}])
    outs = backend.generate([prompt, prompt, prompt], 8, [])
    assert [o.text for o in outs] == ["19 days"] * 3 and len(stub.requests) == 1
    for url in ("http://user:sk-1@127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1?api_key=sk-1"):
        with pytest.raises(ValueError, match="must not carry credentials"):
            ModelSpec.model_validate({"backend": "openai", "model": "m", "base_url": url})
