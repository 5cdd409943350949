"""A small OpenAI-compatible HTTP server for unit tests of adaptbench's own endpoint logic
(retries, errors, cache, key handling). It answers chat completions from canned answers, and
can be told to fail: HTTP 429/500 for the next requests, refuse keys, answer garbage.

It stands in for no real server: tests/test_endpoint_server.py runs the same flows against a
real `vllm serve`.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .fake_backend import TINY_ANSWERS


class Stub:
    def __init__(self, model: str = "stub-model", key: str | None = None):
        self.model = model
        self.key = key
        self.fail_next: list[int] = []  # status codes for the next completion requests
        self.garbage = False
        self.requests: list[dict] = []  # bodies of completion requests, in arrival order
        self.headers: list[str] = []  # Authorization headers seen
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, messages: list[dict]) -> str:
        question = messages[-1]["content"].rsplit("Question:", 1)[-1]
        return next((a for k, a in TINY_ANSWERS.items() if k in question), "I don't know.")

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, code: int, body, raw: bool = False) -> None:
                data = body.encode() if raw else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("content-type", "text/html" if raw else "application/json")
                self.send_header("content-length", str(len(data)))
                if code == 429:
                    self.send_header("retry-after", "0")
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                auth = self.headers.get("Authorization", "")
                stub.headers.append(auth)
                if stub.key is not None and auth != f"Bearer {stub.key}":
                    self._send(401, {"error": {"message": "Incorrect API key provided"}})
                    return False
                return True

            def do_GET(self):
                if stub.garbage:
                    return self._send(200, "<html>a login page</html>", raw=True)
                if not self._authorised():
                    return None
                if self.path == "/v1/models":
                    return self._send(
                        200,
                        {
                            "object": "list",
                            "data": [{"id": stub.model, "created": 1, "owned_by": "stub"}],
                        },
                    )
                return self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if not self._authorised():
                    return None
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                with stub._lock:
                    stub.requests.append(body)
                    code = stub.fail_next.pop(0) if stub.fail_next else 200
                if code != 200:
                    return self._send(code, {"error": {"message": f"scripted {code}"}})
                if body.get("model") != stub.model:
                    return self._send(
                        404, {"error": {"message": f"model {body.get('model')} does not exist"}}
                    )
                text = stub.answer(body["messages"])
                return self._send(
                    200,
                    {
                        "object": "chat.completion",
                        "model": stub.model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": 11,
                            "completion_tokens": len(text.split()),
                            "total_tokens": 11 + len(text.split()),
                        },
                    },
                )

        return Handler
