"""The page index: one Chroma collection per knowledge base, holding pages and their vectors."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from qwenvl_agents.store.chroma import all_of, check_knowledge_base, iter_collection, make_client, normalize_where
from qwenvl_agents.store.embeddings import embedder_name, make_embeddings
from qwenvl_agents.store.errors import EmbedderMismatchError, IndexUnavailableError
from qwenvl_agents.store.records import (
    RECORD_VERSION,
    PageEntry,
    Record,
    RecordType,
    check_document_id,
    page_id,
    page_record_id,
    parse_record_id,
)
from qwenvl_agents.store.stored import StoredPage

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from langchain_core.embeddings import Embeddings

    from qwenvl_agents.settings import Settings
    from qwenvl_agents.types import DocumentInfo, PageExtraction, PageImage, StoredImage

META_EMBEDDER = "qwenvl_embedder"
META_SCHEMA = "qwenvl_record_version"
META_REVISION = "qwenvl_revision"
"""Changed after every write, so derived data (the lexical index) can tell it is stale without a scan."""


@dataclass(frozen=True, slots=True)
class DocumentSummary:
    """One document in the index, counted from its page records."""

    document_id: str
    source: str
    name: str
    title: str | None
    media_type: str
    page_count: int
    pages_indexed: int
    fallback_pages: int
    failed_pages: int


class PageIndex:
    """Pages of documents in ChromaDB, with our own vectors, one collection per knowledge base.

    **Open** with :meth:`open`: embedded Chroma under ``settings.chroma_dir`` by default, or the
    ``chroma run`` server at ``QWENVL_CHROMA_URL`` (use a server when several processes write). The
    knowledge base (``QWENVL_KNOWLEDGE_BASE``, default ``default``) names the collection: 3-512 characters of
    ``a-z A-Z 0-9 . _ -``. The embeddings default to :func:`~qwenvl_agents.store.embeddings.make_embeddings`;
    the collection remembers which embedder wrote it and refuses another (:class:`EmbedderMismatchError`).
    Chroma's own embedding function is never used: we always hand it vectors.

    **Write** with :meth:`upsert_page` / :meth:`upsert_pages`. A page's record id is its document's content
    hash plus the page number, so writing a page again replaces it; a page longer than
    ``settings.chunk_chars`` also gets chunk records, and chunks a shorter new version no longer has are
    deleted. Check :meth:`content_keys` first to skip pages whose content key is unchanged.
    :meth:`delete_document` removes every record of a document (page images are the caller's).

    **Read** with :meth:`get_page`, :meth:`pages_of`, :meth:`get`, :meth:`documents`, :meth:`count`;
    search with :meth:`dense_search`. ``where`` filters are Chroma metadata filters over the fields
    :class:`~qwenvl_agents.store.records.PageEntry` writes: ``document_id``, ``name``, ``page``,
    ``page_kind``, ``status``, ``vendor``, ``buyer``, ``document_number``, ``currency``, ``total``, ``tax``,
    ``date`` (ISO text, equality) and ``date_int`` (``YYYYMMDD``, for ranges). Several keys in one dict are
    combined with ``$and``. Lexical search is :class:`~qwenvl_agents.store.lexical.LexicalIndex`, built
    from the page texts stored here and kept in step through :meth:`revision`.

    **Errors**: a bad knowledge-base name raises :class:`KnowledgeBaseNameError`, another embedder
    :class:`EmbedderMismatchError`, an unreachable server or a foreign collection
    :class:`IndexUnavailableError`; mismatched or ambiguous arguments (an extraction of another document,
    the same page twice in one call, a document id that is not a SHA-256 hex digest) raise ``ValueError`` /
    ``TypeError`` before anything is written.

    **Concurrency**: one process may share a PageIndex between threads for reading; several writing
    processes need the Chroma server (embedded Chroma is not safe for that). Replacing a page deletes
    and re-adds its records (Chroma updates existing records far slower than it inserts), page record last,
    so a reader may briefly miss a page that is being rewritten.

    Example:
        >>> import tempfile, hashlib
        >>> from qwenvl_agents.settings import Settings
        >>> from qwenvl_agents.types import DocumentInfo, KeyFields, PageExtraction
        >>> index = PageIndex.open(Settings(data_dir=tempfile.mkdtemp()), knowledge_base="demo")
        >>> doc = DocumentInfo(hashlib.sha256(b"x").hexdigest(), "/in/acme.pdf", "acme.pdf", "pdf", "pdf", 1, 1)
        >>> page = PageExtraction(doc.document_id, 1, "Invoice from ACME. Total 120.00 EUR", "vlm",
        ...                       fields=KeyFields(seller="ACME", total=120.0))
        >>> index.upsert_page(doc, page)
        1
        >>> hits = index.dense_search("ACME invoice", k=1, where={"total": {"$gt": 100}})
        >>> [(hit.name, hit.page) for hit, score in hits]
        [('acme.pdf', 1)]
    """

    def __init__(
        self,
        client: ClientAPI,
        *,
        knowledge_base: str,
        embeddings: Embeddings,
        settings: Settings,
        location: str = "chroma",
    ) -> None:
        if not (hasattr(embeddings, "embed_documents") and hasattr(embeddings, "embed_query")):
            raise TypeError(
                f"embeddings must be a LangChain Embeddings object (embed_documents/embed_query), "
                f"got {type(embeddings).__name__}; Chroma embedding functions are not used"
            )
        self.client = client
        self.settings = settings
        self.knowledge_base = check_knowledge_base(knowledge_base)
        self.embeddings = embeddings
        self.embedder = embedder_name(embeddings)
        self.location = location
        self.writes = 0
        """Writes made through this object (readers in this process use it to see their own writes at once)."""
        self.collection = self._open_collection()
        # Chroma refuses larger writes; keep batches moderate so one request stays small for a server too.
        self.batch_size = max(1, min(int(client.get_max_batch_size()), 1000))

    @classmethod
    def open(
        cls, settings: Settings | None = None, knowledge_base: str | None = None, embeddings: Embeddings | None = None
    ) -> PageIndex:
        """The index for ``settings`` (read from the environment when ``None``)."""
        from qwenvl_agents.settings import Settings

        settings = settings if settings is not None else Settings()
        kb = check_knowledge_base(settings.knowledge_base if knowledge_base is None else knowledge_base)
        emb = embeddings if embeddings is not None else make_embeddings(settings)
        client, location = make_client(settings)
        return cls(client, knowledge_base=kb, embeddings=emb, settings=settings, location=location)

    @classmethod
    def drop(cls, settings: Settings | None = None, knowledge_base: str | None = None) -> bool:
        """Delete a knowledge base's collection and lexical index (page images stay). ``True`` if it existed."""
        from qwenvl_agents.settings import Settings

        settings = settings if settings is not None else Settings()
        kb = check_knowledge_base(settings.knowledge_base if knowledge_base is None else knowledge_base)
        client, _ = make_client(settings)
        shutil.rmtree(settings.lexical_dir / kb, ignore_errors=True)
        if kb not in cls.knowledge_bases(settings, client=client):
            return False
        client.delete_collection(kb)
        return True

    @classmethod
    def knowledge_bases(cls, settings: Settings | None = None, *, client: ClientAPI | None = None) -> list[str]:
        """Names of the collections in the configured Chroma."""
        from qwenvl_agents.settings import Settings

        if client is None:
            client, _ = make_client(settings if settings is not None else Settings())
        return sorted(c if isinstance(c, str) else c.name for c in client.list_collections())

    def _open_collection(self) -> Any:
        ours = {META_EMBEDDER: self.embedder, META_SCHEMA: RECORD_VERSION}
        collection = self.client.get_or_create_collection(
            self.knowledge_base,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata=ours,
        )
        meta = dict(collection.metadata or {})
        stored = meta.get(META_EMBEDDER)
        if stored is None:
            if collection.count():
                raise IndexUnavailableError(
                    f"collection {self.knowledge_base!r} at {self.location} holds records not written by "
                    "qwenvl-agents; choose another knowledge base name"
                )
            collection.modify(metadata={**meta, **ours})
        elif stored != self.embedder:
            raise EmbedderMismatchError(
                f"knowledge base {self.knowledge_base!r} at {self.location} was indexed with embeddings "
                f"{stored!r}, but {self.embedder!r} is configured; vectors from different embedders cannot be "
                f"compared. Configure {stored!r} again (QWENVL_EMBEDDINGS / QWENVL_EMBEDDINGS_MODEL), use a new "
                f"knowledge base name (QWENVL_KNOWLEDGE_BASE), or rebuild: PageIndex.drop(settings, "
                f"{self.knowledge_base!r}) and ingest again."
            )
        # configuration_json, not .configuration: the latter warns about the "legacy" (= none) embedding function.
        hnsw = (getattr(collection, "configuration_json", None) or {}).get("hnsw") or {}
        if hnsw.get("space") not in (None, "cosine"):
            raise IndexUnavailableError(
                f"collection {self.knowledge_base!r} uses distance {hnsw.get('space')!r}, not cosine; "
                "it was not created by qwenvl-agents"
            )
        return collection

    def __repr__(self) -> str:
        return f"PageIndex({self.knowledge_base!r} at {self.location}, embeddings={self.embedder!r})"

    # --- record ids and where-clauses: their shape is the index's alone; callers use these -------------

    page_id = staticmethod(page_id)
    """``PageIndex.page_id(document_id, page)``: the id of a page's record (``abab...ab:p00003``)."""
    parse_id = staticmethod(parse_record_id)
    """``PageIndex.parse_id(record_id)``: its :class:`~qwenvl_agents.store.records.RecordKey` (prefix, page, chunk)."""
    page_record_id = staticmethod(page_record_id)
    """``PageIndex.page_record_id(record_id)``: the id of the page record a record belongs to (a page: itself)."""
    where_all = staticmethod(all_of)
    """``PageIndex.where_all(*wheres)``: one Chroma ``where`` holding where all given ones hold (``None``: none)."""

    # --- writing ---------------------------------------------------------------------------------------

    def upsert_page(
        self,
        page: PageImage | DocumentInfo,
        extraction: PageExtraction,
        *,
        image: StoredImage | None = None,
        timestamp: float | None = None,
        dpi: float | None = None,
        content_key: str | None = None,
    ) -> int:
        """Write one page (a rendered :class:`PageImage`, or its :class:`DocumentInfo`); returns records written.

        With a PageImage, its stored image, timestamp and dpi are used and must not be given again.
        """
        from qwenvl_agents.types import DocumentInfo

        if isinstance(page, DocumentInfo):
            entry = PageEntry(page, extraction, image, timestamp, dpi, content_key)
        elif hasattr(page, "document") and hasattr(page, "page"):
            if image is not None or timestamp is not None or dpi is not None:
                raise ValueError("image/timestamp/dpi come from the PageImage; do not pass them as well")
            entry = PageEntry.from_page(page, extraction, content_key)
        else:
            raise TypeError(f"page must be a PageImage or DocumentInfo, got {type(page).__name__}")
        return self.upsert_pages([entry])

    def upsert_pages(self, entries: Iterable[PageEntry]) -> int:
        """Write many pages in batches; returns the number of records (pages + chunks) written."""
        entries = list(entries)
        seen: set[tuple[str, int]] = set()
        for entry in entries:
            if not isinstance(entry, PageEntry):
                raise TypeError(f"upsert_pages takes PageEntry objects, got {type(entry).__name__}")
            key = (entry.document.document_id, entry.page)
            if key in seen:
                raise ValueError(f"page {entry.page} of {entry.document.name} given twice in one call")
            seen.add(key)
        records = [r for e in entries for r in e.records(self.settings.chunk_chars)]
        chunk_counts: dict[str, dict[int, int]] = {}
        for record in records:
            if record.metadata["record_type"] == "page":
                doc = str(record.metadata["document_id"])
                chunk_counts.setdefault(doc, {})[int(record.metadata["page"])] = int(record.metadata["chunk_count"])
        self._delete_stale_chunks(chunk_counts)
        # Chunks first, the page record last: the page record (with its content key) marks the page complete,
        # so a crash in between leaves the old key and the page is extracted again on the next run.
        ordered = [r for r in records if r.metadata["record_type"] == "chunk"]
        ordered += [r for r in records if r.metadata["record_type"] == "page"]
        try:
            for start in range(0, len(ordered), self.batch_size):
                self._write(ordered[start : start + self.batch_size])
        finally:
            self._bump_revision()
        return len(ordered)

    def _bump_revision(self) -> None:
        # After the data is written: a reader that saw the old revision is then sure to see a change.
        self.writes += 1
        meta = {**(self.collection.metadata or {}), META_REVISION: secrets.token_hex(8)}
        self.collection.modify(metadata=meta)

    def revision(self) -> str | None:
        """A token that changes whenever this index writes (read fresh from Chroma, so other processes'
        writes show too); ``None`` for a collection never written by this version."""
        collection = self.client.get_collection(self.knowledge_base, embedding_function=None)
        value = (collection.metadata or {}).get(META_REVISION)
        return None if value is None else str(value)

    def _write(self, batch: Sequence[Record]) -> None:
        vectors = self.embeddings.embed_documents([r.embed_text for r in batch])
        array = np.asarray(vectors, dtype=np.float32)
        if array.ndim != 2 or array.shape[0] != len(batch) or not np.isfinite(array).all():
            raise ValueError(
                f"embeddings {self.embedder!r} returned {array.shape} for {len(batch)} texts "
                "(expected one finite vector per text)"
            )
        ids = [r.id for r in batch]
        # Chroma 1.5 updates existing records about 8x slower than it inserts new ones (measured: 1,000
        # records 7-13 s vs 1-1.7 s), so records being replaced are deleted first. Upsert (not add) keeps
        # this right when another writer re-adds an id in between; a crash in between leaves the page
        # without its page record, so its content key is missing and it is extracted again.
        existing = self.collection.get(ids=ids, include=[])["ids"]
        if existing:
            self.collection.delete(ids=list(existing))
        self.collection.upsert(
            ids=ids,
            embeddings=array,
            documents=[r.text for r in batch],
            metadatas=[r.metadata for r in batch],
        )

    def _delete_stale_chunks(self, chunk_counts: dict[str, dict[int, int]]) -> None:
        for doc, pages in chunk_counts.items():
            page_list = sorted(pages)
            for start in range(0, len(page_list), 500):
                where = all_of(
                    {"document_id": doc}, {"record_type": "chunk"}, {"page": {"$in": page_list[start : start + 500]}}
                )
                stale = [
                    rid
                    for ids, _, _ in iter_collection(
                        self.collection, where=where, include=[], batch_size=self.batch_size
                    )
                    for rid in ids
                    if (parsed := parse_record_id(rid))[2] is not None and parsed[2] >= pages[parsed[1]]
                ]
                for i in range(0, len(stale), self.batch_size):
                    self.collection.delete(ids=stale[i : i + self.batch_size])

    def delete_document(self, document_id: str) -> int:
        """Delete every record of a document; returns how many. Its page images are the caller's to delete."""
        check_document_id(document_id)
        ids = [rid for batch, _, _ in self.iter_batches(where={"document_id": document_id}) for rid in batch]
        for start in range(0, len(ids), self.batch_size):
            self.collection.delete(ids=ids[start : start + self.batch_size])
        if ids:
            self._bump_revision()
        return len(ids)

    def delete_pages_after(self, document_id: str, page_count: int) -> int:
        """Delete the records of pages past ``page_count`` (a video sampled at a lower rate has fewer)."""
        check_document_id(document_id)
        where = all_of({"document_id": document_id}, {"page": {"$gt": page_count}})
        ids = [rid for batch, _, _ in self.iter_batches(where=where) for rid in batch]
        for start in range(0, len(ids), self.batch_size):
            self.collection.delete(ids=ids[start : start + self.batch_size])
        if ids:
            self._bump_revision()
        return len(ids)

    # --- reading ---------------------------------------------------------------------------------------

    def iter_batches(
        self, where: dict[str, Any] | None = None, *, include_text: bool = False, include_metadata: bool = False
    ) -> Iterator[tuple[list[str], list[str | None], list[dict[str, Any] | None]]]:
        """``(ids, texts, metadatas)`` in batches over all records matching ``where`` (for exports, rebuilds)."""
        include = (["documents"] if include_text else []) + (["metadatas"] if include_metadata else [])
        yield from iter_collection(
            self.collection, where=normalize_where(where), include=include, batch_size=self.batch_size
        )

    def count(self) -> int:
        """Number of records: pages plus chunks (see :meth:`documents` for pages per document)."""
        return int(self.collection.count())

    def content_keys(self, document_id: str) -> dict[int, str]:
        """``{page: content_key}`` of the pages of a document already indexed."""
        check_document_id(document_id)
        keys: dict[int, str] = {}
        where = {"document_id": document_id, "record_type": "page"}
        for _, _, metas in self.iter_batches(where, include_metadata=True):
            for md in metas:
                if md and "content_key" in md:
                    keys[int(md["page"])] = str(md["content_key"])
        return keys

    def get(self, ids: Sequence[str]) -> list[StoredPage]:
        """Records by id, in the order given; unknown ids are left out."""
        if isinstance(ids, str):
            raise TypeError("get() takes a list of ids; use get([record_id])")
        if not ids:
            return []
        got = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        found = {
            rid: StoredPage.from_record(rid, doc, md)
            for rid, doc, md in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True)
        }
        return [found[rid] for rid in ids if rid in found]

    def texts(self, ids: Sequence[str]) -> dict[str, str]:
        """``{id: stored text}`` of the given records (unknown ids left out), fetched in batches."""
        out: dict[str, str] = {}
        for start in range(0, len(ids), self.batch_size):
            got = self.collection.get(ids=list(ids[start : start + self.batch_size]), include=["documents"])
            out.update(zip(got["ids"], [d or "" for d in got["documents"] or []], strict=True))
        return out

    def get_page(self, document_id: str, page: int) -> StoredPage | None:
        """The page record of ``page`` (from 1) of a document, or ``None`` when it is not indexed."""
        found = self.get([page_id(document_id, page)])
        if not found:
            return None
        if found[0].document_id != document_id:
            raise ValueError(f"record {found[0].id} belongs to document {found[0].document_id}, not {document_id}")
        return found[0]

    def pages_of(self, document_id: str, *, include_chunks: bool = False) -> list[StoredPage]:
        """A document's page records (and chunks when asked), in page order."""
        check_document_id(document_id)
        where = {"document_id": document_id} if include_chunks else {"document_id": document_id, "record_type": "page"}
        pages = [
            StoredPage.from_record(rid, doc, md)
            for ids, docs, metas in self.iter_batches(where, include_text=True, include_metadata=True)
            for rid, doc, md in zip(ids, docs, metas, strict=True)
        ]
        return sorted(pages, key=lambda p: (p.page, -1 if p.chunk is None else p.chunk))

    def documents(self) -> list[DocumentSummary]:
        """Every document in the knowledge base with its page counts, by name."""
        acc: dict[str, dict[str, Any]] = {}
        for _, _, metas in self.iter_batches({"record_type": "page"}, include_metadata=True):
            for md in metas:
                if not md:
                    continue
                doc = acc.setdefault(str(md["document_id"]), {"md": md, "pages": 0, "fallback": 0, "failed": 0})
                doc["pages"] += 1
                doc[str(md.get("status"))] = doc.get(str(md.get("status")), 0) + 1
        return sorted(
            (
                DocumentSummary(
                    document_id=doc_id,
                    source=str(a["md"].get("source", "")),
                    name=str(a["md"].get("name", "")),
                    title=a["md"].get("title"),
                    media_type=str(a["md"].get("media_type", "")),
                    page_count=int(a["md"].get("page_count", 0)),
                    pages_indexed=a["pages"],
                    fallback_pages=a["fallback"],
                    failed_pages=a["failed"],
                )
                for doc_id, a in acc.items()
            ),
            key=lambda d: (d.name, d.source, d.document_id),
        )

    def ids_where(self, where: dict[str, Any], *, record_type: RecordType | None = None) -> list[str]:
        """Ids of the records matching a metadata filter (e.g. to restrict a lexical search)."""
        clause = normalize_where(where, record_type)
        return [rid for ids, _, _ in iter_collection(self.collection, where=clause, include=[]) for rid in ids]

    def dense_search(
        self, query: str, k: int = 4, where: dict[str, Any] | None = None, *, record_type: RecordType | None = None
    ) -> list[tuple[StoredPage, float]]:
        """The ``k`` records nearest to ``query``, best first, with cosine similarity (1 = same direction).

        Pages and chunks both compete unless ``record_type`` says otherwise; hybrid ranking is the
        retrieval layer's job.
        """
        got = self._query(query, k, where, record_type, ["documents", "metadatas", "distances"])
        ids, docs = got["ids"][0], (got["documents"] or [[]])[0]
        metas, dists = (got["metadatas"] or [[]])[0], (got["distances"] or [[]])[0]
        return [
            (StoredPage.from_record(rid, doc, md), 1.0 - float(dist))
            for rid, doc, md, dist in zip(ids, docs, metas, dists, strict=True)
        ]

    def dense_ids(
        self, query: str, k: int = 4, where: dict[str, Any] | None = None, *, record_type: RecordType | None = None
    ) -> list[tuple[str, float]]:
        """Like :meth:`dense_search`, but only ``(record id, cosine similarity)``: no texts are read, which
        is most of a query's cost when ``k`` is large."""
        got = self._query(query, k, where, record_type, ["distances"])
        return [(rid, 1.0 - float(d)) for rid, d in zip(got["ids"][0], (got["distances"] or [[]])[0], strict=True)]

    def _query(
        self, query: str, k: int, where: dict[str, Any] | None, record_type: RecordType | None, include: list[Any]
    ) -> Any:
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query must be a non-empty string")
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        vector = np.asarray([self.embeddings.embed_query(query)], dtype=np.float32)
        return self.collection.query(
            query_embeddings=vector,
            n_results=k,
            where=normalize_where(where, record_type),
            include=include,
        )
