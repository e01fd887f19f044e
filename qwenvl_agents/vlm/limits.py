"""What the server allows: the served model's context length (``max_model_len``), asked once.

vLLM lists ``max_model_len`` with each model of ``GET /v1/models``; a prompt plus ``max_tokens`` above it
is refused (older versions) or its answer quietly shortened (newer ones), so callers clamp ``max_tokens``
to what the prompt leaves (see :mod:`qwenvl_agents.extract.budget`). Every role asks the same server,
so the client holds one :class:`ServerLimits` (:attr:`VLMClient.limits
<qwenvl_agents.vlm.client.VLMClient.limits>`, :meth:`ModelPort.max_model_len
<qwenvl_agents.vlm.port.ModelPort.max_model_len>`).

Example:
    >>> _pick([{"id": "qwen", "max_model_len": 8192}], "qwen")
    8192
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx2


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
