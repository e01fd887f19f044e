"""Ask a vision-language model about a video: sampled frames with their times, or vLLM's native video input.

The recipe's "describe this video" and "what happens when", with the budget handled: the frames fit the
server's image limit and one visual-token budget (see :mod:`qwenvl_agents.vlm.video`), and a request the
server would refuse is refused here, before anything is decoded or sent. :func:`ask_videos` answers many
videos; an undecodable file or a failed request gives that video an error result and the rest go on.

Any LangChain chat model works (a model of the :class:`~qwenvl_agents.vlm.ModelPort`, a fake in tests); a
:class:`~qwenvl_agents.vlm.ModelPort` (its ``video`` model) or a :class:`~qwenvl_agents.vlm.VLMClient` can
be passed directly and brings its image limit and pixel budget.

Example (needs a server):
    >>> from qwenvl_agents.vlm import ModelPort
    >>> port = ModelPort.from_settings()  # doctest: +SKIP
    >>> ask_video(port, "clip.mp4", "When does the red disc appear?").answer  # doctest: +SKIP
    'The red disc appears at about 3 seconds.'
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from qwenvl_agents.documents import RenderOptions
from qwenvl_agents.errors import QwenVLError
from qwenvl_agents.vlm.client import VLMClient, explain_error
from qwenvl_agents.vlm.media_rules import MediaRules, media_rules_of
from qwenvl_agents.vlm.port import ModelPort
from qwenvl_agents.vlm.video import (
    DEFAULT_VIDEO_TOKENS,
    VideoMode,
    VideoParts,
    check_request,
    video_parts,
)

DEFAULT_ANSWER_TOKENS = 512
"""Answer length asked of a port's or client's model (a chat model passed in keeps its own setting)."""

SYSTEM_PROMPT = (
    "You are a helpful assistant that watches videos. The user shows you frames of one video in time order, "
    "each labelled with its time in seconds, or the video itself. Answer from what is visible; when asked "
    "when something happens, give the time in seconds of the first frame that shows it."
)


@dataclass(frozen=True)
class VideoAnswer:
    """The model's answer about one video, or why there is none (``status`` ``"error"``, ``error`` says why).

    ``timestamps`` are the seconds of the frames shown; ``visual_tokens`` what they cost;
    ``input_tokens`` / ``output_tokens`` what the server counted (``None`` when it did not say).
    """

    video: str
    question: str
    status: Literal["ok", "error"]
    answer: str = ""
    error: str | None = None
    mode: VideoMode = "frames"
    duration: float | None = None
    timestamps: tuple[float, ...] = ()
    frame_size: tuple[int, int] | None = None
    visual_tokens: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    seconds: float = 0.0
    error_type: str | None = field(default=None)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples as lists)."""
        data = asdict(self)
        data["timestamps"] = list(self.timestamps)
        data["frame_size"] = list(self.frame_size) if self.frame_size else None
        return data


@dataclass(frozen=True)
class _Target:
    model: BaseChatModel
    max_images: int | None
    min_pixels: int
    max_pixels: int
    endpoints: tuple[str, ...]
    rules: MediaRules


def _target(
    model: BaseChatModel | VLMClient | ModelPort,
    max_images: int | None,
    max_tokens: int | None,
    max_pixels: int | None,
) -> _Target:
    if isinstance(model, VLMClient):
        model = ModelPort.from_client(model)
    if isinstance(model, ModelPort):
        chat = model.chat_model("video", max_tokens=max_tokens or DEFAULT_ANSWER_TOKENS)
        limit = max_images if max_images is not None else model.max_images_per_prompt
        rules = model.media_rules
        low = min(rules.video_min_pixels, model.max_pixels)
        return _Target(chat, limit, low, max_pixels or model.max_pixels, tuple(model.base_urls), rules)
    if not isinstance(model, BaseChatModel):
        raise TypeError(f"expected a LangChain chat model, a ModelPort or a VLMClient, got {type(model).__name__}")
    chat = model.bind(max_tokens=max_tokens) if max_tokens else model  # type: ignore[assignment]
    rules = media_rules_of(model)  # a bare chat model brings no settings: its own rules or its name's
    return _Target(chat, max_images, rules.video_min_pixels, max_pixels or rules.default_max_pixels, (), rules)


def video_message(parts: VideoParts, question: str) -> HumanMessage:
    """The user message asking ``question`` about the video in ``parts`` (video first, question last)."""
    return HumanMessage(content=parts.content(question))


def _messages(parts: VideoParts, question: str, system: str | None) -> list[BaseMessage]:
    messages: list[BaseMessage] = [SystemMessage(system)] if system else []
    messages.append(video_message(parts, question))
    return messages


def _answer(question: str, parts: VideoParts, reply: AIMessage, started: float) -> VideoAnswer:
    usage: dict[str, Any] = dict(reply.usage_metadata or {})
    return VideoAnswer(
        video=parts.source,
        question=question,
        status="ok",
        answer=reply.text.strip(),
        mode=parts.mode,
        duration=round(parts.duration, 3),
        timestamps=parts.timestamps,
        frame_size=parts.frame_size,
        visual_tokens=parts.visual_tokens,
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        seconds=round(time.perf_counter() - started, 3),
    )


def _prepare(
    model: BaseChatModel | VLMClient | ModelPort,
    video: str | os.PathLike[str],
    question: str,
    *,
    mode: VideoMode,
    frames: int | None,
    max_images: int | None,
    max_video_tokens: int,
    max_pixels: int | None,
    max_tokens: int | None,
    options: RenderOptions | None,
) -> tuple[_Target, VideoParts]:
    if not isinstance(question, str) or not question.strip():
        raise ValueError("question must be a non-empty string")
    target = _target(model, max_images, max_tokens, max_pixels)
    check_request(mode=mode, frames=frames, max_images=target.max_images)
    parts = video_parts(
        video,
        mode=mode,
        frames=frames,
        max_images=target.max_images,
        max_video_tokens=max_video_tokens,
        min_pixels=target.min_pixels,
        max_pixels=target.max_pixels,
        options=options,
        rules=target.rules,
    )
    return target, parts


def ask_video(
    model: BaseChatModel | VLMClient | ModelPort,
    video: str | os.PathLike[str],
    question: str,
    *,
    mode: VideoMode = "frames",
    frames: int | None = None,
    max_images: int | None = None,
    max_video_tokens: int = DEFAULT_VIDEO_TOKENS,
    max_pixels: int | None = None,
    max_tokens: int | None = None,
    system: str | None = SYSTEM_PROMPT,
    options: RenderOptions | None = None,
) -> VideoAnswer:
    """Ask ``question`` about one video and return the model's answer.

    ``mode="frames"`` shows ``frames`` evenly spaced frames as images, each labelled with its time
    (default: the server's image limit, at most 8; 4 when the limit is unknown); ``mode="native"`` sends one
    ``video_url`` part (default 16 frames) that vLLM decodes itself. ``max_images`` is the server's image
    limit (taken from a ``VLMClient``); ``max_video_tokens`` bounds what the video costs in the prompt;
    ``max_pixels`` a frame's size; ``max_tokens`` the answer's length.

    Raises :class:`~qwenvl_agents.errors.VLMRequestError` (more frames than the image limit, refused
    request), :class:`~qwenvl_agents.errors.CorruptDocumentError` (undecodable file),
    :class:`~qwenvl_agents.errors.VLMConnectionError` (server unreachable); see :func:`ask_videos` for a
    batch that never raises for one video.

    Example (a scripted fake model stands in for Qwen2.5-VL):
        >>> import tempfile, pathlib
        >>> import cv2, numpy as np
        >>> from langchain_core.language_models.fake_chat_models import FakeListChatModel
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "v.mp4"
        >>> writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 2.0, (56, 56))
        >>> for i in range(8):
        ...     _ = writer.write(np.full((56, 56, 3), i * 30, np.uint8))
        >>> writer.release()
        >>> result = ask_video(FakeListChatModel(responses=["It gets brighter."]), path, "What happens?")
        >>> result.status, result.answer, result.timestamps
        ('ok', 'It gets brighter.', (0.0, 1.0, 2.0, 3.5))
    """
    started = time.perf_counter()
    target, parts = _prepare(
        model,
        video,
        question,
        mode=mode,
        frames=frames,
        max_images=max_images,
        max_video_tokens=max_video_tokens,
        max_pixels=max_pixels,
        max_tokens=max_tokens,
        options=options,
    )
    try:
        reply = target.model.invoke(_messages(parts, question, system))
    except Exception as exc:
        raise explain_error(exc, target.endpoints) from exc
    assert isinstance(reply, AIMessage)
    return _answer(question, parts, reply, started)


async def aask_video(
    model: BaseChatModel | VLMClient | ModelPort,
    video: str | os.PathLike[str],
    question: str,
    *,
    mode: VideoMode = "frames",
    frames: int | None = None,
    max_images: int | None = None,
    max_video_tokens: int = DEFAULT_VIDEO_TOKENS,
    max_pixels: int | None = None,
    max_tokens: int | None = None,
    system: str | None = SYSTEM_PROMPT,
    options: RenderOptions | None = None,
) -> VideoAnswer:
    """The asynchronous :func:`ask_video` (frames are decoded in a worker thread)."""
    started = time.perf_counter()
    target, parts = await asyncio.to_thread(
        _prepare,
        model,
        video,
        question,
        mode=mode,
        frames=frames,
        max_images=max_images,
        max_video_tokens=max_video_tokens,
        max_pixels=max_pixels,
        max_tokens=max_tokens,
        options=options,
    )
    try:
        reply = await target.model.ainvoke(_messages(parts, question, system))
    except Exception as exc:
        raise explain_error(exc, target.endpoints) from exc
    assert isinstance(reply, AIMessage)
    return _answer(question, parts, reply, started)


def _failed(video: str | os.PathLike[str], question: str, mode: VideoMode, exc: BaseException) -> VideoAnswer:
    message = str(exc) if isinstance(exc, QwenVLError) else f"{type(exc).__name__}: {exc}"
    if str(video) not in message and os.path.basename(str(video)) not in message:
        message = f"{video}: {message}"
    return VideoAnswer(str(video), question, "error", error=message, mode=mode, error_type=type(exc).__name__)


async def aask_videos(
    model: BaseChatModel | VLMClient | ModelPort,
    videos: Sequence[str | os.PathLike[str]],
    question: str,
    *,
    max_concurrency: int = 4,
    **kwargs: Any,
) -> list[VideoAnswer]:
    """The asynchronous :func:`ask_videos`."""
    if isinstance(videos, str | os.PathLike):
        videos = [videos]
    gate = asyncio.Semaphore(max(1, max_concurrency))
    mode: VideoMode = kwargs.get("mode", "frames")

    async def one(video: str | os.PathLike[str]) -> VideoAnswer:
        async with gate:
            try:
                return await aask_video(model, video, question, **kwargs)
            except Exception as exc:  # one video's failure is its own result; the batch goes on
                return _failed(video, question, mode, exc)

    return list(await asyncio.gather(*(one(v) for v in videos)))


def ask_videos(
    model: BaseChatModel | VLMClient | ModelPort,
    videos: Sequence[str | os.PathLike[str]],
    question: str,
    *,
    max_concurrency: int = 4,
    **kwargs: Any,
) -> list[VideoAnswer]:
    """Ask the same question about each video, answers in input order; never raises for one video.

    Each :class:`VideoAnswer` carries ``status`` and ``error``: a file that cannot be decoded, a request the
    server refuses or a connection failure fail that video only. Keyword arguments are those of
    :func:`ask_video`; up to ``max_concurrency`` videos are decoded and asked at once (threads).

    Example (needs a server):
        >>> answers = ask_videos(client, ["a.mp4", "broken.mp4"], "Describe this video.")  # doctest: +SKIP
        >>> [(a.status, a.error is None) for a in answers]  # doctest: +SKIP
        [('ok', True), ('error', False)]
    """
    if isinstance(videos, str | os.PathLike):
        videos = [videos]
    mode: VideoMode = kwargs.get("mode", "frames")

    def one(video: str | os.PathLike[str]) -> VideoAnswer:
        try:
            return ask_video(model, video, question, **kwargs)
        except Exception as exc:  # one video's failure is its own result; the batch goes on
            return _failed(video, question, mode, exc)

    if len(videos) <= 1 or max_concurrency <= 1:
        return [one(v) for v in videos]
    with ThreadPoolExecutor(max_workers=min(max_concurrency, len(videos))) as pool:
        return list(pool.map(one, videos))


__all__ = ["SYSTEM_PROMPT", "VideoAnswer", "aask_video", "aask_videos", "ask_video", "ask_videos", "video_message"]
