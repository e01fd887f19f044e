"""The endpoint-spreading transport, against real HTTP servers on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2
import openai
import pytest
from langchain_core.messages import HumanMessage

from qwenvl_agents.vlm import VLMClient, explain_error
from qwenvl_agents.vlm.retry import GenerationTimeout, RetryStats, counting, not_resent
from qwenvl_agents.vlm.transport import AsyncSpreadingTransport, EndpointPool, SpreadingTransport


def _server(name: str, delay: float = 0.0, seen: list[float] | None = None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            self.rfile.read(length)
            if seen is not None:
                seen.append(time.monotonic())
            time.sleep(delay)
            body = json.dumps({"server": name, "path": self.path}).encode()
            try:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and hung up

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def two_servers() -> Iterator[list[str]]:
    servers = [_server("a", delay=0.05), _server("b", delay=0.05)]
    yield [f"http://127.0.0.1:{s.server_address[1]}/v1" for s in servers]
    for s in servers:
        s.shutdown()


def test_sequential_requests_alternate_and_keep_the_path(two_servers) -> None:
    pool = EndpointPool(two_servers)
    with httpx2.Client(transport=SpreadingTransport(pool)) as client:
        answers = [client.post(pool.primary + "/chat/completions", json={}).json() for _ in range(6)]
    assert {a["path"] for a in answers} == {"/v1/chat/completions"}
    assert sorted(a["server"] for a in answers) == ["a", "a", "a", "b", "b", "b"]
    assert all(ep.in_flight == 0 for ep in pool.endpoints)


def test_concurrent_requests_go_to_the_least_busy(two_servers) -> None:
    pool = EndpointPool(two_servers)
    seen: list[str] = []

    async def main() -> None:
        async with httpx2.AsyncClient(transport=AsyncSpreadingTransport(pool)) as client:
            responses = await asyncio.gather(
                *(client.post(pool.primary + "/chat/completions", json={}) for _ in range(10))
            )
        seen.extend(r.json()["server"] for r in responses)

    asyncio.run(main())
    assert seen.count("a") == 5 and seen.count("b") == 5
    assert all(ep.in_flight == 0 for ep in pool.endpoints)


def test_unreachable_endpoint_is_skipped_and_rested(two_servers) -> None:
    dead = f"http://127.0.0.1:{_dead_port()}/v1"
    pool = EndpointPool([dead, two_servers[0]], cooldown=60)
    with httpx2.Client(transport=SpreadingTransport(pool)) as client:
        answers = [client.post(pool.primary + "/chat/completions", json={}).json() for _ in range(4)]
    assert [a["server"] for a in answers] == ["a"] * 4
    assert pool.endpoints[0].down_until > time.monotonic()


def test_all_endpoints_unreachable_raises_connect_error() -> None:
    pool = EndpointPool([f"http://127.0.0.1:{_dead_port()}/v1", f"http://127.0.0.1:{_dead_port()}/v1"])
    with httpx2.Client(transport=SpreadingTransport(pool)) as client, pytest.raises(httpx2.ConnectError):
        client.post(pool.primary + "/chat/completions", json={})
    assert all(ep.in_flight == 0 for ep in pool.endpoints)


def test_streamed_response_counts_as_busy_until_closed(two_servers) -> None:
    pool = EndpointPool(two_servers[:1])
    with httpx2.Client(transport=SpreadingTransport(pool)) as client:
        with client.stream("POST", pool.primary + "/chat/completions", json={}) as response:
            assert pool.endpoints[0].in_flight == 1
            response.read()
        assert pool.endpoints[0].in_flight == 0


def test_a_read_timeout_is_not_sent_again() -> None:
    """The server had the request and may still be generating: one request, however many retries are allowed."""
    seen: list[float] = []
    server = _server("slow", delay=1.5, seen=seen)
    base = f"http://127.0.0.1:{server.server_address[1]}/v1"
    stats = RetryStats()
    try:
        with VLMClient([base], "m", timeout=0.3, max_retries=5) as client, counting(stats):
            with pytest.raises(openai.APITimeoutError) as raised:
                client.chat_model().invoke([HumanMessage("hi")])
            assert len(seen) == 1 and client.pool.endpoints[0].in_flight == 0

            async def ask() -> None:
                await client.chat_model().ainvoke([HumanMessage("hi")])

            with pytest.raises(openai.APITimeoutError) as araised:
                asyncio.run(ask())
            assert len(seen) == 2
    finally:
        server.shutdown()
    assert isinstance(not_resent(raised.value), GenerationTimeout)
    assert isinstance(not_resent(araised.value), GenerationTimeout)
    assert stats.requests == 2 and stats.retries == 0 and stats.errors == {"timeout": 2}
    message = str(explain_error(raised.value))
    assert "timed out after 0.3 s" in message and "not retried" in message


def test_pool_needs_an_endpoint() -> None:
    with pytest.raises(ValueError):
        EndpointPool([])
