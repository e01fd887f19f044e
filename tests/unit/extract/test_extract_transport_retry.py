"""The transport backoff layer (qwenvl_agents.vlm.retry) against a real local HTTP server."""

from __future__ import annotations

import asyncio
import email.utils
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest

from qwenvl_agents.extract import VLMExtractor
from qwenvl_agents.settings import Settings
from qwenvl_agents.vlm import VLMClient
from qwenvl_agents.vlm.retry import RetryPolicy, RetryStats, acall_with_retry, call_with_retry, is_retryable
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


def test_503_with_retry_after_is_waited_for_then_succeeds(server: tuple[str, Script]) -> None:
    base_url, script = server
    script.plan = [(503, {"Retry-After": "0.25"}), (503, {"Retry-After": "0.25"})]
    client = openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0)
    stats = RetryStats()
    policy = RetryPolicy(max_retries=5, base_delay=10.0)  # a computed delay would be far longer

    async def call() -> Any:
        return await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])

    started = time.monotonic()
    answer = asyncio.run(acall_with_retry(call, policy, stats=stats))
    elapsed = time.monotonic() - started
    assert answer.choices[0].finish_reason == "stop"
    assert stats.retries == 2 and len(script.seen) == 3 and stats.errors == {"http_503": 2}
    assert stats.waited == pytest.approx(0.5)
    assert script.seen[1] - script.seen[0] >= 0.24 and script.seen[2] - script.seen[1] >= 0.24
    assert elapsed < 5


def test_retry_after_http_date_and_injected_sleep(server: tuple[str, Script]) -> None:
    base_url, script = server
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    script.plan = [(429, {"Retry-After": "7"}), (503, {"Retry-After": when}), (502, {})]
    client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0)
    slept: list[float] = []
    stats = RetryStats()
    policy = RetryPolicy(max_retries=3, base_delay=0.1, jitter=0.0)
    answer = call_with_retry(
        lambda: client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}]),
        policy,
        stats=stats,
        sleep=slept.append,
    )
    assert answer.choices[0].message.content
    assert slept[0] == 7.0
    assert 25 < slept[1] <= 30  # the HTTP date, in seconds from now
    assert slept[2] == pytest.approx(0.4)  # no Retry-After: base * 2**2, no jitter
    assert stats.retries == 3


def test_retries_run_out_and_4xx_is_not_retried(server: tuple[str, Script]) -> None:
    base_url, script = server
    client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0)

    def call() -> Any:
        return client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])

    script.plan = [(500, {})] * 4
    stats = RetryStats()
    with pytest.raises(openai.InternalServerError):
        call_with_retry(call, RetryPolicy(max_retries=2, base_delay=0.0), stats=stats)
    assert len(script.seen) == 3 and stats.retries == 2 and stats.gave_up == 1

    script.plan, script.seen = [(400, {})], []
    with pytest.raises(openai.BadRequestError) as raised:
        call_with_retry(call, RetryPolicy(max_retries=5, base_delay=0.0))
    assert len(script.seen) == 1 and not is_retryable(raised.value)


def test_delay_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0, jitter=1.0, max_retry_after=10.0)
    import random

    rng = random.Random(1)
    delays = [policy.delay(n, rng=rng) for n in range(8)]
    assert all(0 <= d <= 4.0 for d in delays) and len(set(delays)) == 8
    assert policy.delay(0, retry_after=3600) == 10.0


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
