"""LangChain messages turned into what a local Qwen2.5-VL backend needs: text, sized images, sampled video.

The local backends (:mod:`~qwenvl_agents.vlm.local_transformers`, :mod:`~qwenvl_agents.vlm.local_vllm`)
accept the same messages as the OpenAI server path, so callers never know which backend runs:

- ``str`` content, ``{"type": "text", "text": ...}``;
- ``{"type": "image_url", "image_url": {"url": ...}}`` (or ``"image_url": "..."``) with a ``data:`` URL,
  an ``http(s)`` URL, a file path or a ``file://`` URL;
- LangChain's standard image blocks: ``{"type": "image", "base64": ..., "mime_type": ...}``,
  ``{"type": "image", "url": ...}`` and the older ``source_type`` form (``"data"`` + ``"source_type"``);
- ``{"type": "video_url", "video_url": {"url": ...}}`` and ``{"type": "video", ...}`` blocks (native video);
  a clip given as frames is simply several image parts.

Images are sized with the pixel budget on the model family's grid here (``ContentOptions.rules``, a
:class:`~qwenvl_agents.vlm.media_rules.MediaRules`; the server path does it in the client), videos are
decoded with OpenCV and sampled within a frame cap. Anything else is refused with a clear
:class:`~qwenvl_agents.errors.VLMRequestError`: a part silently dropped would change the question.

Example:
    >>> from langchain_core.messages import HumanMessage, SystemMessage
    >>> from PIL import Image
    >>> from qwenvl_agents.vlm.images import prepare_image
    >>> url = prepare_image(Image.new("RGB", (600, 400), "white")).data_url
    >>> conv = to_conversation(
    ...     [SystemMessage("Be brief."), HumanMessage([{"type": "image_url", "image_url": {"url": url}}, "Describe."])],
    ...     ContentOptions(min_pixels=4 * 784, max_pixels=16 * 784),
    ... )
    >>> [t.role for t in conv.turns], conv.image_count, conv.images[0].image.size
    (['system', 'user'], 1, (112, 84))
"""

from __future__ import annotations

import base64
import io
import math
import mimetypes
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from langchain_core.messages import AIMessage, BaseMessage, ChatMessage, HumanMessage, SystemMessage, ToolMessage
from PIL import Image

from qwenvl_agents.errors import CorruptDocumentError, MissingDependencyError, QwenVLError, VLMRequestError
from qwenvl_agents.vlm.images import (
    DEFAULT_MAX_ASPECT_RATIO,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_PIXELS,
    cap_aspect_ratio,
    load_image,
)
from qwenvl_agents.vlm.media_rules import DEFAULT_RULES, MediaRules

Role = Literal["system", "user", "assistant"]

#: Qwen2.5-VL's reference video budget (qwen-vl-utils): per-frame pixels and the default sampling rate.
#: A model family's own per-frame budget is its ``MediaRules.video_min_pixels`` / ``video_max_pixels``.
VIDEO_MIN_PIXELS = DEFAULT_RULES.video_min_pixels
VIDEO_MAX_PIXELS = DEFAULT_RULES.video_max_pixels
VIDEO_FPS = 2.0
VIDEO_MAX_FRAMES = 32
ACCEPTED_PARTS = "text, image_url, image, video_url, video"


@dataclass(frozen=True)
class ContentOptions:
    """Pixel budget for images and sampling for videos; mirrors ``QWENVL_MIN_PIXELS`` / ``MAX_PIXELS``.

    ``rules`` are the model family's media rules: the grid every image and frame is sized on.
    """

    min_pixels: int = DEFAULT_MIN_PIXELS
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_aspect_ratio: float = DEFAULT_MAX_ASPECT_RATIO
    video_fps: float = VIDEO_FPS
    video_max_frames: int = VIDEO_MAX_FRAMES
    video_min_pixels: int = VIDEO_MIN_PIXELS
    video_max_pixels: int = VIDEO_MAX_PIXELS
    rules: MediaRules = DEFAULT_RULES

    def __post_init__(self) -> None:
        if self.video_max_frames < 2:
            raise ValueError("video_max_frames must be at least 2 (Qwen2.5-VL merges frames in pairs)")
        if self.video_fps <= 0:
            raise ValueError("video_fps must be positive")


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    """An image resized to the model family's grid; ``source`` names where it came from (for errors)."""

    image: Image.Image
    source: str
    tokens: int

    @cached_property
    def data_url(self) -> str:
        """PNG data URL of the resized image (what vLLM's chat API takes)."""
        buf = io.BytesIO()
        self.image.save(buf, "PNG", compress_level=1)
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass(frozen=True)
class VideoPart:
    """Frames sampled from a video at ``fps`` (what transformers' processor takes), and the raw file.

    ``data`` / ``mime`` keep the encoded video for backends that decode natively (vLLM).
    """

    frames: tuple[Image.Image, ...]
    fps: float
    source: str
    native_fps: float
    total_frames: int
    data: bytes = field(repr=False, default=b"")
    mime: str = "video/mp4"

    @property
    def duration(self) -> float:
        return self.total_frames / self.native_fps

    def data_url(self) -> str:
        return f"data:{self.mime};base64," + base64.b64encode(self.data).decode("ascii")


Part = TextPart | ImagePart | VideoPart


@dataclass(frozen=True)
class ChatTurn:
    role: Role
    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))


@dataclass(frozen=True)
class Conversation:
    """A chat ready for a local backend: roles and parts, every image sized, every video sampled."""

    turns: tuple[ChatTurn, ...]

    @property
    def images(self) -> list[ImagePart]:
        return [p for t in self.turns for p in t.parts if isinstance(p, ImagePart)]

    @property
    def videos(self) -> list[VideoPart]:
        return [p for t in self.turns for p in t.parts if isinstance(p, VideoPart)]

    @property
    def image_count(self) -> int:
        return len(self.images)

    def openai_messages(self, video: Literal["native", "frames"] = "native") -> list[dict[str, Any]]:
        """OpenAI chat messages (images as data URLs) for vLLM's ``LLM.chat``.

        ``video="native"`` sends each video as a ``video_url`` data URL of the file (vLLM decodes and
        samples it); ``"frames"`` sends the sampled frames as images instead.
        """
        out: list[dict[str, Any]] = []
        for turn in self.turns:
            if all(isinstance(p, TextPart) for p in turn.parts):
                out.append({"role": turn.role, "content": turn.text})
                continue
            content: list[dict[str, Any]] = []
            for p in turn.parts:
                if isinstance(p, TextPart):
                    content.append({"type": "text", "text": p.text})
                elif isinstance(p, ImagePart):
                    content.append({"type": "image_url", "image_url": {"url": p.data_url}})
                elif video == "native":
                    content.append({"type": "video_url", "video_url": {"url": p.data_url()}})
                else:
                    content.extend(
                        {"type": "image_url", "image_url": {"url": ImagePart(f, p.source, 0).data_url}}
                        for f in p.frames
                    )
            out.append({"role": turn.role, "content": content})
        return out


def describe_source(source: object, limit: int = 80) -> str:
    """A short name for an input in error messages (a data URL is not printed in full).

    >>> describe_source("data:image/png;base64," + "A" * 500)
    'data:image/png;base64,... (500 characters)'
    """
    if isinstance(source, bytes):
        return f"<{len(source)} bytes>"
    text = str(source)
    if text.startswith("data:"):
        head, _, payload = text.partition(",")
        return f"{head},... ({len(payload)} characters)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def file_url_path(url: str) -> Path:
    """The local path of a ``file://`` URL.

    >>> str(file_url_path("file:///tmp/a%20b.png"))
    '/tmp/a b.png'
    """
    return Path(unquote(urlparse(url).path))


# --- images --------------------------------------------------------------------------------------


def load_image_part(source: str | bytes | Image.Image, options: ContentOptions) -> ImagePart:
    """Load (fetching URLs through :func:`~qwenvl_agents.vlm.images.load_image`) and size one image."""
    name = describe_source(source) if not isinstance(source, Image.Image) else "<PIL image>"
    src: Any = file_url_path(source) if isinstance(source, str) and source.startswith("file://") else source
    try:
        image = load_image(src)
    except QwenVLError:
        raise
    except Exception as exc:  # PIL, OS and decoding errors: name the input, keep the cause
        raise VLMRequestError(f"image {name} cannot be read: {type(exc).__name__}: {exc}") from exc
    image = cap_aspect_ratio(image, options.max_aspect_ratio)
    height, width = options.rules.resize(
        image.height, image.width, min_pixels=options.min_pixels, max_pixels=options.max_pixels
    )
    if (width, height) != image.size:
        image = image.resize((width, height), Image.Resampling.BICUBIC)
    return ImagePart(image, name, options.rules.tokens(height, width))


# --- videos --------------------------------------------------------------------------------------


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:
        raise MissingDependencyError(
            "Video input needs OpenCV: pip install 'qwenvl-agents[video]' (opencv-python-headless)"
        ) from exc
    return cv2


def _video_bytes(source: str | bytes) -> tuple[bytes, str]:
    """The encoded video and its MIME type, from bytes, a data URL, a path, a file:// or http(s) URL."""
    if isinstance(source, bytes):
        return source, "video/mp4"
    if source.startswith("data:"):
        head, _, payload = source.partition(",")
        mime = head[5:].split(";")[0] or "video/mp4"
        try:
            return base64.b64decode(payload, validate=False), mime
        except ValueError as exc:
            raise CorruptDocumentError(describe_source(source), f"is not valid base64: {exc}") from exc
    if source.startswith(("http://", "https://")):
        from qwenvl_agents.documents.download import download
        from qwenvl_agents.documents.options import RenderOptions

        fetched = download(source, RenderOptions())
        try:
            data = fetched.path.read_bytes()
        finally:
            if fetched.temp_dir is not None:
                import shutil

                shutil.rmtree(fetched.temp_dir, ignore_errors=True)
        return data, mimetypes.guess_type(fetched.name)[0] or "video/mp4"
    path = file_url_path(source) if source.startswith("file://") else Path(source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise VLMRequestError(f"video {describe_source(source)} cannot be read: {exc}") from exc
    return data, mimetypes.guess_type(path.name)[0] or "video/mp4"


def sample_indices(total_frames: int, native_fps: float, fps: float, max_frames: int) -> list[int]:
    """Frame indices sampled evenly at about ``fps``, at most ``max_frames``, an even count (>= 2).

    Qwen2.5-VL merges frames in pairs (temporal patch 2), so an odd count would waste half a pair.

    >>> sample_indices(12, 4.0, 2.0, 32)  # 3 s at 4 fps, sampled at 2 fps
    [0, 2, 4, 7, 9, 11]
    >>> sample_indices(1, 25.0, 2.0, 32)  # a single frame is shown twice
    [0, 0]
    """
    duration = total_frames / native_fps
    n = min(max_frames, max(2, round(duration * fps)))
    n -= n % 2
    if total_frames == 1:
        return [0] * n
    return [round(i * (total_frames - 1) / (n - 1)) for i in range(n)]


def decode_video(source: str | bytes, options: ContentOptions) -> VideoPart:
    """Decode a video with OpenCV into sampled, sized RGB frames plus fps metadata.

    Raises :class:`~qwenvl_agents.errors.CorruptDocumentError` naming the video when it cannot be decoded.
    """
    name = describe_source(source)
    data, mime = _video_bytes(source)
    cv2 = _cv2()
    # OpenCV reads from files only; a temporary copy also covers data URLs and downloads.
    suffix = mimetypes.guess_extension(mime) or ".mp4"
    fd, tmp = tempfile.mkstemp(suffix=suffix, prefix="qwenvl-video-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        cap = cv2.VideoCapture(tmp)
        try:
            if not cap.isOpened():
                raise CorruptDocumentError(
                    name, "cannot be decoded as video; the file is damaged or uses an unknown codec"
                )
            native_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0)
            total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            if not math.isfinite(native_fps) or native_fps <= 0:
                raise CorruptDocumentError(name, "has no frame rate; the file is damaged or not a video")
            frames = _read_frames(cap, cv2, name, total, native_fps, options)
        finally:
            cap.release()
    finally:
        os.unlink(tmp)
    total = max(total, 1)
    fps = len(frames) / (total / native_fps)
    return VideoPart(tuple(frames), fps, name, native_fps, total, data, mime)


def _read_frames(
    cap: Any, cv2: Any, name: str, total: int, native_fps: float, options: ContentOptions
) -> list[Image.Image]:
    if total <= 0:
        raise CorruptDocumentError(name, "announces no frames; the file is damaged or not a video")
    wanted = sample_indices(total, native_fps, options.video_fps, options.video_max_frames)
    frames: list[Image.Image] = []
    position, last = -1, None
    for target in wanted:
        # Sequential grab: seeking re-decodes from the previous key frame every time.
        while position < target and cap.grab():
            position += 1
            last = None
        if position < 0:
            raise CorruptDocumentError(name, "has no decodable video frame; the file is damaged or truncated")
        if last is None:
            ok, raw = cap.retrieve()
            if not ok or raw is None:
                raise CorruptDocumentError(name, f"frame {position} cannot be decoded")
            last = _frame_image(cv2.cvtColor(raw, cv2.COLOR_BGR2RGB), options)
        frames.append(last)  # a file shorter than announced repeats its last frame instead of failing late
    return frames


def _frame_image(rgb: Any, options: ContentOptions) -> Image.Image:
    image = Image.fromarray(rgb)
    h, w = options.rules.resize(
        image.height, image.width, min_pixels=options.video_min_pixels, max_pixels=options.video_max_pixels
    )
    return image.resize((w, h), Image.Resampling.BICUBIC) if (w, h) != image.size else image


# --- messages ------------------------------------------------------------------------------------


def _url_of(value: Any) -> Any:
    return value.get("url") if isinstance(value, dict) else value


def _block_source(part: dict[str, Any], kind: str) -> str | bytes:
    """The source of a LangChain standard ``image``/``video`` block (base64, url, or source_type form)."""
    if part.get("base64"):
        mime = part.get("mime_type") or f"{kind}/png"
        return f"data:{mime};base64,{part['base64']}"
    source_type = part.get("source_type")
    if source_type == "base64" and part.get("data"):
        mime = part.get("mime_type") or f"{kind}/png"
        return f"data:{mime};base64,{part['data']}"
    url = part.get("url") or (part.get("data") if source_type == "url" else None)
    if isinstance(url, str) and url:
        return url
    if part.get("file_id") or source_type == "id":
        raise VLMRequestError(f"{kind} blocks referring to a provider file id cannot be read by a local model")
    raise VLMRequestError(f"{kind} block without base64 data or url: keys {sorted(part)}")


def _parts(content: str | list[Any], options: ContentOptions, where: str) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)]
    parts: list[Part] = []
    for j, part in enumerate(content, 1):
        at = f"{where}, part {j}"
        if isinstance(part, str):
            parts.append(TextPart(part))
            continue
        if not isinstance(part, dict):
            raise VLMRequestError(f"{at}: content parts must be strings or dicts, got {type(part).__name__}")
        kind = part.get("type")
        if kind == "text":
            parts.append(TextPart(str(part.get("text", ""))))
        elif kind == "image_url":
            url = _url_of(part.get("image_url"))
            if not isinstance(url, str) or not url:
                raise VLMRequestError(f"{at}: image_url part without a url")
            parts.append(_load(load_image_part, url, options, at))
        elif kind == "image":
            parts.append(_load(load_image_part, _block_source(part, "image"), options, at))
        elif kind == "video_url":
            url = _url_of(part.get("video_url"))
            if not isinstance(url, str) or not url:
                raise VLMRequestError(f"{at}: video_url part without a url")
            parts.append(_load(decode_video, url, options, at))
        elif kind == "video":
            parts.append(_load(decode_video, _block_source(part, "video"), options, at))
        else:
            raise VLMRequestError(
                f"{at}: unsupported content part type {kind!r}; local backends accept {ACCEPTED_PARTS}"
            )
    return parts


def _load(loader: Any, source: Any, options: ContentOptions, at: str) -> Part:
    try:
        part: Part = loader(source, options)
    except VLMRequestError as exc:
        raise VLMRequestError(f"{at}: {exc}") from exc
    return part


def _role(message: BaseMessage, where: str) -> Role:
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        if message.tool_calls:
            raise VLMRequestError(f"{where}: tool calls need the OpenAI server backend (QWENVL_VLM_BACKEND=openai)")
        return "assistant"
    if isinstance(message, ChatMessage) and message.role in ("system", "user", "assistant"):
        return message.role  # type: ignore[return-value]
    if isinstance(message, ToolMessage):
        raise VLMRequestError(f"{where}: tool messages need the OpenAI server backend (QWENVL_VLM_BACKEND=openai)")
    raise VLMRequestError(f"{where}: unsupported message type {type(message).__name__}")


def to_conversation(messages: Sequence[BaseMessage], options: ContentOptions | None = None) -> Conversation:
    """Convert LangChain messages; raises :class:`VLMRequestError` / ``CorruptDocumentError`` on bad input."""
    opts = options or ContentOptions()
    turns = []
    for i, message in enumerate(messages, 1):
        where = f"message {i}"
        turns.append(ChatTurn(_role(message, where), tuple(_parts(message.content, opts, where))))
    if not turns:
        raise VLMRequestError("no messages to send")
    return Conversation(tuple(turns))
