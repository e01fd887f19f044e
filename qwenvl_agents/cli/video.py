"""``qwenvl video ask`` and ``qwenvl video search``: questions about videos, and when something appears.

Example:
    >>> from typer.testing import CliRunner
    >>> from qwenvl_agents.cli.common import app
    >>> "--native" in CliRunner().invoke(app, ["video", "ask", "--help"], terminal_width=200).output
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qwenvl_agents.cli.common import (
    BaseUrl,
    JsonFlag,
    KnowledgeBase,
    ModelName,
    emit_json,
    print_error,
    video_app,
    vlm_settings,
)


def _time(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


@video_app.command("ask")
def video_ask(
    videos: Annotated[list[Path], typer.Argument(help="One or more video files, then the question.")],
    question: Annotated[str, typer.Argument(help="The question, e.g. 'Describe this video.'")],
    frames: Annotated[
        int | None,
        typer.Option(
            "--frames", min=1, help="Frames to sample (default: frames mode 4-8 within the image limit; native 16)."
        ),
    ] = None,
    native: Annotated[
        bool, typer.Option("--native", help="Send the video itself (vLLM video_url) instead of frames as images.")
    ] = False,
    max_video_tokens: Annotated[
        int | None, typer.Option("--max-video-tokens", min=16, help="Visual tokens the video may cost (default 2048).")
    ] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, help="Length of the answer in tokens.")] = 512,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    model: ModelName = None,
) -> None:
    """Ask a question about each video: evenly spaced frames with their times, or the video natively."""
    from qwenvl_agents.errors import VLMError
    from qwenvl_agents.vlm import ModelPort
    from qwenvl_agents.vlm.video import DEFAULT_VIDEO_TOKENS
    from qwenvl_agents.workflows.video_qa import ask_videos

    if not videos:
        print_error("error: give at least one video, then the question")
        raise typer.Exit(2)
    try:
        port = ModelPort.from_settings(vlm_settings(base_url, model)).check_configuration()
    except VLMError as exc:
        if as_json:
            emit_json({"type": "error", "error": str(exc)})
        else:
            print_error(f"error: {exc}")
        raise typer.Exit(1) from exc
    with port:
        answers = ask_videos(
            port,
            [str(v) for v in videos],
            question,
            mode="native" if native else "frames",
            frames=frames,
            max_video_tokens=max_video_tokens or DEFAULT_VIDEO_TOKENS,
            max_tokens=max_tokens,
        )
    for answer in answers:
        if as_json:
            emit_json({"type": "answer", **answer.to_dict()})
        elif answer.ok:
            times = ", ".join(f"{t:.1f}" for t in answer.timestamps)
            typer.secho(f"{answer.video}", bold=True)
            typer.echo(
                f"  ({answer.mode}: {len(answer.timestamps)} frames at {times} s, {answer.visual_tokens} visual tokens)"
            )
            typer.echo(answer.answer)
        else:
            print_error(f"✗ {answer.error}")
    raise typer.Exit(0 if all(a.ok for a in answers) else 1)


@video_app.command("search")
def video_search(
    video: Annotated[Path, typer.Argument(help="The video to search (its frames are indexed first if needed).")],
    query: Annotated[str, typer.Argument(help="What to look for, e.g. 'red car' or a word shown in the video.")],
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="How many moments come back.")] = 5,
    kb: KnowledgeBase = None,
    extractor: Annotated[
        str | None, typer.Option(help="How frames are read: auto, vlm or ocr (default: QWENVL_EXTRACTOR, auto).")
    ] = None,
    fps: Annotated[float | None, typer.Option("--fps", min=0.001, help="Frames indexed per second of video.")] = None,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    model: ModelName = None,
) -> None:
    """Index a video's frames (once) and show when QUERY appears: best moments and the first appearance."""
    from qwenvl_agents.errors import QwenVLError
    from qwenvl_agents.workflows.video_search import VideoSearch

    try:
        search = VideoSearch(vlm_settings(base_url, model), knowledge_base=kb, extractor=extractor, video_fps=fps)
    except (QwenVLError, ValueError) as exc:
        if as_json:
            emit_json({"type": "error", "video": str(video), "error": str(exc)})
        else:
            print_error(f"error: {exc}")
        raise typer.Exit(2) from exc
    if not as_json:
        typer.echo(f"indexing the frames of {video} (frames already indexed are skipped)...", err=True)
    result = search.search_many([video], query, k=k)[0]
    if as_json:
        emit_json({"type": "video_search", **result.to_dict()})
        raise typer.Exit(0 if result.ok else 1)
    if not result.ok:
        print_error(f"✗ {result.error}")
        raise typer.Exit(1)
    typer.echo(
        f"{result.video}: {result.frames} frames over {result.duration:.1f} s "
        f"({result.frames_new} extracted now, {result.frames_skipped} already indexed)",
        err=True,
    )
    first = result.first_appearance
    if first is None:
        typer.echo(f"{query!r}: no matching frame")
    else:
        typer.secho(f"{query!r} first appears at {_time(first.timestamp)} ({first.timestamp:.1f} s)", bold=True)
    for m in result.moments:
        mark = "*" if m.strong else " "
        typer.echo(f"{mark} {_time(m.timestamp):>7}  score {m.score:.4f}  {m.snippet[:90]}")
        if m.image_path:
            typer.echo(f"           {m.image_path}")
