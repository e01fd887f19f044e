"""The transport retry policy of every model role: what is sent again, what is not, and the counts.

The retries themselves are the OpenAI SDK's (``max_retries`` of each ``ChatOpenAI``, from
``QWENVL_VLM_MAX_RETRIES``): connection errors, connect/write/pool timeouts, HTTP 408, 409, 429 and 5xx,
with exponential backoff and jitter, honouring ``Retry-After`` / ``Retry-After-Ms`` (up to two minutes;
a longer one is not waited for). Other 4xx are the caller's mistake (bad image count, prompt too long,
unknown model) and fail at once.

One exception to the SDK's policy: a request whose answer did not come within the read timeout was
received by the server, which may still be generating it. Sending it again would stack a second
generation on a server that is already too slow, so the transport turns that read timeout into
:class:`GenerationTimeout`, which the SDK passes through without a retry.

:func:`counting` lets a caller see what happened under its calls (the extractor's stats): the transport
counts every request, retry, wait and failure into the :class:`RetryStats` of the calling context.

Example:
    >>> stats = RetryStats()
    >>> with counting(stats):
    ...     note_failure("http_503")
    >>> stats.errors
    {'http_503': 1}
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx2
import openai

RETRYABLE_STATUS = frozenset({408, 409, 429})
"""Retried by the SDK besides every 5xx."""

_RETRY_COUNT_HEADER = "x-stainless-retry-count"  # set by the OpenAI SDK on every request it sends


class GenerationTimeout(openai.APITimeoutError):
    """The server took the request but its answer did not come in time; it was not sent again.

    A subclass of ``openai.APITimeoutError`` (so callers that catch timeouts still do); the SDK passes
    an ``OpenAIError`` raised by the transport through without retrying it.
    """

    def __init__(self, request: httpx2.Request, timeout: float | None = None) -> None:
        after = f" after {timeout:g} s" if timeout else ""
        openai.APIConnectionError.__init__(
            self,
            message=(
                f"Request timed out{after} while the server was generating; not retried "
                "(the server may still be working on it)"
            ),
            request=request,
        )


def not_resent(exc: BaseException) -> GenerationTimeout | None:
    """The :class:`GenerationTimeout` behind ``exc`` (LangChain re-raises SDK errors as its own), if any."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, GenerationTimeout):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def generation_timeout(request: httpx2.Request) -> GenerationTimeout:
    """The :class:`GenerationTimeout` for a read timeout on ``request`` (its read timeout named)."""
    timeouts = request.extensions.get("timeout") or {}
    note_failure("timeout")
    return GenerationTimeout(request, timeouts.get("read"))


@dataclass
class RetryStats:
    """Counts for one or many calls: observable by tests, logs and the extractors' stats."""

    calls: int = 0
    """Calls made by the caller (each may send several requests)."""
    requests: int = 0
    """Requests the transport sent, retries included."""
    retries: int = 0
    waited: float = 0.0
    """Seconds between a failed request and its retry."""
    gave_up: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    _failed_at: float | None = field(default=None, repr=False, compare=False)

    def note(self, exc: BaseException) -> None:
        """Count a failure by its :func:`error_kind`."""
        key = error_kind(exc)
        self.errors[key] = self.errors.get(key, 0) + 1

    def add(self, other: RetryStats) -> None:
        """Add ``other``'s counts to these."""
        self.calls += other.calls
        self.requests += other.requests
        self.retries += other.retries
        self.waited += other.waited
        self.gave_up += other.gave_up
        for key, n in other.errors.items():
            self.errors[key] = self.errors.get(key, 0) + n


_current: contextvars.ContextVar[RetryStats | None] = contextvars.ContextVar("qwenvl_retry_stats", default=None)


@contextmanager
def counting(stats: RetryStats) -> Iterator[RetryStats]:
    """Count the requests sent within the block (this thread or task) into ``stats``."""
    token = _current.set(stats)
    try:
        yield stats
    finally:
        _current.reset(token)


def note_request(request: httpx2.Request) -> None:
    """The transport is sending ``request`` (a retry when the SDK says so)."""
    stats = _current.get()
    if stats is None:
        return
    stats.requests += 1
    try:
        retry = int(request.headers.get(_RETRY_COUNT_HEADER) or 0) > 0
    except ValueError:
        retry = False
    if retry:
        stats.retries += 1
        if stats._failed_at is not None:
            stats.waited += time.monotonic() - stats._failed_at
    stats._failed_at = None


def note_failure(kind: str) -> None:
    """A request failed (``connection``, ``timeout``, ``http_503`` ...)."""
    stats = _current.get()
    if stats is not None:
        stats.errors[kind] = stats.errors.get(kind, 0) + 1
        stats._failed_at = time.monotonic()


def note_response(status: int) -> None:
    """A response came; failures worth a retry are counted."""
    if status in RETRYABLE_STATUS or status >= 500:
        note_failure(f"http_{status}")


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an OpenAI or httpx status error, else ``None``."""
    if isinstance(exc, openai.APIStatusError):
        return int(exc.status_code)
    if isinstance(exc, httpx2.HTTPStatusError):
        return int(exc.response.status_code)
    return None


def error_kind(exc: BaseException) -> str:
    """A short label: ``timeout``, ``connection``, ``http_503`` ... (for counters and reasons)."""
    status = status_of(exc)
    if status is not None:
        return f"http_{status}"
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException | TimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError | ConnectionError):
        return "connection"
    return type(exc).__name__


def is_retryable(exc: BaseException) -> bool:
    """Whether the transport retries this failure (so a raised one used up its retries).

    >>> import httpx2
    >>> is_retryable(GenerationTimeout(httpx2.Request("POST", "http://gpu/v1/chat/completions")))
    False
    """
    status = status_of(exc)
    if status is not None:
        return status in RETRYABLE_STATUS or status >= 500
    if isinstance(exc, httpx2.ReadTimeout) or not_resent(exc) is not None:
        return False
    return isinstance(exc, openai.APIConnectionError | httpx2.TransportError | ConnectionError | TimeoutError)
