"""What an ingest run did, counted as it goes: the progress snapshots and the final summary."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class IngestError:
    """A document or page that could not be ingested, and why."""

    source: str
    message: str
    page: int | None = None


@dataclass
class IngestCounts:
    """Mutable counters owned by one run; :meth:`snapshot` hands out frozen copies."""

    documents_seen: int = 0
    documents_new: int = 0
    documents_updated: int = 0
    documents_unchanged: int = 0
    documents_failed: int = 0
    documents_deleted: int = 0
    pages_planned: int = 0
    pages_new: int = 0
    pages_updated: int = 0
    pages_skipped: int = 0
    pages_fallback: int = 0
    pages_failed: int = 0
    files_skipped: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    errors: list[IngestError] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    @property
    def pages_extracted(self) -> int:
        return self.pages_new + self.pages_updated

    @property
    def pages_done(self) -> int:
        """Pages finished this run: extracted (fallbacks included), failed, or skipped as unchanged."""
        return self.pages_extracted + self.pages_failed

    def snapshot(self, current: str | None = None) -> IngestProgress:
        return IngestProgress(
            documents_seen=self.documents_seen,
            pages_planned=self.pages_planned,
            pages_done=self.pages_done,
            pages_skipped=self.pages_skipped,
            pages_fallback=self.pages_fallback,
            pages_failed=self.pages_failed,
            elapsed=time.perf_counter() - self.started,
            current=current,
        )


@dataclass(frozen=True)
class IngestProgress:
    """Where a run stands; given to ``on_progress`` after every page and document."""

    documents_seen: int
    pages_planned: int
    """Pages that need extraction, as far as documents have been looked at."""
    pages_done: int
    pages_skipped: int
    pages_fallback: int
    pages_failed: int
    elapsed: float
    current: str | None = None

    @property
    def pages_per_second(self) -> float:
        return self.pages_done / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(frozen=True)
class IngestSummary:
    """The outcome of :func:`~qwenvl_agents.ingest.ingest`.

    ``pages_fallback`` pages are indexed from the text layer or OCR because the configured extractor
    failed on them; ``pages_failed`` pages could not be read at all (see ``errors``). Both are tried
    again by the next run. ``records`` is the number of records in the index afterwards.
    """

    knowledge_base: str
    extractor: dict[str, str | None]
    documents_seen: int
    documents_new: int
    documents_updated: int
    documents_unchanged: int
    documents_failed: int
    documents_deleted: int
    pages_new: int
    pages_updated: int
    pages_skipped: int
    pages_fallback: int
    pages_failed: int
    files_skipped: int
    records: int
    seconds: float
    input_tokens: int = 0
    output_tokens: int = 0
    interrupted: bool = False
    errors: tuple[IngestError, ...] = ()

    @property
    def pages_extracted(self) -> int:
        return self.pages_new + self.pages_updated

    @property
    def pages_per_second(self) -> float:
        return self.pages_extracted / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        """No document or page failed (fallbacks are not failures: their pages are indexed)."""
        return self.documents_failed == 0 and self.pages_failed == 0 and not self.interrupted

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["pages_extracted"] = self.pages_extracted
        data["pages_per_second"] = round(self.pages_per_second, 3)
        data["seconds"] = round(self.seconds, 3)
        return data

    @classmethod
    def from_counts(
        cls,
        counts: IngestCounts,
        *,
        knowledge_base: str,
        extractor: dict[str, str | None],
        records: int,
        interrupted: bool = False,
    ) -> IngestSummary:
        return cls(
            knowledge_base=knowledge_base,
            extractor=extractor,
            documents_seen=counts.documents_seen,
            documents_new=counts.documents_new,
            documents_updated=counts.documents_updated,
            documents_unchanged=counts.documents_unchanged,
            documents_failed=counts.documents_failed,
            documents_deleted=counts.documents_deleted,
            pages_new=counts.pages_new,
            pages_updated=counts.pages_updated,
            pages_skipped=counts.pages_skipped,
            pages_fallback=counts.pages_fallback,
            pages_failed=counts.pages_failed,
            files_skipped=counts.files_skipped,
            records=records,
            seconds=time.perf_counter() - counts.started,
            input_tokens=counts.input_tokens,
            output_tokens=counts.output_tokens,
            interrupted=interrupted,
            errors=tuple(counts.errors),
        )
