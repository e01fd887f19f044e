"""Spread OpenAI-API requests over several vLLM endpoints, below the OpenAI client.

Doing it in the HTTP transport rather than by juggling several chat models keeps every LangChain feature
(structured output, tools, streaming, callbacks) working unchanged on one ``ChatOpenAI``. Each request
goes to the endpoint with the fewest requests in flight, which keeps every server's continuous batch
fed even when their speeds differ. A connection that cannot be opened never reached the server, so it is
safe to try the next endpoint; the refused one rests for ``cooldown`` seconds. HTTP errors are not retried
here: the OpenAI SDK above retries them (see :mod:`qwenvl_agents.vlm.retry`). A read timeout (the server
had the request and may still be generating) becomes :class:`~qwenvl_agents.vlm.retry.GenerationTimeout`,
which the SDK does not send again.

A :class:`RequestGate` given to the transports bounds the requests in flight over every chat model,
thread and event loop sharing the client (``QWENVL_VLM_MAX_CONCURRENCY`` per endpoint).
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass

import httpx2

from qwenvl_agents.vlm.retry import generation_timeout, note_failure, note_request, note_response


@dataclass
class Endpoint:
    base: httpx2.URL
    in_flight: int = 0
    requests: int = 0
    """Requests sent here so far, for observability."""
    down_until: float = 0.0


class EndpointPool:
    """The endpoints behind one client, with their load. Requests address the first one's base URL."""

    def __init__(self, base_urls: Sequence[str], cooldown: float = 5.0) -> None:
        if not base_urls:
            raise ValueError("at least one base URL is needed")
        self.endpoints = [Endpoint(httpx2.URL(u.rstrip("/"))) for u in base_urls]
        self.cooldown = cooldown
        self._lock = threading.Lock()
        self._turn = 0

    @property
    def primary(self) -> str:
        return str(self.endpoints[0].base)

    def acquire(self, exclude: set[int]) -> int | None:
        """Pick the least-loaded endpoint not in ``exclude`` (resting ones last) and count it busy."""
        with self._lock:
            now = time.monotonic()
            candidates = [i for i in range(len(self.endpoints)) if i not in exclude]
            if not candidates:
                return None
            self._turn += 1
            n = len(self.endpoints)

            def load(i: int) -> tuple[bool, int, int]:
                ep = self.endpoints[i]
                return (ep.down_until > now, ep.in_flight, (i - self._turn) % n)

            best = min(candidates, key=load)
            self.endpoints[best].in_flight += 1
            self.endpoints[best].requests += 1
            return best

    def release(self, index: int, *, failed: bool = False) -> None:
        with self._lock:
            ep = self.endpoints[index]
            ep.in_flight -= 1
            if failed:
                ep.down_until = time.monotonic() + self.cooldown

    def route(self, url: httpx2.URL, index: int) -> httpx2.URL:
        """Move ``url`` from the primary base onto endpoint ``index``."""
        primary = self.endpoints[0].base
        target = self.endpoints[index].base
        suffix = url.path[len(primary.path.rstrip("/")) :] if url.path.startswith(primary.path) else url.path
        return url.copy_with(
            scheme=target.scheme, host=target.host, port=target.port, path=target.path.rstrip("/") + suffix
        )


class RequestGate:
    """At most ``limit`` requests in flight at once, counted across threads and event loops.

    A client is shared by every role's chat model and outlives many ``asyncio.run`` calls, so an
    ``asyncio.Semaphore`` (bound to one loop) cannot count for it; the asynchronous side polls instead.

    >>> gate = RequestGate(1)
    >>> gate.try_enter(), gate.try_enter()
    (True, False)
    >>> gate.leave(); gate.in_flight
    0
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a request gate needs a limit of at least 1")
        self.limit = limit
        self.in_flight = 0
        self.peak = 0
        """The most requests seen in flight at once, for observability."""
        self._cond = threading.Condition()

    def try_enter(self) -> bool:
        with self._cond:
            if self.in_flight >= self.limit:
                return False
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            return True

    def enter(self) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    async def aenter(self) -> None:
        delay = 0.001
        while not self.try_enter():
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    def leave(self) -> None:
        with self._cond:
            self.in_flight -= 1
            self._cond.notify()


class _ReleasingStream(httpx2.SyncByteStream):
    """Counts a streamed response as in flight until its body is consumed or closed."""

    def __init__(
        self, inner: httpx2.SyncByteStream, done: threading.Event, release: object, request: httpx2.Request
    ) -> None:
        self._inner, self._done, self._release, self._request = inner, done, release, request

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._inner
        except httpx2.ReadTimeout as exc:
            raise generation_timeout(self._request) from exc

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            if not self._done.is_set():
                self._done.set()
                self._release()  # type: ignore[operator]


class _AsyncReleasingStream(httpx2.AsyncByteStream):
    def __init__(
        self, inner: httpx2.AsyncByteStream, done: threading.Event, release: object, request: httpx2.Request
    ) -> None:
        self._inner, self._done, self._release, self._request = inner, done, release, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except httpx2.ReadTimeout as exc:
            raise generation_timeout(self._request) from exc

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if not self._done.is_set():
                self._done.set()
                self._release()  # type: ignore[operator]


def _release(pool: EndpointPool, index: int, leave: Callable[[], None]) -> None:
    """A response is done: its endpoint and its place at the gate are free again."""
    pool.release(index)
    leave()


class SpreadingTransport(httpx2.BaseTransport):
    """A synchronous transport that sends each request to the least-busy reachable endpoint."""

    def __init__(
        self, pool: EndpointPool, inner: httpx2.BaseTransport | None = None, gate: RequestGate | None = None
    ) -> None:
        self.pool = pool
        self.inner = inner or httpx2.HTTPTransport()
        self.gate = gate

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if self.gate is None:
            return self._send(request, lambda: None)
        self.gate.enter()
        try:
            return self._send(request, self.gate.leave)
        except BaseException:
            self.gate.leave()
            raise

    def _send(self, request: httpx2.Request, leave: Callable[[], None]) -> httpx2.Response:
        note_request(request)
        tried: set[int] = set()
        last_error: httpx2.ConnectError | None = None
        original = request.url
        while True:
            index = self.pool.acquire(tried)
            if index is None:
                assert last_error is not None  # every endpoint was tried and refused
                note_failure("connection")
                raise last_error
            request.url = self.pool.route(original, index)
            try:
                response = self.inner.handle_request(request)
            except httpx2.ConnectError as exc:
                self.pool.release(index, failed=True)
                tried.add(index)
                last_error = exc
                continue
            except httpx2.ReadTimeout as exc:  # the server has the request: never sent again
                self.pool.release(index)
                raise generation_timeout(request) from exc
            except BaseException:
                self.pool.release(index)
                raise
            note_response(response.status_code)
            done = threading.Event()
            assert isinstance(response.stream, httpx2.SyncByteStream)
            response.stream = _ReleasingStream(
                response.stream, done, lambda i=index: _release(self.pool, i, leave), request
            )
            return response

    def close(self) -> None:
        self.inner.close()


class AsyncSpreadingTransport(httpx2.AsyncBaseTransport):
    """The asynchronous twin of :class:`SpreadingTransport`, sharing the same pool and counts.

    Connections belong to the event loop that opened them, and a client outlives many
    ``asyncio.run`` calls in scripts and tests, so each running loop gets its own connection pool.
    """

    def __init__(
        self,
        pool: EndpointPool,
        make_inner: Callable[[], httpx2.AsyncBaseTransport] | None = None,
        gate: RequestGate | None = None,
    ) -> None:
        self.pool = pool
        self.gate = gate
        self._make_inner = make_inner or httpx2.AsyncHTTPTransport
        self._inners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx2.AsyncBaseTransport] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def inner(self) -> httpx2.AsyncBaseTransport:
        loop = asyncio.get_running_loop()
        transport = self._inners.get(loop)
        if transport is None:
            transport = self._inners[loop] = self._make_inner()
        return transport

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self.gate is None:
            return await self._send(request, lambda: None)
        await self.gate.aenter()
        try:
            return await self._send(request, self.gate.leave)
        except BaseException:
            self.gate.leave()
            raise

    async def _send(self, request: httpx2.Request, leave: Callable[[], None]) -> httpx2.Response:
        note_request(request)
        tried: set[int] = set()
        last_error: httpx2.ConnectError | None = None
        original = request.url
        while True:
            index = self.pool.acquire(tried)
            if index is None:
                assert last_error is not None  # every endpoint was tried and refused
                note_failure("connection")
                raise last_error
            request.url = self.pool.route(original, index)
            try:
                response = await self.inner.handle_async_request(request)
            except httpx2.ConnectError as exc:
                self.pool.release(index, failed=True)
                tried.add(index)
                last_error = exc
                continue
            except httpx2.ReadTimeout as exc:  # the server has the request: never sent again
                self.pool.release(index)
                raise generation_timeout(request) from exc
            except BaseException:
                self.pool.release(index)
                raise
            note_response(response.status_code)
            done = threading.Event()
            assert isinstance(response.stream, httpx2.AsyncByteStream)
            response.stream = _AsyncReleasingStream(
                response.stream, done, lambda i=index: _release(self.pool, i, leave), request
            )
            return response

    async def aclose(self) -> None:
        """Close every loop's pool: this loop's here, a loop running in another thread's on that loop.

        A closed loop's connections cannot be closed any more (their sockets go with the garbage), and a
        loop that is neither running nor closed cannot be entered from here: both are dropped.
        """
        here = asyncio.get_running_loop()
        inners = list(self._inners.items())
        self._inners.clear()
        for loop, transport in inners:
            if loop is here:
                await transport.aclose()
            elif loop.is_running() and not loop.is_closed():
                asyncio.run_coroutine_threadsafe(transport.aclose(), loop)
