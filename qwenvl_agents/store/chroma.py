"""Opening Chroma: embedded or a `chroma run` server, knowledge-base names, and paging through a collection."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from qwenvl_agents.store.errors import IndexUnavailableError, KnowledgeBaseNameError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from qwenvl_agents.settings import Settings

_KB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")


def check_knowledge_base(name: object) -> str:
    """``name`` if Chroma accepts it as a collection name, else a :class:`KnowledgeBaseNameError`.

    Example:
        >>> check_knowledge_base("invoices-2026")
        'invoices-2026'
    """
    problem = None
    if not isinstance(name, str):
        problem = f"must be a string, not {type(name).__name__}"
    elif not _KB_NAME.match(name):
        problem = "must be 3-512 characters of a-z A-Z 0-9 . _ - and start and end with a letter or digit"
    elif ".." in name:
        problem = "must not contain '..'"
    else:
        try:
            ipaddress.ip_address(name)
            problem = "must not be an IP address"
        except ValueError:
            pass
    if problem:
        raise KnowledgeBaseNameError(
            f"knowledge base name {name!r} {problem} (it is the Chroma collection name); "
            "set QWENVL_KNOWLEDGE_BASE or pass knowledge_base= with e.g. 'invoices-2026'"
        )
    return str(name)


def parse_chroma_url(url: str) -> tuple[str, int, bool]:
    """``(host, port, ssl)`` of ``http://host:port`` (port 8000 when left out).

    Example:
        >>> parse_chroma_url("http://127.0.0.1:8001")
        ('127.0.0.1', 8001, False)
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
        raise ValueError(f"QWENVL_CHROMA_URL must look like http://host:port, got {url!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"QWENVL_CHROMA_URL has a bad port: {url!r}") from exc
    return parts.hostname, port or (443 if parts.scheme == "https" else 8000), parts.scheme == "https"


def make_client(settings: Settings) -> tuple[ClientAPI, str]:
    """A Chroma client for ``settings`` and a description of where it points (for messages).

    Embedded ``PersistentClient`` under ``settings.chroma_dir`` unless ``settings.chroma_url`` names a
    server. Telemetry is off: it would try the network on every start.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        host, port, ssl = parse_chroma_url(settings.chroma_url)
        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings)
            client.heartbeat()
        except Exception as exc:
            raise IndexUnavailableError(
                f"cannot reach the Chroma server at {settings.chroma_url} ({type(exc).__name__}: {exc}); "
                "start it with `chroma run --path DIR --host HOST --port PORT` or unset QWENVL_CHROMA_URL "
                "to use the embedded database"
            ) from exc
        return client, settings.chroma_url
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings), str(settings.chroma_dir)


def normalize_where(where: dict[str, Any] | None, record_type: str | None = None) -> dict[str, Any] | None:
    """A Chroma ``where`` from ours: Chroma wants one operator per dict, so ``{"a": 1, "b": 2}`` becomes
    ``{"$and": [{"a": 1}, {"b": 2}]}``; ``record_type`` adds ``{"record_type": ...}``.

    Example:
        >>> normalize_where({"vendor": "ACME", "total": {"$gt": 100}})
        {'$and': [{'vendor': 'ACME'}, {'total': {'$gt': 100}}]}
    """
    if where is not None and not isinstance(where, dict):
        raise TypeError(f"where must be a dict of Chroma metadata filters, got {type(where).__name__}")
    clauses: list[dict[str, Any]] = []
    if where:
        if len(where) == 1 or any(key.startswith("$") for key in where):
            clauses.append(where)
        else:
            clauses.extend({key: value} for key, value in where.items())
    if record_type is not None:
        if record_type not in ("page", "chunk"):
            raise ValueError(f"record_type must be 'page', 'chunk' or None, got {record_type!r}")
        clauses.append({"record_type": record_type})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def all_of(*wheres: dict[str, Any] | None) -> dict[str, Any] | None:
    """One Chroma ``where`` that holds where every given one holds: ``None``s left out, each normalized
    (:func:`normalize_where`), nested ``$and`` flattened; ``None`` when nothing is left.

    Example:
        >>> all_of({"record_type": "page"}, None, {"$and": [{"a": 1}, {"b": 2}]})
        {'$and': [{'record_type': 'page'}, {'a': 1}, {'b': 2}]}
        >>> all_of({"a": 1}), all_of(None, {})
        ({'a': 1}, None)
    """
    clauses: list[dict[str, Any]] = []
    for where in wheres:
        normal = normalize_where(where)
        if normal is not None:
            clauses.extend(normal["$and"] if list(normal) == ["$and"] else [normal])
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def iter_collection(
    collection: Collection,
    *,
    where: dict[str, Any] | None = None,
    include: list[str] | None = None,
    batch_size: int = 1000,
) -> Iterator[tuple[list[str], list[Any], list[Any]]]:
    """``(ids, documents, metadatas)`` batches of every record matching ``where``.

    ``documents``/``metadatas`` are lists of ``None`` when not included.
    """
    offset = 0
    include = include if include is not None else ["metadatas"]
    while True:
        got = collection.get(where=where, include=include, limit=batch_size, offset=offset)  # type: ignore[arg-type]
        ids = list(got["ids"])
        if not ids:
            return
        none: list[Any] = [None] * len(ids)
        docs: list[Any] = list(got.get("documents") or none)
        metas: list[Any] = list(got.get("metadatas") or none)
        yield ids, docs, metas
        if len(ids) < batch_size:
            return
        offset += len(ids)
