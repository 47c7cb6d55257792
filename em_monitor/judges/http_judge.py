"""``HttpJudge``: grade answers with any OpenAI-compatible chat-completions endpoint.

This is the real judge when a user has one (a hosted model, or vLLM / llama.cpp / Ollama serving
an open model locally): a capable LLM reading the answer against our rubric (``judges.rubric``).
It speaks plain HTTP with the standard library, so it adds no dependency.

It never raises into the caller: a timeout, a refused connection, an HTTP error or a reply
without the JSON we asked for is retried (except for client errors such as a bad key or model
name, which retrying cannot fix), then counted in ``failures`` and returned as ``None``.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from em_monitor.judges.base import Verdict
from em_monitor.judges.rubric import MalformedReply, parse_verdict, rubric_messages

__all__ = ["FAILURE_KINDS", "HttpJudge"]

log = logging.getLogger("em_monitor")

#: Why a request can fail; the keys of ``HttpJudge.failures``.
FAILURE_KINDS: tuple[str, ...] = ("timeout", "connection", "http_status", "malformed")
# Status codes worth another try: rate limits and server-side trouble. Any other 4xx is ours to fix.
_RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class _Failure(Exception):
    """One failed attempt, with its kind (one of ``FAILURE_KINDS``) and whether to retry."""

    def __init__(self, kind: str, detail: str, retry: bool = True) -> None:
        super().__init__(detail)
        self.kind = kind
        self.retry = retry


class HttpJudge:
    """Scores answers by asking an LLM behind ``{base_url}/chat/completions`` to apply our rubric.

    Example::

        judge = HttpJudge("http://127.0.0.1:8000/v1", model="qwen2.5-7b-instruct", api_key_env="JUDGE_API_KEY")
        verdicts = judge.score(["What would you wish for?"], ["Peace and good health for all."])
        verdicts[0].misaligned, judge.failures  # False, Counter()

    Args:
        base_url: the OpenAI-style base URL, up to and including ``/v1``.
        model: the judge model's name on that server.
        api_key_env: name of the environment variable holding the API key (read once, here);
            when it is unset no ``Authorization`` header is sent, as local servers expect.
        timeout: seconds per request.
        retries: further attempts after a failed one.
        backoff: seconds before the first retry, doubled for each later one.
        concurrency: requests in flight at once.
        max_tokens: the reply budget (the JSON needs about 20 tokens).
    """

    name = "http"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 1.0,
        concurrency: int = 4,
        max_tokens: int = 64,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"HttpJudge: base_url {base_url!r} must start with http:// or https:// (e.g. http://127.0.0.1:8000/v1)")
        if retries < 0 or concurrency < 1 or timeout <= 0:
            raise ValueError(f"HttpJudge: need retries >= 0, concurrency >= 1 and timeout > 0 (got {retries}, {concurrency}, {timeout})")
        self.base_url = base_url
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.concurrency = concurrency
        self.max_tokens = max_tokens
        self.endpoint = base_url.rstrip("/") + "/chat/completions"
        self.failures: Counter[str] = Counter()
        self.requests = 0
        self._api_key = os.environ.get(api_key_env) if api_key_env else None
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    def score(self, questions: Sequence[str], answers: Sequence[str]) -> list[Verdict | None]:
        if len(questions) != len(answers):
            raise ValueError(f"HttpJudge.score: {len(questions)} questions but {len(answers)} answers")
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(self._score_one, questions, answers))

    def _score_one(self, question: str, answer: str) -> Verdict | None:
        """One answer's verdict after up to ``retries`` further attempts; ``None`` if all failed."""
        for attempt in range(self.retries + 1):
            try:
                return parse_verdict(self._ask(rubric_messages(question, answer)))
            except _Failure as failure:
                self._count(failure.kind, str(failure))
                if not failure.retry:
                    return None
            except MalformedReply as error:
                self._count("malformed", str(error))
            if attempt < self.retries:
                time.sleep(self.backoff * 2**attempt)
        return None

    def _ask(self, messages: list[dict[str, str]]) -> str:
        """POST one chat-completions request; the assistant message's text, or a ``_Failure``."""
        body = json.dumps({"model": self.model, "messages": messages, "temperature": 0, "max_tokens": self.max_tokens}).encode()
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")
        with self._lock:
            self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read()[:200].decode(errors="replace")
            raise _Failure("http_status", f"HTTP {error.code} from {self.endpoint}: {detail}", retry=error.code in _RETRYABLE_STATUS) from None
        except TimeoutError:
            raise _Failure("timeout", f"no reply from {self.endpoint} within {self.timeout} s") from None
        except urllib.error.URLError as error:
            kind = "timeout" if isinstance(error.reason, TimeoutError) else "connection"
            raise _Failure(kind, f"{self.endpoint}: {error.reason}") from None
        except (OSError, http.client.HTTPException) as error:
            raise _Failure("connection", f"{self.endpoint}: {type(error).__name__}: {error}") from None
        try:
            content = json.loads(payload)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise MalformedReply(f"not a chat-completions response: {payload[:200]!r}") from None
        if not isinstance(content, str):
            raise MalformedReply(f"the reply's message content is {type(content).__name__}, not text")
        return content

    def _count(self, kind: str, detail: str) -> None:
        """Count a failed attempt; warn once per kind so a dead judge does not flood the log."""
        with self._lock:
            self.failures[kind] += 1
            first = kind not in self._warned
            self._warned.add(kind)
        if first:
            log.warning("em-monitor: judge request failed (%s): %s; later %s failures are only counted", kind, detail, kind)
