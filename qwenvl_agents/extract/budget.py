"""The token budget of one VLM request: the server's context length, the prompt's size, ``max_tokens``.

vLLM answers a request whose prompt plus ``max_tokens`` exceeds ``--max-model-len`` with HTTP 400 (older
versions) or quietly shortens the answer (newer ones), so the client clamps ``max_tokens`` to what is
left after the prompt. The context length comes from ``GET /v1/models`` (vLLM's entries carry
``max_model_len``), asked once per extractor; the prompt is estimated from its image tokens (exact: we
sized the image) and its text (characters per token, corrected by the usage the server reports).

Example:
    >>> est = TokenEstimator(chars_per_token=4.0)
    >>> est.estimate("a" * 400, visual_tokens=100)
    232
    >>> est.observe("a" * 400, visual_tokens=100, input_tokens=350)  # the server counted more
    >>> est.estimate("a" * 400, visual_tokens=100) >= 350
    True
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx2

# Chat-template tokens around the messages (role markers, vision start/end) plus a safety margin.
TEMPLATE_OVERHEAD = 32


class TokenEstimator:
    """Estimates prompt tokens; learns the tokenizer's characters per token from reported usage.

    Starts pessimistic (2 characters per token for Latin text; CJK characters count one token each) so
    the first request cannot overflow; each answer's ``input_tokens`` then tightens the ratio, never
    loosening it past what was observed.
    """

    def __init__(self, chars_per_token: float = 2.0) -> None:
        self.chars_per_token = chars_per_token
        self._observed: float | None = None
        self._lock = threading.Lock()

    @staticmethod
    def _split(text: str) -> tuple[int, int]:
        ascii_chars = sum(1 for ch in text if ord(ch) < 128)
        return ascii_chars, len(text) - ascii_chars

    def estimate(self, text: str, visual_tokens: int = 0) -> int:
        ascii_chars, other = self._split(text)
        return visual_tokens + math.ceil(ascii_chars / self.chars_per_token) + other + TEMPLATE_OVERHEAD

    def observe(self, text: str, visual_tokens: int, input_tokens: int) -> None:
        """Learn from one answer: the server counted ``input_tokens`` for this prompt."""
        ascii_chars, other = self._split(text)
        text_tokens = input_tokens - visual_tokens - other - TEMPLATE_OVERHEAD // 2
        if ascii_chars < 200 or text_tokens <= 0:
            return  # too little text to learn from, or the image counted fewer tokens than we sent
        ratio = ascii_chars / text_tokens * 0.9  # keep a 10% margin below what was seen
        with self._lock:
            self._observed = ratio if self._observed is None else min(self._observed, ratio)
            self.chars_per_token = max(1.0, min(6.0, self._observed))


def _pick(entries: Any, model: str) -> int | None:
    if not isinstance(entries, list):
        return None
    lens = [e.get("max_model_len") for e in entries if isinstance(e, dict) and e.get("id") == model]
    if not lens and len(entries) == 1 and isinstance(entries[0], dict):
        lens = [entries[0].get("max_model_len")]
    values = [int(v) for v in lens if isinstance(v, int | float) and v > 0]
    return min(values) if values else None


class ServerLimits:
    """``max_model_len`` of the served model, the smallest over every endpoint, fetched once.

    A failed look-up (server down, not vLLM) is retried at most every ``retry_after`` seconds; until
    then the context length is unknown and ``max_tokens`` is not clamped.
    """

    def __init__(self, base_urls: Sequence[str], model: str, *, api_key: str = "EMPTY", timeout: float = 10.0) -> None:
        self.base_urls = [u.rstrip("/") for u in base_urls]
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.retry_after = 30.0
        self._value: int | None = None
        self._known = False
        self._failed_at = -math.inf
        self._alock: asyncio.Lock | None = None
        self._alock_loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def _due(self) -> bool:
        return not self._known and time.monotonic() - self._failed_at >= self.retry_after

    def _store(self, values: list[int | None], errors: int) -> int | None:
        found = [v for v in values if v is not None]
        if found:
            self._value, self._known = min(found), True
        elif errors:
            self._failed_at = time.monotonic()
        else:
            self._known = True  # the server answered but does not say: not vLLM, nothing to clamp to
        return self._value

    async def aget(self) -> int | None:
        if not self._due():
            return self._value
        loop = asyncio.get_running_loop()
        if self._alock is None or self._alock_loop is not loop:  # asyncio locks belong to one loop
            self._alock, self._alock_loop = asyncio.Lock(), loop
        async with self._alock:
            if not self._due():
                return self._value
            values: list[int | None] = []
            errors = 0
            async with httpx2.AsyncClient(timeout=self.timeout) as http:
                for base in self.base_urls:
                    try:
                        r = await http.get(base + "/models", headers=self._headers)
                        r.raise_for_status()
                        values.append(_pick(r.json().get("data"), self.model))
                    except (httpx2.HTTPError, ValueError):
                        errors += 1
            return self._store(values, errors)

    def get(self) -> int | None:
        with self._lock:
            if not self._due():
                return self._value
            values: list[int | None] = []
            errors = 0
            with httpx2.Client(timeout=self.timeout) as http:
                for base in self.base_urls:
                    try:
                        r = http.get(base + "/models", headers=self._headers)
                        r.raise_for_status()
                        values.append(_pick(r.json().get("data"), self.model))
                    except (httpx2.HTTPError, ValueError):
                        errors += 1
            return self._store(values, errors)


def clamp_max_tokens(wanted: int, max_model_len: int | None, prompt_tokens: int) -> int:
    """``wanted``, or what the context leaves after the prompt when that is less (may be <= 0)."""
    if max_model_len is None:
        return wanted
    return min(wanted, max_model_len - prompt_tokens)
