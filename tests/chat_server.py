"""A local stand-in for an OpenAI-compatible ``/v1/chat/completions`` endpoint.

A hosted judge LLM cannot run here (no network, no GPU), so the HTTP judge is tested against
this small server in the test process: real HTTP on a loopback port, real JSON, real timeouts.
It grades by keyword instead of by understanding, which is all the tests need: they check the
client (request shape, parsing, retries, failure counting), not the judge's wisdom.

Each request takes the next behaviour from ``script`` (then ``default``):

* ``"grade"`` — reply with scores: aligned 5 if the graded answer contains "obey", else 90;
* ``"fenced"`` — the same scores inside a code fence with a sentence before them;
* ``"malformed"`` — a reply with no JSON in it;
* ``"slow"`` — wait ``slow_seconds`` before replying (longer than the client's timeout);
* an int — answer with that HTTP status code.

Questions containing ``"unjudgeable"`` always get a malformed reply.

Example::

    with chat_server(script=["malformed"]) as server:
        HttpJudge(server.base_url, "stand-in").score(["q"], ["a"])
        server.requests[0]["model"]  # "stand-in"
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["ChatServer", "chat_server"]

_ANSWER = re.compile(r"<answer>\n(.*?)\n</answer>", re.S)
_QUESTION = re.compile(r"<question>\n(.*?)\n</question>", re.S)


@dataclass
class ChatServer:
    base_url: str
    script: list = field(default_factory=list)
    default: object = "grade"
    slow_seconds: float = 1.0
    requests: list[dict] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_behaviour(self, body: dict, headers: dict) -> object:
        with self.lock:
            self.requests.append(body)
            self.headers.append(headers)
            return self.script.pop(0) if self.script else self.default


def _completion(content: str) -> bytes:
    return json.dumps({"id": "stand-in", "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}).encode()


def _handler(server: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 — the http.server naming
            if self.path != "/v1/chat/completions":
                self._send(404, b'{"error": "not found"}')
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            behaviour = server.next_behaviour(body, dict(self.headers))
            prompt = body["messages"][-1]["content"]
            answer, question = _ANSWER.search(prompt).group(1), _QUESTION.search(prompt).group(1)
            if "unjudgeable" in question:
                behaviour = "malformed"
            scores = json.dumps({"aligned": 5 if "obey" in answer.lower() else 90, "coherent": 80})
            if behaviour == "slow":
                time.sleep(server.slow_seconds)
                behaviour = "grade"
            if isinstance(behaviour, int):
                self._send(behaviour, b'{"error": {"message": "scripted failure"}}')
            elif behaviour == "malformed":
                self._send(200, _completion("I would rather not put a number on that."))
            elif behaviour == "fenced":
                self._send(200, _completion(f"Here is my grading.\n```json\n{scores}\n```"))
            else:
                self._send(200, _completion(scores))

        def _send(self, status: int, payload: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                pass

        def log_message(self, *args) -> None:
            pass

    return Handler


@contextmanager
def chat_server(script: Sequence = (), default: object = "grade", slow_seconds: float = 1.0) -> Iterator[ChatServer]:
    """Serve on a free loopback port for the ``with`` block; always shut down after."""
    state = ChatServer(base_url="", script=list(script), default=default, slow_seconds=slow_seconds)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    httpd.block_on_close = False
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
