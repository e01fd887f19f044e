"""examples/video_detector_app.py in Debian's Chromium (headless, driven by Playwright) against the real vLLM server.

What this proves: the page uploads a generated video, the app streams the detector's NDJSON back, the page
shows each frame (thumbnail, time, verdict) as its line arrives, and the run stops after the consecutive
detections with the reason and times shown; an undecodable upload, an upload over the limit and an
unreachable model server each give a clear message on the page.

The tiny test model has random weights: whether it says ``present`` depends on the prompt's tokens, not on
the image. With the detector's default system prompt it answers "no" for every generated frame, with the
question alone "yes" for every frame. So the app under test is started with ``--system-prompt ''`` (the
fair question "Is a red ball visible in this frame?" alone), and the test asks the same server through the
Python API first what it answers for these frames; the page must agree with that, and the stop must happen.
Which frames are detected — and that a "no" resets the run — is proven only by the unit tests' fake model.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qwenvl_agents.vlm import VLMClient
from qwenvl_agents.workflows.detector import VideoDetector
from tests.support.videos import make_undecodable_video, make_video

pytestmark = [pytest.mark.integration, pytest.mark.vllm, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "video_detector_app.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PIXELS = {"QWENVL_MIN_PIXELS": str(16 * 784), "QWENVL_MAX_PIXELS": str(96 * 784)}
UPLOAD_LIMIT_MB = 2
TARGET = "a red ball"

# Records every change of the frame list and the summary, with the time, so the test can tell rows that
# arrived one by one from rows rendered all at once.
OBSERVER = """
window.__changes = [];
new MutationObserver(() => {
  const rows = document.querySelectorAll('#frames li.frame').length;
  const summary = document.getElementById('summary');
  const done = !!summary && !summary.hidden;
  const last = window.__changes[window.__changes.length - 1];
  if (!last || last.rows !== rows || last.done !== done) window.__changes.push({rows, done, t: performance.now()});
}).observe(document, {subtree: true, childList: true, attributes: true});
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_app(tmp: Path, base_url: str, model: str) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QWENVL_")}
    env.update(PIXELS, QWENVL_VLM_TIMEOUT="60", QWENVL_DATA_DIR=str(tmp / "data"))
    args = [APP, "--port", port, "--base-url", base_url, "--model", model, "--max-upload-mb", UPLOAD_LIMIT_MB]
    log = (tmp / f"app-{port}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, *map(str, args), "--system-prompt", ""], cwd=tmp, env=env, stdout=log, stderr=log, text=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the app exited with {proc.returncode}: {(tmp / f'app-{port}.log').read_text()}")
        try:
            if httpx.get(f"{url}/api/config", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.terminate()
    pytest.fail("the app did not answer within 90 s")


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("video-app")


@pytest.fixture(scope="module")
def app_url(vllm_server: Any, workdir: Path) -> Iterator[str]:
    proc, url = _start_app(workdir, vllm_server.base_url, vllm_server.model)
    yield url
    _stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.add_init_script(OBSERVER)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def video(workdir: Path) -> Path:
    return make_video(workdir / "ball.mp4", seconds=6, fps=4.0, appears_at=3.0)


def _scan(page: Any, url: str, video: Path, consecutive: int, *, clahe: bool = False, timeout: float = 120) -> None:
    page.goto(url)
    page.wait_for_function("document.getElementById('model').textContent !== 'the model'")
    page.set_input_files("#video", str(video))
    page.fill("#target", TARGET)
    page.fill("#consecutive", str(consecutive))
    if clahe:
        page.check("#clahe")
    page.evaluate("window.__changes = []")
    page.click("#start")
    page.wait_for_selector("#summary:not([hidden]), #error:not([hidden])", timeout=timeout * 1000)


def _rows(page: Any) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        "#frames li.frame",
        """rows => rows.map(r => ({ts: r.dataset.timestamp, status: r.dataset.status, detected: r.dataset.detected,
             cls: r.className, time: r.querySelector('.time').textContent,
             img: r.querySelector('img').naturalWidth}))""",
    )


def test_frames_stream_in_and_the_run_stops_after_consecutive_detections(
    page: Any, app_url: str, video: Path, vllm_server: Any, tmp_path: Path
) -> None:
    consecutive = 3
    with VLMClient([vllm_server.base_url], vllm_server.model, min_pixels=16 * 784, max_pixels=96 * 784) as client:
        expected = VideoDetector.from_client(client, TARGET, consecutive=consecutive, system_prompt=None).invoke(video)
    if expected.reason != "detected":
        pytest.fail(f"the test model no longer reports {consecutive} detections in a row here: {expected}")

    _scan(page, app_url, video, consecutive, clahe=True)
    _screenshot(page, tmp_path / "video-detector.png")

    assert page.is_hidden("#error")
    rows = _rows(page)
    assert len(rows) == expected.frames_checked == consecutive < expected.frames_total  # type: ignore[operator]
    assert [float(r["ts"]) for r in rows] == [float(i) for i in range(consecutive)]
    assert [r["time"] for r in rows] == ["0.0 s", "1.0 s", "2.0 s"]
    assert all(r["status"] == "ok" and r["detected"] == "true" and "detected" in r["cls"] for r in rows)
    assert all(r["img"] > 0 for r in rows)  # the thumbnails decoded
    summary = page.locator("#summary")
    assert summary.get_attribute("data-reason") == "detected"
    assert summary.get_attribute("data-frames-checked") == str(consecutive)
    title, text = page.text_content("#summary-title") or "", page.text_content("#summary-text") or ""
    assert f"first seen at {expected.first_detection:.1f} s" in title
    assert f"{consecutive} consecutive frames" in text
    assert f"Stopped early after {consecutive} of {expected.frames_total} frames" in text
    assert page.text_content("#progress") == f"{consecutive} frames checked."

    # Rows appeared one at a time before the summary: the page rendered the stream as it came. The last
    # frame's event and the summary are written back to back, so the browser may render them in one go.
    changes = page.evaluate("window.__changes")
    counts = [c["rows"] for c in changes if c["rows"] and not c["done"]]
    assert counts in (list(range(1, consecutive)), list(range(1, consecutive + 1))), changes
    assert changes[-1]["done"] and changes[-1]["rows"] == consecutive
    first = next(c["t"] for c in changes if c["rows"] == 1)
    assert changes[-1]["t"] > first


def test_consecutive_zero_scans_every_frame(page: Any, app_url: str, video: Path) -> None:
    _scan(page, app_url, video, 0)
    rows = _rows(page)
    assert [float(r["ts"]) for r in rows] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert page.locator("#summary").get_attribute("data-reason") == "end_of_video"
    assert "Checked 6 of 6 frames" in (page.text_content("#summary-text") or "")


def _screenshot(page: Any, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def test_an_undecodable_upload_is_reported_on_the_page(page: Any, app_url: str, workdir: Path, tmp_path: Path) -> None:
    bad = make_undecodable_video(workdir / "broken.mp4")
    _scan(page, app_url, bad, 2)
    page.wait_for_selector("#error:not([hidden])")
    _screenshot(page, tmp_path / "undecodable.png")
    message = page.text_content("#error") or ""
    assert "broken.mp4" in message and "cannot be decoded as video" in message
    assert str(workdir) not in message  # the server's temporary path is not shown
    assert page.locator("#summary").get_attribute("data-reason") == "video_error"
    assert page.text_content("#summary-title") == "Could not read the video"
    assert _rows(page) == []


def test_an_upload_over_the_limit_is_refused_with_a_clear_message(page: Any, app_url: str, workdir: Path) -> None:
    big = workdir / "long.mp4"
    big.write_bytes(os.urandom(int((UPLOAD_LIMIT_MB + 0.5) * 1e6)))
    _scan(page, app_url, big, 2)
    message = page.text_content("#error") or ""
    assert f"larger than the upload limit of {UPLOAD_LIMIT_MB:.1f} MB" in message
    assert page.is_hidden("#summary") and _rows(page) == []
    # The server enforces the limit too, for clients that skip the page's check.
    response = httpx.post(f"{app_url}/api/detect", params={"target": TARGET}, content=big.read_bytes(), timeout=30)
    assert response.status_code == 413 and "upload limit" in response.json()["error"]


def test_an_unreachable_model_server_is_reported_on_the_page(
    page: Any, workdir: Path, video: Path, tmp_path: Path
) -> None:
    proc, url = _start_app(workdir, f"http://127.0.0.1:{_free_port()}/v1", "tiny-qwen2.5-vl")
    try:
        _scan(page, url, video, 2)
        page.wait_for_selector("#error:not([hidden])")
        _screenshot(page, tmp_path / "unreachable.png")
        message = page.text_content("#error") or ""
        assert "cannot reach" in message and "frames in a row failed" in message
        assert page.locator("#summary").get_attribute("data-reason") == "server_errors"
        rows = _rows(page)
        assert len(rows) == 3 and all(r["status"] == "error" for r in rows)  # then it stopped asking
    finally:
        _stop(proc)
