"""Video search: index a video's frames as pages, then find the moments that match a query.

Frames sampled at ``video_fps`` (default ``QWENVL_VIDEO_FPS``, 1 per second) go through the ingest pipeline
like any page: the extractor reads each frame (OCR reads text drawn in it offline; a VLM also describes it),
the frame image is kept, and the page carries its timestamp. A second run over the same file extracts
nothing: the ingest ledger and the index skip frames already there, and record ids are deterministic.

A search is restricted to that video's document (by content hash, so two files with one name never mix).
Results are :class:`VideoMoment` s: time, score, the matching passage, the frame's description and its
image. The **first appearance** is the earliest *strong* hit among every frame the search ranks:

* a hit is strong when the frame's text holds every word of the query (words as the lexical index sees
  them: case-folded, stemmed, CJK split), the frame's header line (file name, page, time) left out;
* when no frame holds every word (a VLM description says "a red circle" for "red disc"), the hits scoring
  at least ``strong_ratio`` (default 0.9) of the best score are strong instead.

``VideoSearchResult.rule`` says which of the two applied (``"words"`` or ``"score"``).

Example (offline: OCR reads the frames, no server):
    >>> import tempfile
    >>> search = VideoSearch(Settings(data_dir=tempfile.mkdtemp()), extractor="ocr")  # doctest: +SKIP
    >>> result = search.search("clip.mp4", "object")  # doctest: +SKIP
    >>> result.first_appearance.timestamp  # doctest: +SKIP
    3.0
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from qwenvl_agents.documents import RenderOptions, open_document
from qwenvl_agents.documents.video import VideoBackend
from qwenvl_agents.errors import CorruptDocumentError, QwenVLError, UnsupportedDocumentError
from qwenvl_agents.extract.base import BaseExtractor
from qwenvl_agents.ingest import Ingestor, IngestSummary
from qwenvl_agents.retrieval import PageSearch, SearchFilters, SearchMode
from qwenvl_agents.settings import Settings
from qwenvl_agents.store.text import tokenize
from qwenvl_agents.types import RetrievedPage
from qwenvl_agents.vlm import VLMClient

DEFAULT_STRONG_RATIO = 0.9
MAX_RANKED_FRAMES = 2000
"""Frames ranked per search to find the first appearance (a video sampled at 1 fps: about 33 minutes)."""
_HEADER = re.compile(r"^[^\n]* — page \d+ of \d+[^\n]*\n+")


@dataclass(frozen=True)
class VideoMoment:
    """One frame that matched: when (``timestamp``, seconds), how well (``rank`` from 1, ``score``), what
    matched (``snippet``), what the frame shows (``description``) and where its image is."""

    timestamp: float
    page: int
    rank: int
    score: float
    snippet: str
    description: str
    image_path: str | None
    strong: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VideoSearchResult:
    """The moments of one video matching a query, best first, and when the query first appears.

    ``frames_new`` / ``frames_skipped`` count the frames extracted by this call and those already indexed.
    """

    video: str
    query: str
    status: Literal["ok", "error"]
    error: str | None = None
    document_id: str | None = None
    knowledge_base: str | None = None
    duration: float | None = None
    frames: int = 0
    frames_new: int = 0
    frames_skipped: int = 0
    moments: tuple[VideoMoment, ...] = ()
    first_appearance: VideoMoment | None = None
    rule: Literal["words", "score"] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["moments"] = [m.to_dict() for m in self.moments]
        data["first_appearance"] = self.first_appearance.to_dict() if self.first_appearance else None
        return data


def frame_body(text: str) -> str:
    """A stored frame's text without its header line (file name, page, time), which every frame shares.

    >>> frame_body("clip.mp4 — page 4 of 6 — at 0:03\\n\\nt=3s\\nobject")
    't=3s\\nobject'
    """
    return _HEADER.sub("", text, count=1).strip()


def strong_hits(
    hits: Sequence[RetrievedPage], query: str, strong_ratio: float = DEFAULT_STRONG_RATIO
) -> tuple[set[str], Literal["words", "score"] | None]:
    """Record ids of the strong hits (see the module docs) and the rule that chose them.

    >>> from qwenvl_agents.types import RetrievedPage
    >>> def hit(n, text, score):
    ...     return RetrievedPage(f"r{n}", "d", "v.mp4", "/v.mp4", n, 6, n, score, "", text, timestamp=n - 1.0)
    >>> hits = [hit(5, "v.mp4 — page 5 of 6 — at 0:04\\n\\nred objects", 0.2), hit(2, "a red car", 0.1)]
    >>> strong_hits(hits, "red object")
    ({'r5'}, 'words')
    >>> strong_hits(hits, "blue disc")
    ({'r5'}, 'score')
    """
    if not hits:
        return set(), None
    wanted = set(tokenize(query))
    if wanted:
        by_words = {h.record_id for h in hits if wanted <= set(tokenize(frame_body(h.text)))}
        if by_words:
            return by_words, "words"
    best = max(h.score for h in hits)
    return {h.record_id for h in hits if h.score >= strong_ratio * best}, "score"


def _moment(hit: RetrievedPage, strong: bool) -> VideoMoment:
    body = frame_body(hit.text)
    description = (hit.fields.summary or "").strip() or " ".join(body.split())[:300]
    return VideoMoment(
        timestamp=float(hit.timestamp if hit.timestamp is not None else 0.0),
        page=hit.page,
        rank=hit.rank,
        score=round(hit.score, 6),
        snippet=hit.snippet,
        description=description,
        image_path=hit.image_path,
        strong=strong,
    )


class VideoSearch:
    """Index videos' frames in a knowledge base and find when something appears in one of them.

    ``extractor`` reads the frames (``"auto"``, ``"ocr"``, ``"vlm"`` or an extractor; default
    ``QWENVL_EXTRACTOR``), with ``client`` as the VLM. ``video_fps`` is the frame sampling rate (default
    ``QWENVL_VIDEO_FPS``); keep it fixed for a knowledge base: frames are pages numbered in time order.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        knowledge_base: str | None = None,
        extractor: BaseExtractor | str | None = None,
        client: VLMClient | None = None,
        video_fps: float | None = None,
    ) -> None:
        self.settings = settings or Settings()
        s = self.settings
        overrides: dict[str, Any] = {"cache_dir": s.cache_dir}
        if video_fps is not None:
            overrides["video_fps"] = video_fps
        self.render_options = RenderOptions.from_settings(s, **overrides)
        self.ingestor = Ingestor(
            s, extractor=extractor, client=client, knowledge_base=knowledge_base, render_options=self.render_options
        )
        self.pages = PageSearch(self.ingestor.index)

    @property
    def knowledge_base(self) -> str:
        return self.ingestor.knowledge_base

    def index(self, videos: Sequence[str | os.PathLike[str]] | str | os.PathLike[str]) -> IngestSummary:
        """Extract and index the frames of ``videos`` not indexed yet (a repeated call does nothing new)."""
        items = [videos] if isinstance(videos, str | os.PathLike) else list(videos)
        return self.ingestor.run([Path(v) for v in items])

    def _probe(self, video: str | os.PathLike[str]) -> tuple[str, str, int, float]:
        """Source, document id, frame samples and duration; raises for a file that is no decodable video."""
        with open_document(video, self.render_options) as document:
            if not isinstance(document, VideoBackend):
                raise UnsupportedDocumentError(
                    document.info.source, f"is a {document.info.media_type} file, not a video"
                )
            info = document.info
            return info.source, info.document_id, document.page_count, document.frame_count / document.native_fps

    def search(
        self,
        video: str | os.PathLike[str],
        query: str,
        *,
        k: int = 5,
        index: bool = True,
        mode: SearchMode = "hybrid",
        strong_ratio: float = DEFAULT_STRONG_RATIO,
    ) -> VideoSearchResult:
        """The ``k`` best moments of ``video`` for ``query`` and its first appearance.

        With ``index`` (default) the video's frames are indexed first when they are not already. Raises
        :class:`~qwenvl_agents.errors.CorruptDocumentError` for a file that cannot be decoded (naming it) and
        :class:`~qwenvl_agents.errors.QwenVLError` when its frames could not be indexed.
        """
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query must be a non-empty string")
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if not 0 < strong_ratio <= 1:
            raise ValueError(f"strong_ratio must be in (0, 1], got {strong_ratio}")
        source, document_id, frames, duration = self._probe(video)
        new = skipped = 0
        if index:
            summary = self.index([source])
            if summary.errors and not self.ingestor.index.pages_of(document_id, include_chunks=False):
                raise CorruptDocumentError(source, "; ".join(e.message for e in summary.errors))
            new, skipped = summary.pages_extracted, summary.pages_skipped
        depth = min(max(k, frames), MAX_RANKED_FRAMES)
        hits = self.pages.search(query, depth, filters=SearchFilters(documents=(document_id,)), mode=mode)
        strong, rule = strong_hits(hits, query, strong_ratio)
        moments = [_moment(h, h.record_id in strong) for h in hits]
        firsts = sorted((m for m in moments if m.strong), key=lambda m: (m.timestamp, m.rank))
        return VideoSearchResult(
            video=source,
            query=query,
            status="ok",
            document_id=document_id,
            knowledge_base=self.knowledge_base,
            duration=round(duration, 3),
            frames=frames,
            frames_new=new,
            frames_skipped=skipped,
            moments=tuple(moments[:k]),
            first_appearance=firsts[0] if firsts else None,
            rule=rule,
        )

    def search_many(
        self, videos: Sequence[str | os.PathLike[str]], query: str, **kwargs: Any
    ) -> list[VideoSearchResult]:
        """:meth:`search` over several videos; a video that fails gets an error result and the rest go on."""
        out = []
        for video in videos:
            try:
                out.append(self.search(video, query, **kwargs))
            except Exception as exc:  # one video's failure is its own result
                message = str(exc) if isinstance(exc, QwenVLError) else f"{type(exc).__name__}: {exc}"
                if os.path.basename(str(video)) not in message:
                    message = f"{video}: {message}"
                out.append(VideoSearchResult(str(video), query, "error", error=message))
        return out

    def close(self) -> None:
        """Nothing to release today; present so callers can use the search as a context manager."""

    def __enter__(self) -> VideoSearch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def search_video(
    video: str | os.PathLike[str],
    query: str,
    settings: Settings | None = None,
    *,
    k: int = 5,
    knowledge_base: str | None = None,
    extractor: BaseExtractor | str | None = None,
    client: VLMClient | None = None,
    **kwargs: Any,
) -> VideoSearchResult:
    """Index ``video`` (if needed) and find ``query`` in it: the short path to :class:`VideoSearch`.

    Example (needs a video file; offline with OCR):
        >>> result = search_video("clip.mp4", "object", extractor="ocr")  # doctest: +SKIP
        >>> [(m.timestamp, m.strong) for m in result.moments]  # doctest: +SKIP
        [(3.0, True), (4.0, True), (5.0, True), (0.0, False), (1.0, False)]
    """
    search = VideoSearch(settings, knowledge_base=knowledge_base, extractor=extractor, client=client)
    return search.search(video, query, k=k, **kwargs)


__all__ = ["VideoMoment", "VideoSearch", "VideoSearchResult", "frame_body", "search_video", "strong_hits"]
