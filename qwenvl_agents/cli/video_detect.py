"""``qwenvl video detect``: watch videos for one thing and say when it first appears.

Each video is sampled (one frame per second by default), every frame is judged by the VLM, and the scan
stops after ``--consecutive`` detections in a row. ``--json`` prints each event as it happens (NDJSON):
a ``frame`` object per frame, then a ``summary`` per video. Exit status 1 when any video failed.

Example:
    >>> from typer.testing import CliRunner
    >>> from qwenvl_agents.cli.common import app
    >>> "--consecutive" in CliRunner().invoke(app, ["video", "detect", "--help"], terminal_width=200).output
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qwenvl_agents.cli.common import BaseUrl, JsonFlag, ModelName, emit_json, print_error, video_app, vlm_settings

if TYPE_CHECKING:
    from qwenvl_agents.workflows.detector import DetectionSummary, FrameEvent


def _frame_line(event: FrameEvent) -> str:
    head = f"{event.timestamp:7.1f} s"
    if event.status == "error":
        return f"{head}  ! error: {event.error}"
    mark = "✓ seen    " if event.detected else ("· low conf" if event.present else "· not seen")
    return f"{head}  {mark} ({event.confidence}/10)  {event.description or ''}".rstrip()


def _summary_line(summary: DetectionSummary) -> str:
    if summary.status == "error":
        return f"{summary.video}: {summary.message} [{summary.frames_checked} frames]"
    first = f"first at {summary.first_detection:.1f} s" if summary.first_detection is not None else "not found"
    return f"{summary.video}: {first} — {summary.message} [{summary.frames_checked} frames, {summary.elapsed:.1f} s]"


@video_app.command("detect")
def video_detect(
    videos: Annotated[list[Path], typer.Argument(help="Video files (mp4, mov, avi, mkv, webm).")],
    target: Annotated[str, typer.Option("--target", "-t", help="What to look for, e.g. 'a red ball'.")],
    fps: Annotated[float, typer.Option(min=0.01, help="Frames sampled per second of video.")] = 1.0,
    clahe: Annotated[bool, typer.Option("--clahe", help="Enhance contrast (CLAHE) before asking.")] = False,
    consecutive: Annotated[
        int, typer.Option(min=0, help="Stop after this many detections in a row; 0 scans the whole video.")
    ] = 2,
    max_frames: Annotated[int | None, typer.Option(min=1, help="Check at most this many frames per video.")] = None,
    min_confidence: Annotated[
        int, typer.Option(min=1, max=10, help="A 'present' answer counts from this confidence (1-10) on.")
    ] = 1,
    thumbnails: Annotated[
        bool, typer.Option("--thumbnails", help="With --json: a small JPEG data URL of each frame.")
    ] = False,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    model: ModelName = None,
) -> None:
    """Find when TARGET first appears in each video: one structured answer per sampled frame, streamed."""
    from qwenvl_agents.errors import VLMError
    from qwenvl_agents.vlm import ModelPort
    from qwenvl_agents.workflows.detector import DetectionSummary, VideoDetector

    try:
        port = ModelPort.from_settings(vlm_settings(base_url, model)).check_configuration()
        detector = VideoDetector.from_port(
            port,
            target,
            fps=fps,
            clahe=clahe,
            consecutive=consecutive,
            max_frames=max_frames,
            min_confidence=min_confidence,
            thumbnails=thumbnails and as_json,
        )
    except (VLMError, ValueError) as exc:
        if as_json:
            emit_json({"type": "error", "error": str(exc)})
        else:
            print_error(f"error: {exc}")
        raise typer.Exit(2) from exc
    failed = 0
    with port:
        for video in videos:
            if not as_json:
                typer.echo(f"{video}: looking for {detector.target}")
            for event in detector.stream(video):
                if as_json:
                    emit_json(event.to_dict())
                    continue
                if isinstance(event, DetectionSummary):
                    line = _summary_line(event)
                    if event.status == "error":
                        more = event.error and event.error not in event.message
                        print_error(f"✗ {line}" + (f"\n  {event.error}" if more else ""))
                    else:
                        typer.echo(line)
                else:
                    typer.echo(_frame_line(event))
            failed += event.status == "error"
    raise typer.Exit(1 if failed else 0)
