"""OpenAI-compatible endpoint backend: any server with the OpenAI chat (or completions) API:
`vllm serve`, TGI, llama.cpp's server, Ollama, or a hosted API.

Rules:
- The API key is read from the environment variable the suite names (`model.api_key_env`) when
  a request is sent, and never stored: not in the spec, the cache, a record or a log line.
- Every answer is cached under a hash of the whole request (URL, body, the server's model
  identity), so a rerun sends nothing twice and a run killed halfway loses no finished item.
- 429, 5xx and timeouts are retried with exponential backoff (`endpoint.retries`); a server that
  goes away is waited for (`endpoint.max_wait_s`), then the cell fails naming the URL and the
  error. Wrong key, wrong model, wrong URL and answers that are not the API's each get an error
  that names the setting, checked before any cell runs (`describe`).
- Log-likelihoods are not offered: chat APIs return no prompt log-probabilities, and a
  choice-scored task on this backend is refused before the run starts.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import httpx

from harness.common.cache_entry import read_json_entry
from harness.common.files import write_json_atomic
from harness.common.progress import Progress
from harness.models.backend import Generation, Message, ModelError
from harness.models.chat import encode_prompts, render_chat
from harness.spec.model import EndpointSettings

BACKOFF_CAP_S = 10.0
CHARS_PER_TOKEN = 4  # the estimate when neither a tokenizer nor the server counts tokens


class EndpointError(ModelError):
    """A server that cannot be used as configured; the message names the setting and the URL."""


def api_key(spec) -> str | None:
    """The key from the named environment variable (None when the suite names none)."""
    if not spec.api_key_env:
        return None
    key = os.environ.get(spec.api_key_env)
    if not key:
        raise EndpointError(
            f"model.api_key_env is {spec.api_key_env!r} but that environment variable is not "
            "set (export it before the run; the key is never written to a file)"
        )
    return key


def _root(base_url: str) -> str:
    """The server's root (vLLM's /tokenize and /version live beside /v1)."""
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


class _Client:
    """One server: requests with retries, backoff and the errors users can act on."""

    def __init__(self, spec):
        self.spec = spec
        self.settings = spec.endpoint or EndpointSettings()
        self.base = spec.base_url.rstrip("/")
        self.http = httpx.Client(timeout=self.settings.timeout_s)

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *exc) -> None:
        self.http.close()

    def _headers(self) -> dict[str, str]:
        key = api_key(self.spec)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def get(self, url: str) -> Any:
        return self.send("GET", url, None, wait_s=0.0)

    def send(self, method: str, url: str, body: dict | None, wait_s: float | None = None) -> Any:
        """The parsed JSON answer. Retries 429/5xx `retries` times and waits up to `wait_s`
        (default `max_wait_s`) for a server that does not answer at all."""
        s = self.settings
        wait_s = s.max_wait_s if wait_s is None else wait_s
        # Two budgets: answers of 429/5xx count against `retries`; a server that does not
        # answer at all is waited for up to `wait_s` (a restart can refuse connections for a
        # while, then answer 503 while it warms up).
        attempt, down, down_since = 0, 0, None
        while True:
            try:
                r = self.http.request(method, url, json=body, headers=self._headers())
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                now = time.monotonic()
                down_since = down_since or now
                if now - down_since >= wait_s:
                    raise EndpointError(
                        f"model.base_url {self.base}: no answer from {url} "
                        f"({type(exc).__name__}: {str(exc)[:160] or 'no detail'})"
                        + (f" for {wait_s:.0f} s" if wait_s else "")
                        + "; is the server running there? (finished items are cached: a rerun "
                        "sends only the rest)"
                    ) from None
                time.sleep(min(BACKOFF_CAP_S, 0.5 * 2**down, max(0.1, wait_s)))
                down += 1
                continue
            down, down_since = 0, None
            code = r.status_code
            if code == 429 or code >= 500:
                if attempt >= s.retries:
                    raise EndpointError(
                        f"model.base_url {self.base}: {url} answered HTTP {code} "
                        f"{attempt + 1} time(s): {_detail(r)}"
                    )
                delay = _retry_after(r) or min(BACKOFF_CAP_S, 0.5 * 2**attempt)
                time.sleep(delay)
                attempt += 1
                continue
            if code in (401, 403):
                who = (
                    f"the key in ${self.spec.api_key_env}"
                    if self.spec.api_key_env
                    else "no key (set model.api_key_env to the variable that holds one)"
                )
                raise EndpointError(
                    f"model.api_key_env: {url} refused {who} (HTTP {code}: {_detail(r)})"
                )
            if code == 404:
                raise EndpointError(
                    f"model.base_url {self.base}: {url} answered 404 ({_detail(r)}); "
                    "an OpenAI-compatible base_url usually ends in /v1"
                    + (f", and model.name {self.spec.name!r} must be one it serves" if body else "")
                )
            if code >= 400:
                raise EndpointError(
                    f"model {self.spec.name!r} at {self.base}: {url} refused the request "
                    f"(HTTP {code}: {_detail(r)})"
                )
            try:
                return r.json()
            except ValueError:
                raise EndpointError(
                    f"model.base_url {self.base}: {url} answered something that is not JSON "
                    f"(HTTP {code}, {r.headers.get('content-type', 'no content type')}): "
                    f"{r.text[:120]!r}; is this an OpenAI-compatible API?"
                ) from None


def _detail(r) -> str:
    try:
        data = r.json()
        err = data.get("error", data) if isinstance(data, dict) else data
        msg = err.get("message", err) if isinstance(err, dict) else err
        return str(msg)[:200]
    except ValueError:
        return r.text[:200] or "empty body"


def _retry_after(r) -> float | None:
    value = r.headers.get("retry-after")
    try:
        return min(60.0, max(0.0, float(value))) if value else None
    except ValueError:
        return None


def describe(spec) -> dict:
    """What the server says of the model (checked before any cell runs): its entry in /models
    less timestamps, and its version where it reports one. Raises EndpointError with the
    setting to fix: URL, key, or a model name the server does not serve."""
    with _Client(spec) as client:
        return _describe(client, spec)


def _describe(client: _Client, spec) -> dict:
    data = client.get(f"{client.base}/models")
    served = data.get("data") if isinstance(data, dict) else None
    if not isinstance(served, list):
        raise EndpointError(
            f"model.base_url {client.base}: GET /models answered JSON without a `data` list "
            f"({json.dumps(data)[:120]}); is this an OpenAI-compatible API?"
        )
    ids = [m.get("id") for m in served if isinstance(m, dict)]
    entry = next((m for m in served if isinstance(m, dict) and m.get("id") == spec.name), None)
    if entry is None:
        raise EndpointError(
            f"model.name {spec.name!r} is not served at {client.base}; it serves: "
            f"{', '.join(map(str, ids[:20])) or 'nothing'}"
        )
    info = {
        k: entry[k] for k in ("id", "owned_by", "root", "parent", "max_model_len") if k in entry
    }
    try:
        version = client.get(f"{_root(client.base)}/version")
        if isinstance(version, dict) and "version" in version:
            info["server_version"] = str(version["version"])
    except EndpointError:
        pass  # not every server has /version
    # Whether the server counts tokens (vLLM's /tokenize): it decides how the prompt budget is
    # counted, so it is part of the model's fingerprint and of every cell's key.
    try:
        counted = client.send("POST", f"{_root(client.base)}/tokenize",
                              {"model": spec.name, "prompt": "hello"}, wait_s=0.0)  # fmt: skip
        info["tokenize"] = isinstance(counted, dict) and isinstance(counted.get("count"), int)
    except EndpointError:
        info["tokenize"] = False
    return info


def fingerprint(spec, info: dict) -> str:
    """The model's identity as served: URL, name and what the server says of it."""
    parts = {"base_url": spec.base_url.rstrip("/"), "model": spec.name, "served": info}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


class EndpointBackend:
    """Generation through an OpenAI-compatible server, `concurrency` requests at a time."""

    supports_loglikelihood = False

    def __init__(
        self,
        spec,
        served: dict,
        cache: Path,
        seed: int = 0,
        tokenizer: Any = None,
        progress: bool = True,
    ):
        self.spec = spec
        self.name = f"{spec.name} @ {spec.base_url}"
        self.served = served  # what `describe` found: the model's entry, /tokenize, version
        self.fingerprint = fingerprint(spec, served)
        self.cache = cache
        self.seed = seed
        self.progress = progress
        self.client = _Client(spec)
        self.settings = self.client.settings
        # chat_template off: the completions API with plain text, else the chat API.
        self.use_chat = spec.chat_template != "off"
        self.system_prompt = spec.system_prompt
        self.batch_size = self.settings.concurrency
        self._counter: Any = None
        self._tokenizer = tokenizer  # `endpoint.tokenizer`, loaded by the caller
        self.token_counts = "unknown"  # tokenizer | server | estimate, once a prompt is counted
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- prompts

    def format_chat(self, messages: list[Message]) -> str:
        """The request's messages as JSON (chat API), or the turns joined as plain text
        (completions API): what the samples show is what was sent."""
        if self.system_prompt and messages[0]["role"] != "system":
            messages = [{"role": "system", "content": self.system_prompt}, *messages]
        if self.use_chat:
            return json.dumps(messages, ensure_ascii=False)
        return "\n\n".join(m["content"] for m in messages if m["content"]) + "\n"

    def count_tokens(self, prompt: str) -> int:
        if self._counter is None:
            self._counter = self._pick_counter()
        return self._counter(prompt)

    def _pick_counter(self):
        """A local tokenizer when the suite names one, else the server's /tokenize, else an
        estimate (4 characters per token); `token_counts` says which."""
        tokenizer = self._tokenizer
        if tokenizer is not None:
            self.token_counts = "tokenizer"

            def by_tokenizer(prompt: str) -> int:
                # The server renders the messages with the model's chat template and reads the
                # tokens it writes: render the same way here (harness.models.chat).
                messages = json.loads(prompt) if self.use_chat else None
                text = render_chat(tokenizer, True, None, messages) if messages else prompt
                return len(encode_prompts(tokenizer, self.use_chat, [text])[0])

            return by_tokenizer
        url = f"{_root(self.client.base)}/tokenize"

        def by_server(prompt: str) -> int:  # the server said it counts (describe)
            body = {"model": self.spec.name}
            if self.use_chat:
                body |= {"messages": json.loads(prompt), "add_generation_prompt": True}
            else:
                body["prompt"] = prompt
            return int(self.client.send("POST", url, body)["count"])

        if self.served.get("tokenize"):
            self.token_counts = "server"
            return by_server
        self.token_counts = "estimate"

        def estimate(prompt: str) -> int:
            text = "".join(m["content"] for m in json.loads(prompt)) if self.use_chat else prompt
            return math.ceil(len(text) / CHARS_PER_TOKEN)

        return estimate

    # ---------------------------------------------------------------- generation

    def generate(
        self, prompts: list[str], max_new_tokens: int, stop: list[str]
    ) -> list[Generation]:
        """Greedy answers, `concurrency` requests in flight; answered requests are cached as
        they arrive, so an error halfway keeps every finished item for the rerun."""
        stops = [s for s in stop if s][:4]  # the OpenAI API takes at most four
        unique = list(dict.fromkeys(prompts))  # one request per distinct prompt (and cache file)
        answers: dict[str, Generation] = {}
        with Progress("generate", len(unique), unit="items", enabled=self.progress) as bar:
            pool = ThreadPoolExecutor(max_workers=self.settings.concurrency)
            try:
                futures = {pool.submit(self._one, p, max_new_tokens, stops): p for p in unique}
                pending = set(futures)
                while pending:
                    done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    for f in done:
                        answers[futures[f]] = f.result()  # raises the first error
                        bar.update(items=1, tokens=answers[futures[f]].new_tokens)
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        return [answers[p] for p in prompts]

    def _one(self, prompt: str, max_new_tokens: int, stop: list[str]) -> Generation:
        if self.use_chat:
            path, body = "/chat/completions", {"messages": json.loads(prompt)}
        else:
            path, body = "/completions", {"prompt": prompt}
        body |= {"model": self.spec.name, "max_tokens": max_new_tokens, "temperature": 0.0}
        body |= {"seed": self.seed} | ({"stop": stop} if stop else {})
        key = self._request_key(path, body)
        cached = self._cached(key)
        if cached is not None:
            return _parse(
                cached["response"], self.use_chat, cached["seconds"], True, self.client.base
            )
        t0 = time.perf_counter()
        response = self.client.send("POST", self.client.base + path, body)
        seconds = time.perf_counter() - t0
        gen = _parse(response, self.use_chat, seconds, False, self.client.base)
        write_json_atomic(self._entry(key), {"response": response, "seconds": seconds})
        return gen

    def _request_key(self, path: str, body: dict) -> str:
        parts = {"url": self.client.base + path, "body": body, "served": self.fingerprint}
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def _entry(self, key: str) -> Path:
        return self.cache / key[:2] / f"{key}.json"

    def _cached(self, key: str) -> dict | None:
        entry = read_json_entry(self._entry(key), lambda problem: None)
        if entry is not None and "response" in entry and "seconds" in entry:
            return entry
        return None  # absent or damaged (a damaged entry is sent again and rewritten)

    def loglikelihood(self, pairs: list[tuple[str, str]]) -> list[float]:
        raise EndpointError(
            f"model {self.spec.name!r} (backend openai) gives no log-likelihoods: score this "
            "task with `scoring: generate`, or run its arm on backend hf or vllm"
        )


def _parse(response: Any, chat: bool, seconds: float, cached: bool, base: str) -> Generation:
    try:
        choice = response["choices"][0]
        text = choice["message"]["content"] if chat else choice["text"]
        usage = response.get("usage") or {}
    except (KeyError, IndexError, TypeError):
        raise EndpointError(
            f"model.base_url {base}: the answer is not an OpenAI "
            f"{'chat completion' if chat else 'completion'}: {json.dumps(response)[:160]}"
        ) from None
    reason = choice.get("finish_reason")
    if reason == "length":
        finish = "length"
    elif isinstance(choice.get("stop_reason"), str):
        finish = "stop"  # vLLM names the stop string that ended it
    elif "stop_reason" in choice:
        finish = "eos"
    else:
        finish = "stop"  # other servers do not tell a stop string from end-of-sequence
    return Generation(
        text=(text or "").strip(),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        new_tokens=int(usage.get("completion_tokens") or 0),
        batch_seconds=seconds,
        finish=finish,
        usage={
            "prompt_tokens": usage.get("prompt_tokens"),
            "completion_tokens": usage.get("completion_tokens"),
            "cached": cached,
        },
    )
