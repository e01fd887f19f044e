"""The token budget of one VLM request: the server's context length, the prompt's size, ``max_tokens``.

vLLM answers a request whose prompt plus ``max_tokens`` exceeds ``--max-model-len`` with HTTP 400 (older
versions) or quietly shortens the answer (newer ones), so the client clamps ``max_tokens`` to what is
left after the prompt. The context length comes from the server
(:class:`~qwenvl_agents.vlm.limits.ServerLimits`, ``GET /v1/models``), asked once per client; the prompt
is estimated from its image tokens (exact: we sized the image) and its text (characters per token,
corrected by the usage the server reports).

Example:
    >>> est = TokenEstimator(chars_per_token=4.0)
    >>> est.estimate("a" * 400, visual_tokens=100)
    232
    >>> est.observe("a" * 400, visual_tokens=100, input_tokens=350)  # the server counted more
    >>> est.estimate("a" * 400, visual_tokens=100) >= 350
    True
"""

from __future__ import annotations

import math
import threading

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


def clamp_max_tokens(wanted: int, max_model_len: int | None, prompt_tokens: int) -> int:
    """``wanted``, or what the context leaves after the prompt when that is less (may be <= 0)."""
    if max_model_len is None:
        return wanted
    return min(wanted, max_model_len - prompt_tokens)
