"""The one bounded downloader: every failure is a DownloadError whose kind says what happened."""

from __future__ import annotations

import socket

import pytest

from qwenvl_agents.errors import DownloadError
from qwenvl_agents.fetch import fetch_bytes, open_url
from tests.support.documents import http_server

BODY = b"0123456789" * 500


def _failure(url: str, **limits: float) -> DownloadError:
    with pytest.raises(DownloadError) as info:
        fetch_bytes(url, timeout=limits.get("timeout", 10.0), max_bytes=int(limits.get("max_bytes", 10_000)))
    return info.value


def test_a_body_within_the_limits_is_returned_with_its_headers() -> None:
    with http_server({"/a": (200, {"Content-Type": "image/png; x=y"}, BODY, 0.0)}) as base:
        assert fetch_bytes(f"{base}/a", timeout=10, max_bytes=len(BODY)) == BODY
        with open_url(f"{base}/a", timeout=10, max_bytes=len(BODY)) as opened:
            assert opened.url == f"{base}/a" and opened.content_type == "image/png"
            assert b"".join(opened.chunks()) == BODY


def test_every_failure_is_one_error_type_with_its_kind() -> None:
    routes = {
        "/big": (200, {}, BODY, 0.0),
        "/big-chunked": (200, {"Transfer-Encoding": "chunked"}, BODY, 0.0),
        "/slow": (200, {}, BODY, 1.5),
    }
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{s.getsockname()[1]}/x"
    with http_server(routes) as base:
        missing = _failure(f"{base}/missing")
        declared = _failure(f"{base}/big", max_bytes=1000)
        streamed = _failure(f"{base}/big-chunked", max_bytes=1000)
        slow = _failure(f"{base}/slow", timeout=0.5)
    unreachable = _failure(refused)
    assert (missing.kind, declared.kind, streamed.kind, slow.kind, unreachable.kind) == (
        "status",
        "too_large",
        "too_large",
        "timeout",
        "unreachable",
    )
    assert missing.source == f"{base}/missing" and "HTTP 404" in missing.reason
    assert f"{len(BODY):,} bytes, more than 1,000" in declared.reason and "QWENVL_DOWNLOAD_MAX_BYTES" in declared.reason
    assert "more than 1,000 bytes" in streamed.reason
    assert slow.reason == "did not answer within 0.5 s; check the server or raise QWENVL_DOWNLOAD_TIMEOUT"
    assert "check the URL" in unreachable.reason


def test_the_name_and_the_setting_in_messages_are_the_callers() -> None:
    with http_server({"/slow": (200, {}, BODY, 1.5)}) as base, pytest.raises(DownloadError) as info:
        fetch_bytes(f"{base}/slow", timeout=0.3, max_bytes=10**6, name="photo", timeout_setting="MY_TIMEOUT")
    assert str(info.value) == "photo: did not answer within 0.3 s; check the server or raise MY_TIMEOUT"
