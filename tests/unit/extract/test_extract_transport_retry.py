"""The transport retry policy (qwenvl_agents.vlm.retry: the OpenAI SDK's retries, counted at our transport)
against a real local HTTP server: every role's ChatOpenAI and the extractor on top of one."""

from __future__ import annotations

import asyncio
import email.utils
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest
from langchain_core.messages import HumanMessage

from qwenvl_agents.extract import VLMExtractor
from qwenvl_agents.settings import Settings
from qwenvl_agents.vlm import VLMClient
from qwenvl_agents.vlm.retry import RetryStats, counting, is_retryable
from tests.support.pages import page

READING = {
    "page_kind": "other",
    "language": "en",
    "markdown": "Hello",
    "tables": [],
    "invoice": None,
    "slide": None,
    "other": {"title": "Hello", "summary": None, "entities": []},
}


def completion(content: str) -> dict[str, Any]:
    return {
        "id": "cmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49},
    }


class Script:
    """What the server answers, request by request: (status, headers); then 200 with a completion."""

    def __init__(self) -> None:
        self.plan: list[tuple[int, dict[str, str]]] = []
        self.seen: list[float] = []
        self.lock = threading.Lock()


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with script.lock:
                script.seen.append(time.monotonic())
                status, headers = script.plan.pop(0) if script.plan else (200, {})
            body = json.dumps(completion(json.dumps(READING)) if status == 200 else {"error": {"message": "busy"}})
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", script
    httpd.shutdown()
    httpd.server_close()


PROMPT = [HumanMessage("hi")]


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_503_with_retry_after_is_waited_for_then_succeeds(server: tuple[str, Script]) -> None:
    base_url, script = server
    script.plan = [(503, {"Retry-After": "0.25"}), (503, {"Retry-After": "0.25"})]
    stats = RetryStats()

    async def call() -> Any:
        with VLMClient([base_url], "m", max_retries=5) as client, counting(stats):
            return await client.chat_model().ainvoke(PROMPT)

    started = time.monotonic()
    answer = asyncio.run(call())
    elapsed = time.monotonic() - started
    assert answer.response_metadata["finish_reason"] == "stop"
    assert stats.retries == 2 and len(script.seen) == 3 and stats.errors == {"http_503": 2}
    assert stats.requests == 3 and 0.5 <= stats.waited < 2.5  # what the server asked for, not the SDK's backoff
    assert script.seen[1] - script.seen[0] >= 0.24 and script.seen[2] - script.seen[1] >= 0.24
    assert elapsed < 5


def test_429_and_retry_after_http_date(server: tuple[str, Script]) -> None:
    base_url, script = server
    # An HTTP date has whole seconds: 2 to 3 s from now, so 1.8 to 2.8 s after the first retry (0.2 s in).
    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    script.plan = [(429, {"Retry-After": "0.2"}), (503, {"Retry-After": when})]
    stats = RetryStats()
    with VLMClient([base_url], "m", max_retries=3) as client, counting(stats):
        answer = client.chat_model().invoke(PROMPT)
    assert answer.content
    assert stats.retries == 2 and stats.errors == {"http_429": 1, "http_503": 1}
    assert script.seen[1] - script.seen[0] >= 0.19
    assert 1.0 <= script.seen[2] - script.seen[1] <= 3.5  # the HTTP date, in seconds from then


def test_retries_run_out_and_4xx_is_not_retried(server: tuple[str, Script]) -> None:
    base_url, script = server
    with VLMClient([base_url], "m", max_retries=2) as client:
        model = client.chat_model()
        script.plan = [(500, {})] * 4
        stats = RetryStats()
        with pytest.raises(openai.InternalServerError) as raised, counting(stats):
            model.invoke(PROMPT)
        assert len(script.seen) == 3 and stats.retries == 2 and is_retryable(raised.value)

        script.plan, script.seen = [(400, {})], []
        with pytest.raises(openai.BadRequestError) as bad:
            model.invoke(PROMPT)
        assert len(script.seen) == 1 and not is_retryable(bad.value)


def test_a_retry_after_of_an_hour_is_not_waited_for(server: tuple[str, Script]) -> None:
    """A confused server cannot park a worker for an hour: past two minutes the error is raised at once."""
    base_url, script = server
    script.plan = [(503, {"Retry-After": "3600"})]
    started = time.monotonic()
    with VLMClient([base_url], "m", max_retries=5) as client, pytest.raises(openai.InternalServerError):
        client.chat_model().invoke(PROMPT)
    assert len(script.seen) == 1 and time.monotonic() - started < 5


def test_vlm_extractor_counts_transport_retries_through_chat_openai(server: tuple[str, Script]) -> None:
    """The whole stack: ChatOpenAI (own retries off) -> our backoff -> a 503 then an answer."""
    base_url, script = server
    script.plan = [(503, {"Retry-After": "0.05"})]
    settings = Settings(vlm_max_retries=3, min_pixels=4 * 784, max_pixels=16 * 784)
    with VLMClient([base_url], "m", min_pixels=4 * 784, max_pixels=16 * 784) as client:
        ex = VLMExtractor(client, settings=settings)
        result = asyncio.run(ex.aextract(page()))
    assert result.status == "ok" and result.markdown == "Hello" and result.attempts == 1
    assert ex.stats.transport.retries == 1 and len(script.seen) == 2
    assert (result.input_tokens, result.output_tokens) == (40, 9)


def test_vlm_extractor_retries_503s_under_one_attempt(server: tuple[str, Script]) -> None:
    base_url, script = server
    script.plan = [(503, {"Retry-After": "0.05"})] * 2
    with VLMClient([base_url], "m", max_retries=2, min_pixels=4 * 784, max_pixels=16 * 784) as client:
        ex = VLMExtractor(client, settings=Settings(extract_attempts=3), max_model_len=4096)
        result = ex.extract(page())
    assert result.status == "ok" and result.attempts == 1
    assert len(script.seen) == 3 and ex.stats.requests == 3
    assert ex.stats.transport.retries == 2 and ex.stats.transport.errors == {"http_503": 2}


def test_vlm_extractor_gives_up_on_refused_connections_without_more_attempts() -> None:
    dead = f"http://127.0.0.1:{_dead_port()}/v1"
    with VLMClient([dead], "m", max_retries=2, min_pixels=4 * 784, max_pixels=16 * 784) as client:
        ex = VLMExtractor(client, settings=Settings(extract_attempts=3), max_model_len=4096)
        result = asyncio.run(ex.aextract(page(text_layer="A good enough text layer for the fallback page")))
    assert result.status == "fallback" and result.attempts == 1
    assert result.reason is not None and result.reason.startswith("vlm: connection after 2 retries")
    assert ex.stats.requests == 3  # 1 + 2 retries, then no new bad-output attempt
    assert ex.stats.transport.retries == 2 and ex.stats.transport.errors == {"connection": 3}
