"""A video as chat-message parts for a Qwen-VL model, within the server's limits.

Two ways to show a video to the model:

* **frames** (works with every backend and every server): ``N`` frames sampled evenly over the whole
  video, first and last frame included, each sent as an image part preceded by a text part
  ``"Frame at 12.0 s:"`` so the model can answer *when*. ``N`` must fit the server's image limit
  (``--limit-mm-per-prompt``); the default is ``min(max_images_per_prompt or 4, 8)``.
* **native** (vLLM's ``video_url`` part): the same kind of evenly spaced frames, shrunk and written to a
  small mp4 that vLLM decodes itself (Qwen2.5-VL then merges every 2 frames into one temporal patch, so
  a frame costs half an image). vLLM 0.32 refuses per-request ``mm_processor_kwargs`` and
  ``media_io_kwargs`` unless started with ``--trust-request-mm-kwargs``, and by itself samples a video at
  2 frames per second at full resolution (a 60 s 1080p clip would be about 160,000 tokens), so the
  frame count and pixel size are enforced here, on the client: the mp4 holds exactly the sampled frames
  at the budgeted size, at most 1.9 frames per second of its own timeline so the server keeps them all.

Both modes share one visual-token budget, ``max_video_tokens`` (default 2048): the per-frame pixel budget
is lowered so the whole video fits it, which keeps a prompt within ``--max-model-len``. Frames are sized on
the model family's grid (``rules``, a :class:`~qwenvl_agents.vlm.media_rules.MediaRules`: 28 px a token for
Qwen2.5-VL, the default, 32 px for Qwen3-VL), so the token counts are the server's.

Frames are decoded with :mod:`qwenvl_agents.documents` (OpenCV, read front to back; only the sampled
frames are converted to RGB). A file that is not a decodable video raises
:class:`~qwenvl_agents.errors.CorruptDocumentError` naming it.

Example:
    >>> sample_indices(frame_count=24, count=4)
    [0, 7, 15, 23]
    >>> frame_pixel_budget(4, max_video_tokens=2048)  # 4 images of <= 512 tokens each
    (100352, 401408)
"""

from __future__ import annotations

import base64
import dataclasses
import math
import os
import tempfile
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from qwenvl_agents.documents import RenderOptions, open_document
from qwenvl_agents.documents.base import with_page_count
from qwenvl_agents.documents.video import VideoBackend
from qwenvl_agents.errors import CorruptDocumentError, UnsupportedDocumentError, VLMRequestError
from qwenvl_agents.vlm.images import prepare_image
from qwenvl_agents.vlm.media_rules import DEFAULT_RULES, MediaRules

if TYPE_CHECKING:
    from PIL import Image

VideoMode = Literal["frames", "native"]
VIDEO_MODES: tuple[VideoMode, ...] = ("frames", "native")

DEFAULT_VIDEO_TOKENS = 2048
"""Visual tokens one video may cost in a prompt (both modes); fits a 4096-token context with room to answer."""
VIDEO_MIN_PIXELS = DEFAULT_RULES.video_min_pixels
"""Smallest frame size by default for Qwen2.5-VL (as qwen-vl-utils: 128 tokens; a family's is its
``rules.video_min_pixels``): small videos are not blown up to a document page's size."""
DEFAULT_FRAMES = 4
"""Frames sampled in frames mode when neither ``frames`` nor the server's image limit is known."""
MAX_DEFAULT_FRAMES = 8
"""Frames mode never samples more than this by default, however many images the server allows."""
DEFAULT_NATIVE_FRAMES = 16
"""Frames written to the native-mode mp4 by default (8 temporal patches)."""
NATIVE_MAX_FPS = 1.9
"""The native mp4's frame rate stays below the 2 fps at which vLLM's Qwen2.5-VL processor re-samples, so
every frame sent is kept (at exactly 2.0 a container's rounded rate can make it drop two)."""
TEMPORAL_PATCH = DEFAULT_RULES.temporal_patch_size
"""Qwen2.5-VL merges this many consecutive video frames into one grid of visual tokens (a family's is its
``rules.temporal_patch_size``)."""


def sample_indices(frame_count: int, count: int) -> list[int]:
    """``count`` frame indices spread evenly from the first to the last frame (fewer if the video is shorter).

    The same rule as vLLM's and qwen-vl-utils' uniform sampling (``linspace(0, frame_count - 1, count)``,
    truncated), so a frame here is the frame the server would pick.

    >>> sample_indices(6, 4)
    [0, 1, 3, 5]
    >>> sample_indices(3, 8)
    [0, 1, 2]
    >>> sample_indices(100, 1)
    [0]
    """
    if frame_count < 1:
        raise ValueError(f"a video needs at least one frame, got frame_count={frame_count}")
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    count = min(count, frame_count)
    if count == 1:
        return [0]
    return [math.floor(k * (frame_count - 1) / (count - 1) + 1e-6) for k in range(count)]


def frame_pixel_budget(
    count: int,
    *,
    max_video_tokens: int = DEFAULT_VIDEO_TOKENS,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    frames_per_grid: int = 1,
    rules: MediaRules = DEFAULT_RULES,
) -> tuple[int, int]:
    """``(min_pixels, max_pixels)`` for each of ``count`` frames so that all of them cost at most
    ``max_video_tokens`` visual tokens (``frames_per_grid`` frames share one grid: 1 for images, 2 for
    native video). ``min_pixels`` / ``max_pixels`` default to ``rules``' video minimum and image maximum.

    >>> frame_pixel_budget(8, max_video_tokens=2048, frames_per_grid=2)  # 4 grids of <= 512 tokens
    (100352, 401408)
    >>> frame_pixel_budget(4, max_video_tokens=100, min_pixels=16 * 784, max_pixels=96 * 784)
    (12544, 19600)
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    grids = math.ceil(count / frames_per_grid)
    per_grid = max_video_tokens // grids
    if per_grid < 4:
        raise VLMRequestError(
            f"{count} frames cannot fit max_video_tokens={max_video_tokens}: each would get fewer than 4 visual "
            "tokens; sample fewer frames or raise max_video_tokens"
        )
    low = rules.video_min_pixels if min_pixels is None else min_pixels
    high = rules.default_max_pixels if max_pixels is None else max_pixels
    top = min(high, per_grid * rules.token_pixels)
    return min(low, top), top


def fit_frame(
    height: int, width: int, min_pixels: int, max_pixels: int, rules: MediaRules = DEFAULT_RULES
) -> tuple[int, int]:
    """The grid size of a ``height`` x ``width`` frame within the budget, never above ``max_pixels``.

    Sizing rounds *up* when it enlarges a small frame to ``min_pixels``, which can land just above a
    tight ``max_pixels``; then the frame is scaled to ``max_pixels`` rounding down
    (:meth:`MediaRules.fit_within <qwenvl_agents.vlm.media_rules.MediaRules.fit_within>`).

    >>> fit_frame(168, 224, 200704, 200704)
    (364, 504)
    >>> fit_frame(30, 3000, 784, 32 * 784)
    (28, 896)
    """
    return rules.fit_within(height, width, min_pixels, max_pixels)


@dataclass(frozen=True)
class VideoFrame:
    """One sampled frame: its index in the file, its time in seconds, and the decoded RGB image."""

    index: int
    timestamp: float
    image: Image.Image = field(repr=False, compare=False)


@dataclass(frozen=True)
class SampledVideo:
    """Frames sampled evenly from a video, with what the container says about it."""

    source: str
    name: str
    document_id: str
    frame_count: int
    native_fps: float
    frames: tuple[VideoFrame, ...]

    @property
    def duration(self) -> float:
        """Seconds of video (frame count over frame rate)."""
        return self.frame_count / self.native_fps

    @property
    def timestamps(self) -> tuple[float, ...]:
        return tuple(f.timestamp for f in self.frames)


def sample_video(video: str | os.PathLike[str], count: int, *, options: RenderOptions | None = None) -> SampledVideo:
    """Decode ``count`` frames spread evenly over ``video`` (first and last included).

    The file is read once, front to back: skipped frames are only grabbed, sampled ones converted.
    Raises :class:`CorruptDocumentError` for a file that cannot be decoded and
    :class:`UnsupportedDocumentError` for a file that is not a video.
    """
    base = options or RenderOptions()
    with open_document(video, base) as document:
        if not isinstance(document, VideoBackend):
            raise UnsupportedDocumentError(
                document.info.source, f"is a {document.info.media_type} file, not a video (mp4, mov, avi, mkv, webm)"
            )
        indices = sample_indices(document.frame_count, count)
        n = len(indices)
        # A frame rate that puts sample k on frame indices[k]: the backend reads exactly these frames.
        span = (document.frame_count - 1) / (n - 1) if n > 1 else float(document.frame_count)
        fps = document.native_fps / span
        sampler = VideoBackend(
            document.path,
            with_page_count(document.info, n),
            dataclasses.replace(base, video_fps=fps),
            native_fps=document.native_fps,
            frame_count=document.frame_count,
        )
        frames = []
        for k, page in enumerate(islice(sampler.pages(), n)):
            index = sampler.frame_index(k)
            frames.append(VideoFrame(index, round(index / document.native_fps, 3), page.image))
        if len(frames) < n:  # pragma: no cover - the backend raises first when frames are missing
            raise CorruptDocumentError(document.info.source, f"only {len(frames)} of {n} sampled frames decoded")
        info = document.info
        return SampledVideo(
            info.source, info.name, info.document_id, document.frame_count, document.native_fps, tuple(frames)
        )


@dataclass(frozen=True)
class VideoParts:
    """Chat content parts showing one video, and what they cost.

    ``visual_tokens`` is what the model's vision tower will produce for them (exact on vLLM: the frames are
    already on the family's grid, 28 px for Qwen2.5-VL, 32 px for Qwen3-VL); ``frame_size`` is
    ``(width, height)`` as sent.
    """

    mode: VideoMode
    parts: tuple[dict[str, Any], ...] = field(repr=False)
    source: str
    name: str
    duration: float
    timestamps: tuple[float, ...]
    frame_size: tuple[int, int]
    visual_tokens: int

    def content(self, question: str) -> list[str | dict[str, Any]]:
        """The parts followed by ``question``: the content of one user message."""
        return [*self.parts, {"type": "text", "text": question}]


def _describe(sampled: SampledVideo) -> str:
    times = ", ".join(f"{t:.1f}" for t in sampled.timestamps)
    return (
        f"Video {sampled.name}, {sampled.duration:.1f} s long; {len(sampled.frames)} frames sampled evenly "
        f"at {times} seconds."
    )


def frame_parts(
    sampled: SampledVideo,
    *,
    max_video_tokens: int = DEFAULT_VIDEO_TOKENS,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    rules: MediaRules = DEFAULT_RULES,
) -> VideoParts:
    """Frames mode: a header, then ``"Frame at T s:"`` and the frame image for every sampled frame."""
    low, high = frame_pixel_budget(
        len(sampled.frames),
        max_video_tokens=max_video_tokens,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        rules=rules,
    )
    parts: list[dict[str, Any]] = [{"type": "text", "text": _describe(sampled)}]
    tokens, size = 0, (0, 0)
    for frame in sampled.frames:
        height, width = fit_frame(frame.image.height, frame.image.width, low, high, rules)
        # Sized here, so prepare_image's own rounding keeps exactly this grid.
        prepared = prepare_image(
            frame.image.resize((width, height)),
            min_pixels=height * width,
            max_pixels=height * width,
            format="jpeg",
            rules=rules,
        )
        parts.append({"type": "text", "text": f"Frame at {frame.timestamp:.1f} s:"})
        parts.append(prepared.content_part())
        tokens += prepared.tokens
        size = (prepared.width, prepared.height)
    return VideoParts(
        "frames", tuple(parts), sampled.source, sampled.name, sampled.duration, sampled.timestamps, size, tokens
    )


def native_part(
    sampled: SampledVideo,
    *,
    max_video_tokens: int = DEFAULT_VIDEO_TOKENS,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    rules: MediaRules = DEFAULT_RULES,
) -> VideoParts:
    """Native mode: a header and one ``video_url`` part holding an mp4 of the sampled frames.

    The mp4 has an even number of frames (at least 2; vLLM fails on a one-frame video, so a single frame is
    repeated), all of one size on the family's grid within the budget, at ``min(1.9, frames / duration)``
    frames per second so vLLM keeps every one.
    """
    import cv2
    import numpy as np

    frames = list(sampled.frames)
    if len(frames) % rules.temporal_patch_size:
        frames.append(frames[-1])  # the model pads an odd count with the last frame anyway
    low, high = frame_pixel_budget(
        len(frames),
        max_video_tokens=max_video_tokens,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        frames_per_grid=rules.temporal_patch_size,
        rules=rules,
    )
    first = frames[0].image
    height, width = fit_frame(first.height, first.width, low, high, rules)
    fps = min(NATIVE_MAX_FPS, len(frames) / max(sampled.duration, 1e-6))
    with tempfile.TemporaryDirectory(prefix="qwenvl-video-") as tmp:
        path = Path(tmp) / "video.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
        if not writer.isOpened():
            raise VLMRequestError("OpenCV cannot write an mp4 (mp4v) here; use mode='frames'")
        try:
            for frame in frames:
                pixels = np.asarray(frame.image.convert("RGB").resize((width, height)))
                writer.write(cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
        data = path.read_bytes()
    url = "data:video/mp4;base64," + base64.b64encode(data).decode("ascii")
    tokens = rules.video_tokens(len(frames), height, width)
    parts = ({"type": "text", "text": _describe(sampled)}, {"type": "video_url", "video_url": {"url": url}})
    return VideoParts(
        "native", parts, sampled.source, sampled.name, sampled.duration, sampled.timestamps, (width, height), tokens
    )


def default_frame_count(mode: VideoMode, max_images: int | None) -> int:
    """Frames sampled when the caller does not say: within the image limit in frames mode.

    >>> default_frame_count("frames", None), default_frame_count("frames", 2), default_frame_count("frames", 32)
    (4, 2, 8)
    >>> default_frame_count("native", 4)
    16
    """
    if mode == "native":
        return DEFAULT_NATIVE_FRAMES
    return min(max_images or DEFAULT_FRAMES, MAX_DEFAULT_FRAMES)


def video_parts(
    video: str | os.PathLike[str],
    *,
    mode: VideoMode = "frames",
    frames: int | None = None,
    max_images: int | None = None,
    max_video_tokens: int = DEFAULT_VIDEO_TOKENS,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    options: RenderOptions | None = None,
    rules: MediaRules = DEFAULT_RULES,
) -> VideoParts:
    """Sample ``video`` and build its message parts (see the module docs for the two modes).

    ``rules`` are the model family's media rules (default Qwen2.5-VL); ``min_pixels`` / ``max_pixels`` default
    to theirs. ``max_images`` is the server's image limit per prompt: in frames mode, asking for more frames raises
    :class:`VLMRequestError` before the video is even decoded. Native mode sends one video part (vLLM's
    ``--limit-mm-per-prompt`` must allow ``"video": 1``).

    Example (needs a video file):
        >>> parts = video_parts("clip.mp4", frames=4, max_images=4)  # doctest: +SKIP
        >>> [p["type"] for p in parts.parts]  # doctest: +SKIP
        ['text', 'text', 'image_url', 'text', 'image_url', 'text', 'image_url', 'text', 'image_url']
    """
    check_request(mode=mode, frames=frames, max_images=max_images)
    count = frames or default_frame_count(mode, max_images)
    sampled = sample_video(video, count, options=options)
    build = frame_parts if mode == "frames" else native_part
    return build(sampled, max_video_tokens=max_video_tokens, min_pixels=min_pixels, max_pixels=max_pixels, rules=rules)


def check_request(*, mode: str, frames: int | None, max_images: int | None) -> None:
    """Refuse, before anything is decoded or sent, a request the server would refuse.

    >>> check_request(mode="frames", frames=6, max_images=4)
    Traceback (most recent call last):
    ...
    qwenvl_agents.errors.VLMRequestError: 6 frames in frames mode, but the server accepts at most 4 images per \
prompt (QWENVL_VLM_MAX_IMAGES_PER_PROMPT / vLLM --limit-mm-per-prompt); ask for --frames 4 or fewer, or use \
native video
    """
    if mode not in VIDEO_MODES:
        raise ValueError(f"mode must be one of {', '.join(VIDEO_MODES)}, got {mode!r}")
    if frames is not None and (not isinstance(frames, int) or isinstance(frames, bool) or frames < 1):
        raise ValueError(f"frames must be a positive integer, got {frames!r}")
    if mode == "frames" and frames is not None and max_images is not None and frames > max_images:
        raise VLMRequestError(
            f"{frames} frames in frames mode, but the server accepts at most {max_images} images per prompt "
            f"(QWENVL_VLM_MAX_IMAGES_PER_PROMPT / vLLM --limit-mm-per-prompt); ask for --frames {max_images} "
            "or fewer, or use native video"
        )


__all__ = [
    "DEFAULT_VIDEO_TOKENS",
    "VIDEO_MIN_PIXELS",
    "VIDEO_MODES",
    "SampledVideo",
    "VideoFrame",
    "VideoMode",
    "VideoParts",
    "check_request",
    "default_frame_count",
    "fit_frame",
    "frame_parts",
    "frame_pixel_budget",
    "native_part",
    "sample_indices",
    "sample_video",
    "video_parts",
]
