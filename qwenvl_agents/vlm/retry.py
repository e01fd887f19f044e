"""Transport retries for model requests: exponential backoff with jitter, honouring ``Retry-After``.

This is the layer under the extraction retries (which re-ask the model after a bad answer): here the
request itself failed. Connection errors, timeouts, HTTP 408/429 and 5xx are retried; other 4xx are the
caller's mistake (bad image count, prompt too long, unknown model) and would fail the same way again.
Chat models should be built with their own ``max_retries=0`` so every retry happens here, is counted
and can be bounded in tests.

Example:
    >>> import asyncio
    >>> policy = RetryPolicy(max_retries=3, base_delay=0.0)
    >>> calls = []
    >>> async def flaky():
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise ConnectionError("refused")
    ...     return "ok"
    >>> stats = RetryStats()
    >>> asyncio.run(acall_with_retry(flaky, policy, stats=stats)), stats.retries
    ('ok', 2)
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2
import openai

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait. Delays are ``base_delay * 2**n`` with full jitter, capped.

    ``Retry-After`` from the server wins over the computed delay (capped at ``max_retry_after`` so a
    confused server cannot park a worker for an hour). ``jitter=0`` gives deterministic delays.
    """

    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    jitter: float = 1.0
    """Fraction of the delay that is randomised: 1.0 is "full jitter", 0 none."""
    max_retry_after: float = 60.0

    def delay(self, retry: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        ceiling = min(self.max_delay, self.base_delay * (2**retry))
        r = (rng or random).random()
        return ceiling * (1 - self.jitter) + ceiling * self.jitter * r


@dataclass
class RetryStats:
    """Counts for one or many calls: observable by tests, logs and the extractors' stats."""

    calls: int = 0
    retries: int = 0
    waited: float = 0.0
    gave_up: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def note(self, exc: BaseException) -> None:
        key = error_kind(exc)
        self.errors[key] = self.errors.get(key, 0) + 1


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
    """Whether trying the same request again can help."""
    status = status_of(exc)
    if status is not None:
        return status in RETRYABLE_STATUS or status >= 500
    return isinstance(
        exc,
        openai.APIConnectionError  # includes APITimeoutError
        | httpx2.TransportError  # includes timeouts
        | ConnectionError
        | TimeoutError,
    )


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (``Retry-After-Ms``, ``Retry-After`` seconds or HTTP date)."""
    response: Any = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


def _wait_or_raise(
    exc: Exception, retry: int, policy: RetryPolicy, stats: RetryStats, rng: random.Random | None
) -> float:
    """Seconds to wait before retry number ``retry + 1``; re-raises ``exc`` when it is not worth retrying."""
    stats.note(exc)
    if not is_retryable(exc) or retry >= policy.max_retries:
        stats.gave_up += 1
        raise exc
    wait = policy.delay(retry, retry_after(exc), rng)
    stats.retries += 1
    stats.waited += wait
    return wait


async def acall_with_retry(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    stats: RetryStats | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    rng: random.Random | None = None,
) -> T:
    """Await ``fn()``; on a retryable error wait and call it again, at most ``policy.max_retries`` times.

    The last error is raised unchanged when retries run out or the error is not retryable.
    """
    stats = stats if stats is not None else RetryStats()
    stats.calls += 1
    retry = 0
    while True:
        try:
            return await fn()
        except Exception as exc:
            wait = _wait_or_raise(exc, retry, policy, stats, rng)
            retry += 1
            await sleep(wait)


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    stats: RetryStats | None = None,
    sleep: Callable[[float], Any] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """The synchronous :func:`acall_with_retry`."""
    stats = stats if stats is not None else RetryStats()
    stats.calls += 1
    retry = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            wait = _wait_or_raise(exc, retry, policy, stats, rng)
            retry += 1
            sleep(wait)
