"""Watch a video for one thing: sample frames, ask the vision model per frame, stop once it is seen.

:class:`VideoDetector` samples ``fps`` frames per second with :func:`qwenvl_agents.documents.iter_pages`,
optionally enhances contrast (CLAHE on the L of LAB), sizes each frame within Qwen2.5-VL's pixel budget and
asks for a :class:`FrameAnswer`, constrained by its JSON schema and validated again here. It stops after
``consecutive`` detections in a row (default 2; 0 or ``None`` scans the whole video).

``stream`` / ``astream`` yield a :class:`FrameEvent` per sampled frame as it is judged and a
:class:`DetectionSummary` last; ``invoke`` / ``ainvoke`` return the summary; ``batch`` / ``abatch`` scan
several videos, one bad video giving an error summary while the others go on. Every event has
``to_dict()`` (one NDJSON line) and :func:`event_from_dict` reads it back.

Failure rules. A frame whose request fails or whose answer is invalid gets ``status="error"``; the scan
goes on, and the frame is not a detection (it breaks a run of detections). When ``max_consecutive_errors``
frames in a row (default 3) fail *at the request* (server unreachable, timeouts, HTTP errors — after the
chat model's own retries), the scan ends with ``reason="server_errors"`` instead of sending one doomed
request per frame for the rest of the video. Invalid answers never end the scan: the server is working.
A file that cannot be decoded as a video ends its scan with ``reason="video_error"`` and an error naming it.

Example (needs a running server):
    >>> from qwenvl_agents.vlm import ModelPort  # doctest: +SKIP
    >>> detector = VideoDetector.from_port(ModelPort.from_settings(), "a red ball", clahe=True)  # doctest: +SKIP
    >>> for event in detector.stream("clip.mp4"):  # doctest: +SKIP
    ...     print(event.to_dict())
    >>> detector.invoke("clip.mp4").first_detection  # doctest: +SKIP
    3.0
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import io
import os
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qwenvl_agents.documents import RenderOptions, iter_pages
from qwenvl_agents.errors import MissingDependencyError
from qwenvl_agents.types import PageImage, SourceFailure
from qwenvl_agents.vlm import explain_error, prepare_image
from qwenvl_agents.vlm.media_rules import MediaRules, media_rules_of
from qwenvl_agents.workflows import detector_prompts as prompts

if TYPE_CHECKING:
    from qwenvl_agents.vlm import VLMClient
    from qwenvl_agents.vlm.port import ModelPort

VideoInput = str | os.PathLike[str]
StopReason = Literal["detected", "end_of_video", "max_frames", "server_errors", "video_error"]
Status = Literal["ok", "error"]


class FrameAnswer(BaseModel):
    """The model's structured answer about one frame (the JSON schema the server constrains it to)."""

    model_config = ConfigDict(extra="forbid")

    present: bool = Field(description=prompts.PRESENT_DESCRIPTION)
    description: str = Field(description=prompts.DESCRIPTION_DESCRIPTION)
    confidence: int = Field(ge=1, le=10, description=prompts.CONFIDENCE_DESCRIPTION)


@dataclass(frozen=True)
class FrameEvent:
    """One sampled frame and what the model said about it.

    ``index`` counts samples from 0; ``timestamp`` is in seconds. ``detected`` is true only for a valid
    answer with ``present`` and at least the detector's ``min_confidence``; ``run`` is the length of the
    run of consecutive detections this frame ends (0 when it is not a detection). ``thumbnail`` is a small
    JPEG data URL of the frame the model saw, when the detector was asked for thumbnails.
    """

    video: str
    index: int
    timestamp: float
    status: Status
    detected: bool = False
    present: bool | None = None
    description: str | None = None
    confidence: int | None = None
    run: int = 0
    frames_total: int | None = None
    error: str | None = None
    thumbnail: str | None = field(default=None, repr=False)
    type: Literal["frame"] = "frame"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (one NDJSON line)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class DetectionSummary:
    """How the scan of one video ended.

    ``first_detection`` is the timestamp where the run of ``consecutive`` detections started (with
    ``consecutive=0``: the first detected frame); ``None`` when there was no such run. ``detections`` lists
    every detected frame's timestamp. ``status`` is ``"error"`` when the video could not be read, when the
    server kept failing, or when no frame got a valid answer; ``error`` then says why.
    """

    video: str
    target: str
    status: Status
    reason: StopReason
    message: str
    detected: bool = False
    stopped_early: bool = False
    first_detection: float | None = None
    last_timestamp: float | None = None
    frames_checked: int = 0
    frames_total: int | None = None
    detections: tuple[float, ...] = ()
    errors: int = 0
    error: str | None = None
    elapsed: float = 0.0
    type: Literal["summary"] = "summary"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (one NDJSON line)."""
        data = dataclasses.asdict(self)
        data["detections"] = list(self.detections)
        return data


DetectorEvent = FrameEvent | DetectionSummary


def event_from_dict(data: dict[str, Any]) -> DetectorEvent:
    """Read back an event written by ``to_dict()`` (e.g. a line of ``qwenvl video detect --json``).

    >>> event = FrameEvent(video="a.mp4", index=0, timestamp=0.0, status="ok", detected=True, present=True)
    >>> event_from_dict(event.to_dict()) == event
    True
    """
    kind = data.get("type")
    if kind == "frame":
        return FrameEvent(**data)
    if kind == "summary":
        return DetectionSummary(**{**data, "detections": tuple(data.get("detections", ()))})
    raise ValueError(f"not a detector event (type={kind!r})")


def enhance_contrast(image: Image.Image, *, clip_limit: float = 2.0, tile_grid_size: int = 8) -> Image.Image:
    """Contrast-limited adaptive histogram equalisation (CLAHE) of the lightness only.

    Equalising the L channel of LAB brightens dim or hazy footage without shifting colours, which an
    RGB-wise equalisation would. ``clip_limit`` 2 over an 8x8 grid is OpenCV's usual setting: stronger
    clips amplify compression noise.

    >>> from PIL import Image, ImageStat
    >>> hazy = Image.effect_noise((64, 64), 4).convert("RGB")  # grey 128 +- a few levels
    >>> ImageStat.Stat(enhance_contrast(hazy)).stddev[0] > 3 * ImageStat.Stat(hazy).stddev[0]
    True
    """
    try:
        import cv2
        import numpy as np
    except ImportError as exc:
        raise MissingDependencyError(
            "CLAHE needs OpenCV: pip install 'qwenvl-agents[video]' (opencv-python-headless)"
        ) from exc
    lab = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2LAB)
    lightness, a, b = cv2.split(lab)
    clahe = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tile_grid_size, tile_grid_size))
    rgb = cv2.cvtColor(cv2.merge((clahe.apply(lightness), a, b)), cv2.COLOR_LAB2RGB)
    return Image.fromarray(rgb)


def thumbnail_data_url(image: Image.Image, max_side: int = 160, quality: int = 70) -> str:
    """A small JPEG of ``image`` as a data URL, for showing frames in a page or a log.

    >>> thumbnail_data_url(Image.new("RGB", (640, 480))).startswith("data:image/jpeg;base64,")
    True
    """
    small = image.convert("RGB")
    small.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass(frozen=True)
class _Failure:
    message: str
    request: bool
    """True when the request itself failed (counts towards ``max_consecutive_errors``)."""


class _Scan:
    """The bookkeeping of one video's scan, shared by the sync and async drivers."""

    def __init__(self, detector: VideoDetector, label: str, source: str) -> None:
        self.d, self.label, self.source = detector, label, source
        self.started = time.perf_counter()
        self.frames = self.errors = self.failures_in_row = self.run = 0
        self.run_start: float | None = None
        self.first_detection: float | None = None
        self.detections: list[float] = []
        self.frames_total: int | None = None
        self.last_timestamp: float | None = None
        self.last_failure: str | None = None

    def name(self, message: str) -> str:
        # Errors from the reader name the file it opened; a caller's label (an upload's name) reads better.
        return message.replace(self.source, self.label) if self.label != self.source else message

    def frame(self, page: PageImage, outcome: FrameAnswer | _Failure, thumbnail: str | None) -> FrameEvent:
        ts = page.timestamp if page.timestamp is not None else float(page.page - 1) / self.d.fps
        self.frames += 1
        self.frames_total = page.document.page_count
        self.last_timestamp = ts
        if isinstance(outcome, _Failure):
            self.errors += 1
            self.run = 0
            self.failures_in_row = self.failures_in_row + 1 if outcome.request else 0
            self.last_failure = outcome.message
            return FrameEvent(
                self.label, page.page - 1, ts, "error", run=0, frames_total=self.frames_total,
                error=outcome.message, thumbnail=thumbnail,
            )  # fmt: skip
        self.failures_in_row = 0
        detected = outcome.present and outcome.confidence >= self.d.min_confidence
        if detected:
            self.run += 1
            self.detections.append(ts)
            if self.run == 1:
                self.run_start = ts
            if self.first_detection is None and (not self.d.consecutive or self.run >= self.d.consecutive):
                self.first_detection = ts if not self.d.consecutive else self.run_start
        else:
            self.run = 0
        return FrameEvent(
            self.label, page.page - 1, ts, "ok", detected, outcome.present, outcome.description,
            outcome.confidence, self.run, self.frames_total, thumbnail=thumbnail,
        )  # fmt: skip

    def stop_reason(self) -> StopReason | None:
        """Why the scan must stop after the frame just judged, if it must."""
        if self.d.consecutive and self.run >= self.d.consecutive:
            return "detected"
        if self.failures_in_row >= self.d.max_consecutive_errors:
            return "server_errors"
        if self.d.max_frames is not None and self.frames >= self.d.max_frames:
            return "max_frames"
        return None

    def summary(self, reason: StopReason, error: str | None = None) -> DetectionSummary:
        target, n = self.d.target, self.d.consecutive
        more = self.frames_total is not None and self.frames < self.frames_total
        stopped_early = reason in ("detected", "max_frames", "server_errors") and more
        if reason == "server_errors":
            error = f"{self.failures_in_row} frames in a row failed, the scan stopped: {self.last_failure}"
        elif reason != "video_error" and self.frames and self.errors == self.frames:
            error = f"no frame got a valid answer: {self.last_failure}"
        if reason == "detected":
            message = f"{target} seen in {n} consecutive frames from {self.run_start:.1f} s; stopped there"
        elif reason == "video_error":
            message = f"the video could not be read: {error}"
        elif reason == "server_errors":
            message = f"stopped at {self.last_timestamp:.1f} s: {error}"
        else:
            done = "stopped after max_frames" if reason == "max_frames" else "scanned the whole video"
            if self.first_detection is not None:
                found = f"{target} first seen at {self.first_detection:.1f} s ({len(self.detections)} frames)"
            elif self.detections:
                found = f"{target} seen in {len(self.detections)} frames, never {n} in a row"
            else:
                found = f"{target} not seen"
            message = f"{done} ({self.frames} frames): {found}"
        return DetectionSummary(
            video=self.label, target=target, status="error" if error else "ok", reason=reason,
            message=message, detected=self.first_detection is not None, stopped_early=stopped_early,
            first_detection=self.first_detection, last_timestamp=self.last_timestamp, frames_checked=self.frames,
            frames_total=self.frames_total, detections=tuple(self.detections), errors=self.errors, error=error,
            elapsed=round(time.perf_counter() - self.started, 3),
        )  # fmt: skip


def _failure(exc: Exception) -> _Failure:
    if isinstance(exc, OutputParserException | ValidationError):  # a bad answer from a self-parsing model
        return _Failure(f"invalid answer: {str(exc).splitlines()[0][:300]}", request=False)
    return _Failure(str(explain_error(exc)), request=True)


def _close(pages: Iterator[Any]) -> None:
    # Releases the video decoder now rather than whenever the generator is collected. A scan cancelled while a
    # worker thread is still decoding cannot close it ("generator already executing"): collection does it then.
    close = getattr(pages, "close", None)
    if close is not None:
        with contextlib.suppress(ValueError):
            close()


class VideoDetector:
    """Finds when ``target`` first appears in a video, judging one sampled frame at a time.

    Args:
        chat_model: a LangChain chat model with ``with_structured_output(FrameAnswer, method="json_schema")``
            (``ChatOpenAI`` on vLLM constrains the answer; ``include_raw=True`` is used when supported).
        target: what to look for, in words ("a red ball", "smoke").
        fps: frames sampled per second of video.
        clahe: enhance contrast (CLAHE on lightness) before the model sees a frame.
        consecutive: stop after this many detections in a row; 0 or ``None`` scans the whole video.
        max_frames: stop after this many sampled frames.
        min_confidence: a ``present`` answer counts as a detection only from this confidence (1–10) on.
        min_pixels, max_pixels: the pixel budget per frame (see :func:`~qwenvl_agents.vlm.prepare_image`);
            default: the model family's.
        media_rules: the model family's grid; default: the chat model's own, or its model name's family.
        thumbnails: put a small JPEG of each frame (as the model saw it) in its event.
        max_consecutive_errors: end the scan after this many frames in a row whose request failed.
        system_prompt: the instructions sent before each frame; ``None`` or ``""`` sends the question alone.

    Example (scanning needs a server):
        >>> from qwenvl_agents.vlm import ModelPort
        >>> model = ModelPort.from_settings(vlm_base_url="http://127.0.0.1:8000/v1").chat_model("detector")
        >>> VideoDetector(model, "a red ball", consecutive=3, clahe=True).consecutive
        3
        >>> VideoDetector(model, "smoke").stream("clip.mp4")  # doctest: +SKIP
    """

    def __init__(
        self,
        chat_model: BaseChatModel,
        target: str,
        *,
        fps: float = 1.0,
        clahe: bool = False,
        consecutive: int | None = 2,
        max_frames: int | None = None,
        min_confidence: int = 1,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        media_rules: MediaRules | None = None,
        thumbnails: bool = False,
        thumbnail_size: int = 160,
        max_consecutive_errors: int = 3,
        system_prompt: str | None = prompts.DETECTOR_SYSTEM_PROMPT,
    ) -> None:
        if not target or not target.strip():
            raise ValueError("target must say what to look for, e.g. 'a red ball'")
        if fps <= 0:
            raise ValueError(f"fps must be > 0, not {fps}")
        if consecutive is not None and consecutive < 0:
            raise ValueError(f"consecutive must be >= 0 (0 scans the whole video), not {consecutive}")
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, not {max_frames}")
        if not 1 <= min_confidence <= 10:
            raise ValueError(f"min_confidence must be within 1..10, not {min_confidence}")
        if max_consecutive_errors < 1:
            raise ValueError(f"max_consecutive_errors must be >= 1, not {max_consecutive_errors}")
        self.chat_model = chat_model
        self.target = target.strip()
        self.fps, self.clahe = fps, clahe
        self.consecutive = consecutive or 0
        self.max_frames, self.min_confidence = max_frames, min_confidence
        # The frame grid and default budget are the model family's (the port's, or the chat model's own).
        self.media_rules = media_rules or media_rules_of(chat_model)
        self.min_pixels = self.media_rules.default_min_pixels if min_pixels is None else min_pixels
        self.max_pixels = self.media_rules.default_max_pixels if max_pixels is None else max_pixels
        self.thumbnails, self.thumbnail_size = thumbnails, thumbnail_size
        self.max_consecutive_errors = max_consecutive_errors
        self.system_prompt = system_prompt
        try:
            self._structured = chat_model.with_structured_output(FrameAnswer, method="json_schema", include_raw=True)
        except NotImplementedError:  # models that parse themselves (the local backends) raise on a bad answer
            self._structured = chat_model.with_structured_output(FrameAnswer, method="json_schema")

    @classmethod
    def from_port(cls, port: ModelPort, target: str, *, max_tokens: int = 256, **kwargs: Any) -> VideoDetector:
        """A detector on the port's ``detector`` model, with its pixel budget; ``kwargs`` go to the constructor."""
        kwargs.setdefault("min_pixels", port.min_pixels)
        kwargs.setdefault("max_pixels", port.max_pixels)
        kwargs.setdefault("media_rules", port.media_rules)
        return cls(port.chat_model("detector", max_tokens=max_tokens), target, **kwargs)

    @classmethod
    def from_client(cls, client: VLMClient, target: str, *, max_tokens: int = 256, **kwargs: Any) -> VideoDetector:
        """A detector on ``client``'s chat model, with its pixel budget; ``kwargs`` go to the constructor.

        A thin wrapper over :meth:`from_port` with ``ModelPort.from_client(client)``.
        """
        from qwenvl_agents.vlm.port import ModelPort

        return cls.from_port(ModelPort.from_client(client), target, max_tokens=max_tokens, **kwargs)

    # --- one frame ---------------------------------------------------------------------------------------

    def prepare(self, page: PageImage) -> tuple[list[BaseMessage], str | None]:
        """The messages for one frame (enhanced, sized, encoded) and its thumbnail, if asked for."""
        image = enhance_contrast(page.image) if self.clahe else page.image
        prepared = prepare_image(
            image, min_pixels=self.min_pixels, max_pixels=self.max_pixels, format="jpeg", rules=self.media_rules
        )
        ts = page.timestamp if page.timestamp is not None else 0.0
        user = HumanMessage(
            content=[prepared.content_part(), {"type": "text", "text": prompts.frame_prompt(self.target, ts)}]
        )
        thumbnail = thumbnail_data_url(image, self.thumbnail_size) if self.thumbnails else None
        system = [SystemMessage(self.system_prompt)] if self.system_prompt else []
        return [*system, user], thumbnail

    @staticmethod
    def _judge(result: Any) -> FrameAnswer | _Failure:
        """Validate one frame's structured output; a bad answer raises ``ValidationError``."""
        if not isinstance(result, dict):  # a model without include_raw has parsed it already
            return FrameAnswer.model_validate(result)
        raw, parsed = result.get("raw"), result.get("parsed")
        finish = getattr(raw, "response_metadata", {}).get("finish_reason")
        if finish not in (None, "stop"):
            why = "cut at the token limit" if finish == "length" else "ended by the server"
            return _Failure(f"invalid answer: {why} (finish_reason={finish})", False)
        if parsed is not None:
            return FrameAnswer.model_validate(parsed)  # validated again: not every server enforces the schema
        content = getattr(raw, "text", None)
        return FrameAnswer.model_validate_json(content if isinstance(content, str) else "")

    # --- one video ---------------------------------------------------------------------------------------

    def _open(self, video: VideoInput, name: str | None) -> tuple[_Scan, Iterator[PageImage | SourceFailure]]:
        path = Path(video).expanduser().resolve()
        scan = _Scan(self, name or str(video), str(path))
        if path.is_dir():
            return scan, iter([SourceFailure(str(path), "IsADirectoryError", f"{path}: is a folder; pass video files")])
        return scan, iter_pages([path], RenderOptions(video_fps=self.fps))

    @staticmethod
    def _next(scan: _Scan, pages: Iterator[PageImage | SourceFailure]) -> PageImage | str | None:
        """The next frame, an error message (the video failed), or ``None`` at the end."""
        try:
            item = next(pages, None)
        except Exception as exc:  # a reader bug must not take the batch down
            return f"{scan.label}: {type(exc).__name__}: {exc}"
        if item is None or (isinstance(item, PageImage) and item.document.media_type == "video"):
            return item
        if isinstance(item, SourceFailure):
            return scan.name(item.message)
        return f"{scan.label}: is a {item.document.media_type} ({item.document.suffix}), not a video"

    def stream(self, video: VideoInput, *, name: str | None = None) -> Iterator[DetectorEvent]:
        """A :class:`FrameEvent` per judged frame as it happens, then the :class:`DetectionSummary`.

        ``name`` labels the video in events and error messages (default: the path as given).
        """
        scan, pages = self._open(video, name)
        reason: StopReason = "end_of_video"
        error: str | None = None
        try:
            while True:
                item = self._next(scan, pages)
                if item is None or isinstance(item, str):
                    reason, error = ("video_error", item) if item else ("end_of_video", None)
                    break
                messages, thumbnail = self.prepare(item)
                try:
                    outcome = self._judge(self._structured.invoke(messages))
                except Exception as exc:
                    outcome = _failure(exc)
                yield scan.frame(item, outcome, thumbnail)
                if stop := scan.stop_reason():
                    reason = stop
                    break
        finally:
            _close(pages)
        yield scan.summary(reason, error)

    async def astream(self, video: VideoInput, *, name: str | None = None) -> AsyncIterator[DetectorEvent]:
        """The asynchronous :meth:`stream`: decoding and image work run in a thread, the request is async."""
        scan, pages = self._open(video, name)
        reason: StopReason = "end_of_video"
        error: str | None = None
        try:
            while True:
                item = await asyncio.to_thread(self._next, scan, pages)
                if item is None or isinstance(item, str):
                    reason, error = ("video_error", item) if item else ("end_of_video", None)
                    break
                messages, thumbnail = await asyncio.to_thread(self.prepare, item)
                try:
                    outcome = self._judge(await self._structured.ainvoke(messages))
                except Exception as exc:
                    outcome = _failure(exc)
                yield scan.frame(item, outcome, thumbnail)
                if stop := scan.stop_reason():
                    reason = stop
                    break
        finally:
            _close(pages)  # not awaited: a cancelled scan must still get here
        yield scan.summary(reason, error)

    def invoke(self, video: VideoInput, *, name: str | None = None) -> DetectionSummary:
        """Scan one video and return only the summary (errors are in it, not raised)."""
        *_, summary = self.stream(video, name=name)
        assert isinstance(summary, DetectionSummary)
        return summary

    async def ainvoke(self, video: VideoInput, *, name: str | None = None) -> DetectionSummary:
        """The asynchronous :meth:`invoke`."""
        events = [event async for event in self.astream(video, name=name)]
        assert isinstance(events[-1], DetectionSummary)
        return events[-1]

    def batch(self, videos: Sequence[VideoInput]) -> list[DetectionSummary]:
        """Scan several videos one after another; a bad video gives an error summary, the rest go on."""
        return [self.invoke(v) for v in videos]

    async def abatch(self, videos: Sequence[VideoInput]) -> list[DetectionSummary]:
        """The asynchronous :meth:`batch` (videos one after another: each scan already keeps a core busy)."""
        return [await self.ainvoke(v) for v in videos]
