"""A small web app: upload a video and watch Qwen2.5-VL judge it frame by frame until it finds your target.

    python examples/video_detector_app.py                      # model from QWENVL_VLM_BASE_URL / QWENVL_VLM_MODEL
    python examples/video_detector_app.py --base-url http://127.0.0.1:8000/v1 --model Qwen/Qwen2.5-VL-7B-Instruct

Then open http://127.0.0.1:8000. The page posts the video's bytes to ``/api/detect`` (options in the query
string); the server runs :class:`qwenvl_agents.workflows.detector.VideoDetector` and streams its events back
as NDJSON, one line per judged frame (with a thumbnail) and a summary last, so the page shows each frame as
soon as the model has answered. No build step and nothing from a CDN: the page is the three files in
``examples/video_detector_app/``. Needs the ``webapp`` and ``video`` extras (Starlette, uvicorn, OpenCV).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from qwenvl_agents.errors import VLMError
from qwenvl_agents.settings import Settings
from qwenvl_agents.vlm import ModelPort
from qwenvl_agents.workflows.detector import VideoDetector
from qwenvl_agents.workflows.detector_prompts import DETECTOR_SYSTEM_PROMPT

STATIC = Path(__file__).with_name("video_detector_app")
MAX_CONSECUTIVE = 50
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm"}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"type": "error", "error": message}, status_code=status)


def _options(request: Request) -> dict[str, Any] | str:
    """The scan options from the query string, or what is wrong with them."""
    query = request.query_params
    target = (query.get("target") or "").strip()
    if not target:
        return "say what to look for (the 'Look for' field), e.g. 'a red ball'"
    if len(target) > 200:
        return "the target is longer than 200 characters; describe it in a few words"
    try:
        consecutive = int(query.get("consecutive", "2"))
    except ValueError:
        return f"consecutive must be a whole number, not {query.get('consecutive')!r}"
    if not 0 <= consecutive <= MAX_CONSECUTIVE:
        return f"consecutive must be between 0 (scan the whole video) and {MAX_CONSECUTIVE}"
    clahe = query.get("clahe", "").lower() in ("1", "true", "on", "yes")
    name = Path(query.get("name") or "upload.mp4").name
    return {"target": target, "consecutive": consecutive, "clahe": clahe, "name": name}


async def _save_upload(request: Request, folder: Path, name: str, limit: int) -> Path | JSONResponse:
    """Write the request body to ``folder``, refusing it as soon as it passes ``limit`` bytes."""
    too_large = f"the video is larger than the upload limit of {limit / 1e6:.1f} MB; send a shorter or smaller clip"
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return _error(413, too_large)
    suffix = Path(name).suffix.lower()
    path = folder / f"upload{suffix if suffix in VIDEO_SUFFIXES else '.mp4'}"
    size = 0
    with path.open("wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return _error(413, too_large)
            out.write(chunk)
    if size == 0:
        return _error(400, "the upload is empty; choose a video file")
    return path


def create_app(port: ModelPort, *, max_upload_bytes: int = 200_000_000, system_prompt: str | None = None) -> Starlette:
    """The Starlette app; every scan takes the ``detector`` model of ``port``."""
    prompt = DETECTOR_SYSTEM_PROMPT if system_prompt is None else system_prompt

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def config(request: Request) -> Response:
        return JSONResponse(
            {"model": port.settings.vlm_model, "max_upload_bytes": max_upload_bytes, "max_consecutive": MAX_CONSECUTIVE}
        )

    async def detect(request: Request) -> Response:
        options = _options(request)
        if isinstance(options, str):
            return _error(400, options)
        folder = Path(tempfile.mkdtemp(prefix="qwenvl-detect-"))
        try:
            saved = await _save_upload(request, folder, options["name"], max_upload_bytes)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        if isinstance(saved, JSONResponse):
            shutil.rmtree(folder, ignore_errors=True)
            return saved
        detector = VideoDetector.from_port(
            port,
            options["target"],
            clahe=options["clahe"],
            consecutive=options["consecutive"],
            thumbnails=True,
            system_prompt=prompt,
        )

        async def events() -> AsyncIterator[str]:
            try:
                async for event in detector.astream(saved, name=options["name"]):
                    yield json.dumps(event.to_dict(), ensure_ascii=False) + "\n"
            except Exception as exc:  # the page must hear about it: the status line is already sent
                yield json.dumps({"type": "error", "error": f"{type(exc).__name__}: {exc}"}) + "\n"
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="application/x-ndjson", headers=headers)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/config", config),
            Route("/api/detect", detect, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--base-url", help="vLLM endpoint(s), comma-separated (default: QWENVL_VLM_BASE_URL)")
    parser.add_argument("--model", help="served model name (default: QWENVL_VLM_MODEL)")
    parser.add_argument("--max-upload-mb", type=float, default=200.0, help="largest accepted upload (MB)")
    parser.add_argument(
        "--system-prompt",
        help="instructions sent before every frame instead of the detector's default; '' sends the question alone",
    )
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in {"vlm_base_url": args.base_url, "vlm_model": args.model}.items() if v}
    try:
        port = ModelPort.from_settings(Settings(**overrides)).check_configuration()
    except VLMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    app = create_app(port, max_upload_bytes=int(args.max_upload_mb * 1e6), system_prompt=args.system_prompt)
    where = ", ".join(port.base_urls)
    print(f"video detector on http://{args.host}:{args.port} (model {port.settings.vlm_model} at {where})")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
