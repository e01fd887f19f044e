"""Pages as Chroma records, and back.

Every page becomes one ``page`` record (text: a header line with file name, title and page number, then the
page's Markdown, its tables and summary); a page longer than ``chunk_chars`` also gets ``chunk`` records so
a long page is still found by a passage. Ids are deterministic, so indexing a page again replaces it:

- page: ``f"{document_id[:24]}:p{page:05d}"``
- chunk: ``f"{document_id[:24]}:p{page:05d}:c{k:03d}"``

Chroma metadata holds scalars only, so key fields are flattened (``vendor``, ``total``, ``date``, ...; also
``date_int`` = ``YYYYMMDD`` because Chroma's ``$gt``/``$lt`` compare numbers only) and the full
:class:`~qwenvl_agents.types.KeyFields` and tables ride along as JSON on the page record.

Example:
    >>> from qwenvl_agents.types import DocumentInfo, KeyFields, PageExtraction
    >>> doc = DocumentInfo("ab" * 32, "/tmp/inv.pdf", "inv.pdf", "pdf", "pdf", 1000, 2)
    >>> ext = PageExtraction(doc.document_id, 1, "Total: 12.50 EUR", "vlm",
    ...                      fields=KeyFields(seller="ACME", total=12.5, issue_date="2026-03-15"))
    >>> [record] = PageEntry(doc, ext).records(chunk_chars=2000)
    >>> record.id, record.text.splitlines()[0]
    ('abababababababababababab:p00001', 'inv.pdf — page 1 of 2')
    >>> record.metadata["vendor"], record.metadata["total"], record.metadata["date_int"]
    ('ACME', 12.5, 20260315)
    >>> from qwenvl_agents.store.stored import StoredPage
    >>> StoredPage.from_record(record.id, record.text, record.metadata).fields.seller
    'ACME'
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from qwenvl_agents.store.chunks import split_chunks
from qwenvl_agents.types import PageExtraction, StoredImage, Table

if TYPE_CHECKING:
    from qwenvl_agents.types import DocumentInfo, PageImage

Scalar = str | int | float | bool
RecordType = Literal["page", "chunk"]
RECORD_VERSION = 1
_DOC_ID = re.compile(r"^[0-9a-f]{24,128}$")
_RECORD_ID = re.compile(r"^([0-9a-f]{24}):p(\d{5})(?::c(\d{3}))?$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def check_document_id(document_id: str) -> str:
    """``document_id`` if it is a lower-case hex digest (DocumentInfo.document_id is SHA-256 hex).

    Record ids keep only the first 24 hex digits; for a content hash two documents never share them, for
    an arbitrary name they could and one document would silently overwrite the other, so those are refused.
    """
    if not isinstance(document_id, str) or not _DOC_ID.match(document_id):
        raise ValueError(
            f"document_id must be the SHA-256 hex digest of the document's bytes (DocumentInfo.document_id), "
            f"got {document_id!r}"
        )
    return document_id


def page_id(document_id: str, page: int) -> str:
    """Id of a page's record. Example: ``page_id("ab" * 32, 3) == "abababababababababababab:p00003"``."""
    if not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= 99999:
        raise ValueError(f"page numbers run from 1 to 99999, got {page!r}")
    return f"{check_document_id(document_id)[:24]}:p{page:05d}"


def chunk_id(document_id: str, page: int, chunk: int) -> str:
    """Id of chunk ``chunk`` (from 0) of a page."""
    if not 0 <= chunk <= 999:
        raise ValueError(f"a page has at most 1000 chunks, got chunk {chunk}; raise QWENVL_CHUNK_CHARS")
    return f"{page_id(document_id, page)}:c{chunk:03d}"


def page_record_id(record_id: str) -> str:
    """The id of the page record a record belongs to: itself for a page, its page for a chunk.

    Example:
        >>> page_record_id("abababababababababababab:p00003:c001")
        'abababababababababababab:p00003'
    """
    return record_id.rsplit(":c", 1)[0]


class RecordKey(NamedTuple):
    """What a record id says: the first 24 hex digits of its document's id, its page, its chunk (or None)."""

    document_prefix: str
    page: int
    chunk: int | None


def parse_record_id(record_id: str) -> RecordKey:
    """``(document id prefix, page, chunk or None)`` of a record id.

    Example:
        >>> parse_record_id("abababababababababababab:p00003:c001")
        RecordKey(document_prefix='abababababababababababab', page=3, chunk=1)
    """
    match = _RECORD_ID.match(record_id)
    if not match:
        raise ValueError(f"not a qwenvl-agents record id: {record_id!r}")
    chunk = match.group(3)
    return RecordKey(match.group(1), int(match.group(2)), None if chunk is None else int(chunk))


def content_key(source: str | tuple[str, int], extractor: str, model: str | None, prompt_version: str | None) -> str:
    """What a page's extracted content depends on; an unchanged key means: do not extract the page again.

    ``source`` is the page image's SHA-256 when there is one (a new rendering resolution is a new image),
    else ``(document_id, page)``. Compute it from the extractor, model and prompt version *about to be
    used*; a page that fell back to OCR was stored with ``extractor="ocr"``, so its key differs from the
    ``"vlm"`` key and the page is tried again on the next run.

    Example:
        >>> content_key(("ab" * 32, 1), "vlm", "Qwen/Qwen2.5-VL-7B-Instruct", "v3") == content_key(
        ...     ("ab" * 32, 1), "vlm", "Qwen/Qwen2.5-VL-7B-Instruct", "v3")
        True
    """
    src = source if isinstance(source, str) else f"{source[0]}:p{int(source[1])}"
    payload = json.dumps(["ck1", src, extractor, model, prompt_version], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def _date_int(value: str | None) -> int | None:
    match = _ISO_DATE.match(value or "")
    return int("".join(match.groups())) if match else None


def _put(metadata: dict[str, Scalar], key: str, value: Any) -> None:
    """Set a metadata value if it is not None (Chroma rejects None); numbers stay numbers."""
    if value is None:
        return
    if isinstance(value, bool | int | float | str):
        metadata[key] = value
    else:
        raise TypeError(f"metadata {key!r} must be a scalar, got {type(value).__name__}")


def _table_json(tables: tuple[Table, ...]) -> str:
    return json.dumps([dataclasses.asdict(t) for t in tables], ensure_ascii=False)


def _format_time(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _squash(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class Record:
    """One Chroma record: ``embed_text`` is what gets embedded (bounded for long pages), ``text`` is stored."""

    id: str
    text: str
    metadata: dict[str, Scalar]
    embed_text: str


@dataclass(frozen=True)
class PageEntry:
    """Everything the index stores about one page. Build it from a rendered page with :meth:`from_page`.

    ``content_key`` defaults to :func:`content_key` of the image (or document and page), the extraction's
    extractor, model and prompt version.
    """

    document: DocumentInfo
    extraction: PageExtraction
    image: StoredImage | None = None
    timestamp: float | None = None
    dpi: float | None = None
    content_key: str | None = None

    def __post_init__(self) -> None:
        check_document_id(self.document.document_id)
        if self.extraction.document_id != self.document.document_id:
            raise ValueError(
                f"extraction of document {self.extraction.document_id[:12]}… given for document "
                f"{self.document.document_id[:12]}… ({self.document.name})"
            )
        page_id(self.document.document_id, self.extraction.page)

    @classmethod
    def from_page(cls, page: PageImage, extraction: PageExtraction, content_key: str | None = None) -> PageEntry:
        """Entry for a rendered page; its stored image, timestamp and dpi are taken from ``page``."""
        if extraction.page != page.page:
            raise ValueError(f"extraction is of page {extraction.page}, the image of page {page.page}")
        return cls(page.document, extraction, page.stored, page.timestamp, page.dpi, content_key)

    @property
    def page(self) -> int:
        return self.extraction.page

    @property
    def key(self) -> str:
        """The content key stored with the page."""
        if self.content_key:
            return self.content_key
        ext = self.extraction
        source = self.image.sha256 if self.image else (self.document.document_id, ext.page)
        return content_key(source, ext.extractor, ext.model, ext.prompt_version)

    def header(self) -> str:
        """The first line of every record of the page: file name, title, page (and time for video)."""
        doc = self.document
        parts = [doc.name]
        if doc.title and doc.title.strip() and doc.title.strip() != doc.name:
            parts.append(_squash(doc.title))
        parts.append(f"page {self.page} of {doc.page_count}")
        if self.timestamp is not None:
            parts.append(f"at {_format_time(self.timestamp)}")
        return " — ".join(parts)

    def body(self) -> str:
        """Markdown, then tables the Markdown does not already contain, then the summary."""
        ext = self.extraction
        markdown = ext.markdown.strip()
        squashed = _squash(markdown)
        blocks = [markdown] if markdown else []
        for table in ext.tables:
            md = table.to_markdown()
            if md and _squash(md) not in squashed:  # the VLM usually writes its tables into the Markdown too
                blocks.append(md)
        summary = (ext.fields.summary or "").strip()
        if summary and _squash(summary) not in squashed:
            blocks.append(f"Summary: {summary}")
        return "\n\n".join(blocks)

    def metadata(self) -> dict[str, Scalar]:
        """The page record's metadata (chunks get the same minus the JSON blobs)."""
        doc, ext, f = self.document, self.extraction, self.extraction.fields
        md: dict[str, Scalar] = {}
        for key, value in (
            ("record_type", "page"),
            ("record_version", RECORD_VERSION),
            ("document_id", doc.document_id),
            ("source", doc.source),
            ("name", doc.name),
            ("suffix", doc.suffix),
            ("media_type", doc.media_type),
            ("size_bytes", doc.size_bytes),
            ("title", doc.title),
            ("page", ext.page),
            ("page_count", doc.page_count),
            ("timestamp", self.timestamp),
            ("dpi", self.dpi),
            ("page_kind", ext.page_kind),
            ("language", ext.language),
            ("blank", ext.blank),
            ("extractor", ext.extractor),
            ("status", ext.status),
            ("reason", ext.reason),
            ("model", ext.model),
            ("prompt_version", ext.prompt_version),
            ("content_key", self.key),
            ("vendor", f.seller),
            ("buyer", f.buyer),
            ("document_number", f.document_number),
            ("date", f.issue_date),
            ("date_int", _date_int(f.issue_date)),
            ("due_date", f.due_date),
            ("due_date_int", _date_int(f.due_date)),
            ("currency", f.currency),
            ("total", None if f.total is None else float(f.total)),
            ("subtotal", None if f.subtotal is None else float(f.subtotal)),
            ("tax", None if f.tax is None else float(f.tax)),
            ("fields_json", json.dumps(dataclasses.asdict(f), ensure_ascii=False)),
            ("tables_json", _table_json(ext.tables)),
        ):
            _put(md, key, value)
        if self.image is not None:
            img = self.image
            for key, value in (
                ("image_path", img.path),
                ("image_sha256", img.sha256),
                ("image_format", img.format),
                ("image_width", img.width),
                ("image_height", img.height),
            ):
                _put(md, key, value)
        return md

    def records(self, chunk_chars: int) -> list[Record]:
        """The page record first, then its chunk records when the body is longer than ``chunk_chars``."""
        header, body = self.header(), self.body()
        text = f"{header}\n\n{body}" if body else header
        md = self.metadata()
        chunks = split_chunks(body, chunk_chars) if len(body) > chunk_chars else []
        pid = page_id(self.document.document_id, self.page)
        # A long page's vector is taken from its beginning: embedding models have a context limit, and the
        # chunks carry the rest.
        embed = f"{header}\n\n{body[:chunk_chars]}" if chunks else text
        md["text_hash"] = hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()
        md["chunk_count"] = len(chunks)
        out = [Record(pid, text, md, embed)]
        base = {k: v for k, v in md.items() if k not in ("fields_json", "tables_json", "chunk_count", "text_hash")}
        for k, chunk in enumerate(chunks):
            chunk_text = f"{header}\n\n{chunk}"
            cmd = {**base, "record_type": "chunk", "chunk": k, "chunk_count": len(chunks), "page_id": pid}
            cmd["text_hash"] = hashlib.blake2b(chunk_text.encode("utf-8"), digest_size=8).hexdigest()
            out.append(Record(chunk_id(self.document.document_id, self.page, k), chunk_text, cmd, chunk_text))
        return out
