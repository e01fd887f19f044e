"""The ingest ledger: an SQLite record of what was ingested, so an interrupted run resumes.

One row per document (``pending`` while its pages are being read, then ``done`` or ``failed``) and one
per page (``done``, ``fallback`` or ``failed``, with its content key and reason). Every write commits at
once; the database is in WAL mode with a busy timeout, so two processes (or threads) can write to the same
ledger, and a crash loses at most the write in flight.

Example:
    >>> import tempfile, hashlib
    >>> from pathlib import Path
    >>> from qwenvl_agents.types import DocumentInfo
    >>> ledger = IngestLedger(Path(tempfile.mkdtemp()) / "ledger.sqlite3")
    >>> doc = DocumentInfo(hashlib.sha256(b"a").hexdigest(), "/in/a.pdf", "a.pdf", "pdf", "pdf", 10, 2)
    >>> ledger.start_document(doc, "default")
    >>> ledger.page_done(doc.document_id, 1, "default", "done", "key1")
    >>> ledger.page_done(doc.document_id, 2, "default", "failed", None, "model timed out")
    >>> ledger.finish_document(doc.document_id, "default", "done")
    >>> [(p.page, p.reason) for p in ledger.failed_pages("default")]
    [(2, 'model timed out')]
    >>> ledger.documents_at("/in/a.pdf", "default") == [doc.document_id]
    True
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from qwenvl_agents.settings import Settings
    from qwenvl_agents.types import DocumentInfo

DocumentState = Literal["pending", "done", "failed"]
PageState = Literal["done", "fallback", "failed"]
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    knowledge_base TEXT NOT NULL,
    document_id TEXT NOT NULL,
    source TEXT NOT NULL,
    name TEXT NOT NULL,
    page_count INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    error TEXT,
    started_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (knowledge_base, document_id)
);
CREATE INDEX IF NOT EXISTS documents_by_source ON documents (knowledge_base, source);
CREATE TABLE IF NOT EXISTS pages (
    knowledge_base TEXT NOT NULL,
    document_id TEXT NOT NULL,
    page INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('done', 'fallback', 'failed')),
    content_key TEXT,
    reason TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (knowledge_base, document_id, page)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class LedgerDocument:
    knowledge_base: str
    document_id: str
    source: str
    name: str
    page_count: int
    state: DocumentState
    error: str | None
    started_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class LedgerPage:
    knowledge_base: str
    document_id: str
    page: int
    state: PageState
    content_key: str | None
    reason: str | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class LedgerSummary:
    """Counts for one knowledge base, for the end-of-run summary."""

    documents: dict[str, int]
    pages: dict[str, int]


class IngestLedger:
    """The ingest ledger at ``path`` (created on first use). Thread-safe; open one per process.

    A ledger opened before ``fork`` reconnects in the child instead of sharing the parent's connection.
    """

    def __init__(self, path: Path | str, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        with self._write() as conn:
            # Statement by statement: executescript() would commit our transaction early.
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestLedger:
        return cls(settings.ledger_path)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we open transactions ourselves (BEGIN IMMEDIATE takes the write lock up
            # front, so two writers queue on the busy timeout instead of failing on a lock upgrade).
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable across a process crash
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return self._connection().execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> IngestLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writes used by the ingest pipeline -----------------------------------------------------------

    def start_document(self, info: DocumentInfo, kb: str) -> None:
        """Mark a document ``pending`` (again). Its page rows are kept, so a resumed run can skip them."""
        now = time.time()
        with self._write() as conn:
            conn.execute(
                """INSERT INTO documents VALUES (?, ?, ?, ?, ?, 'pending', NULL, ?, ?)
                   ON CONFLICT (knowledge_base, document_id) DO UPDATE SET source = excluded.source,
                   name = excluded.name, page_count = excluded.page_count, state = 'pending', error = NULL,
                   updated_at = excluded.updated_at""",
                (kb, info.document_id, info.source, info.name, info.page_count, now, now),
            )

    def page_done(
        self, document_id: str, page: int, kb: str, state: PageState, content_key: str | None, reason: str | None = None
    ) -> None:
        """Record the outcome of one page (``done``, ``fallback`` or ``failed``)."""
        if state not in ("done", "fallback", "failed"):
            raise ValueError(f"page state must be done, fallback or failed, got {state!r}")
        if not isinstance(page, int) or page < 1:
            raise ValueError(f"page numbers start at 1, got {page!r}")
        with self._write() as conn:
            conn.execute(
                """INSERT INTO pages VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (knowledge_base, document_id, page) DO UPDATE SET state = excluded.state,
                   content_key = excluded.content_key, reason = excluded.reason, updated_at = excluded.updated_at""",
                (kb, document_id, page, state, content_key, reason, time.time()),
            )

    def finish_document(self, document_id: str, kb: str, state: DocumentState, error: str | None = None) -> None:
        """Mark a started document ``done`` or ``failed`` (with ``error``)."""
        if state not in ("done", "failed"):
            raise ValueError(f"a document finishes done or failed, got {state!r}")
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE documents SET state = ?, error = ?, updated_at = ? "
                "WHERE knowledge_base = ? AND document_id = ?",
                (state, error, time.time(), kb, document_id),
            )
            if cur.rowcount == 0:
                raise KeyError(f"document {document_id} was never started in knowledge base {kb!r}")

    def forget_document(self, document_id: str, kb: str) -> None:
        """Remove a document and its pages (after its records were deleted from the index)."""
        with self._write() as conn:
            conn.execute("DELETE FROM pages WHERE knowledge_base = ? AND document_id = ?", (kb, document_id))
            conn.execute("DELETE FROM documents WHERE knowledge_base = ? AND document_id = ?", (kb, document_id))

    # --- reads ----------------------------------------------------------------------------------------

    def documents_at(self, source: str, kb: str) -> list[str]:
        """Ids of the documents ingested from ``source`` (newest first): a changed file's old versions."""
        rows = self._read(
            "SELECT document_id FROM documents WHERE knowledge_base = ? AND source = ? ORDER BY updated_at DESC",
            (kb, source),
        )
        return [str(r[0]) for r in rows]

    def document(self, document_id: str, kb: str) -> LedgerDocument | None:
        """The ledger row of a document, or ``None``."""
        rows = self._read("SELECT * FROM documents WHERE knowledge_base = ? AND document_id = ?", (kb, document_id))
        return LedgerDocument(*rows[0]) if rows else None  # type: ignore[arg-type]

    def documents(self, kb: str, state: DocumentState | None = None) -> list[LedgerDocument]:
        """Documents of a knowledge base (optionally in one state), oldest first."""
        sql = "SELECT * FROM documents WHERE knowledge_base = ?"
        params: tuple[object, ...] = (kb,)
        if state is not None:
            sql, params = sql + " AND state = ?", (kb, state)
        return [LedgerDocument(*r) for r in self._read(sql + " ORDER BY started_at", params)]  # type: ignore[arg-type]

    def pages(self, document_id: str, kb: str) -> dict[int, LedgerPage]:
        """``{page: row}`` of a document: on resume, pages ``done`` with an unchanged content key are skipped."""
        rows = self._read(
            "SELECT * FROM pages WHERE knowledge_base = ? AND document_id = ? ORDER BY page", (kb, document_id)
        )
        return {int(r[2]): LedgerPage(*r) for r in rows}  # type: ignore[arg-type, call-overload]

    def failed_pages(self, kb: str, *, include_fallback: bool = False) -> list[LedgerPage]:
        """Pages that could not be read (and, when asked, those that fell back to OCR/text)."""
        states = ("failed", "fallback") if include_fallback else ("failed",)
        marks = ", ".join("?" for _ in states)
        rows = self._read(
            f"SELECT * FROM pages WHERE knowledge_base = ? AND state IN ({marks}) ORDER BY document_id, page",
            (kb, *states),
        )
        return [LedgerPage(*r) for r in rows]  # type: ignore[arg-type]

    def summary(self, kb: str) -> LedgerSummary:
        """Documents and pages by state."""
        docs = self._read("SELECT state, COUNT(*) FROM documents WHERE knowledge_base = ? GROUP BY state", (kb,))
        pages = self._read("SELECT state, COUNT(*) FROM pages WHERE knowledge_base = ? GROUP BY state", (kb,))
        return LedgerSummary({str(s): int(n) for s, n in docs}, {str(s): int(n) for s, n in pages})  # type: ignore[call-overload]
