"""http(s) sources: downloaded with limits, from a loopback server (never the internet)."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest

from qwenvl_agents.documents import DownloadError, RenderOptions, iter_pages, open_document
from qwenvl_agents.errors import DocumentTooLargeError
from qwenvl_agents.types import PageImage, SourceFailure
from tests.support.documents import http_server, make_pdf


@pytest.fixture
def pdf_bytes(tmp_path: Path) -> bytes:
    return make_pdf(tmp_path / "served.pdf", ["served page one", "served page two"]).read_bytes()


def test_a_url_is_downloaded_and_rendered(pdf_bytes: bytes, tmp_path: Path) -> None:
    routes = {
        "/files/report.pdf": (200, {"Content-Type": "application/pdf"}, pdf_bytes, 0.0),
        "/old": (302, {"Location": "/files/report.pdf"}, b"", 0.0),
        "/get?id=7": (200, {"Content-Type": "application/pdf", "Transfer-Encoding": "chunked"}, pdf_bytes, 0.0),
    }
    with http_server(routes) as base:
        for url in (f"{base}/files/report.pdf", f"{base}/old", f"{base}/get?id=7"):
            with open_document(url, RenderOptions(dpi=30)) as doc:
                pages = list(doc.pages())
                assert doc.info.source == url
                assert doc.info.document_id == hashlib.sha256(pdf_bytes).hexdigest()
                assert doc.info.suffix == "pdf" and doc.info.page_count == 2
                assert pages[1].text_layer is not None and pages[1].text_layer.text == "served page two"
        assert doc.info.name == "get"


def test_downloads_are_cached_by_content_hash(pdf_bytes: bytes, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    routes = {"/a.pdf": (200, {}, pdf_bytes, 0.0)}
    with http_server(routes) as base, open_document(f"{base}/a.pdf", RenderOptions(cache_dir=cache)) as doc:
        assert doc.info.name == "a.pdf"
    digest = hashlib.sha256(pdf_bytes).hexdigest()
    assert (cache / "downloads" / f"{digest}.pdf").read_bytes() == pdf_bytes
    assert [p.name for p in (cache / "downloads").iterdir()] == [f"{digest}.pdf"]  # no partial files left


def test_temporary_downloads_are_removed_on_close(pdf_bytes: bytes) -> None:
    with http_server({"/a.pdf": (200, {}, pdf_bytes, 0.0)}) as base:
        doc = open_document(f"{base}/a.pdf")
        files = [p for p in Path("/tmp").glob("qwenvl-download-*/*") if p.read_bytes() == pdf_bytes]
        assert files
        doc.close()
        assert not any(p.exists() for p in files)


def test_download_failures_are_source_failures(pdf_bytes: bytes, tmp_path: Path) -> None:
    big = b"%PDF-1.4\n" + b"0" * 50_000
    routes = {
        "/big.pdf": (200, {}, big, 0.0),
        "/big-chunked.pdf": (200, {"Transfer-Encoding": "chunked"}, big, 0.0),
        "/slow.pdf": (200, {}, pdf_bytes, 1.5),
        "/ok.pdf": (200, {}, pdf_bytes, 0.0),
    }
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{s.getsockname()[1]}/x.pdf"
    options = RenderOptions(dpi=20, download_max_bytes=10_000, download_timeout=0.5)
    with http_server(routes) as base:
        urls = [f"{base}/missing.pdf", f"{base}/big.pdf", f"{base}/big-chunked.pdf", f"{base}/slow.pdf", refused]
        items = list(iter_pages([*urls, f"{base}/ok.pdf"], options))
    failures = [i for i in items if isinstance(i, SourceFailure)]
    assert [f.source for f in failures] == urls
    assert [f.error_type for f in failures] == [
        "DownloadError",
        "DocumentTooLargeError",
        "DocumentTooLargeError",
        "DownloadError",
        "DownloadError",
    ]
    assert "HTTP 404" in failures[0].message
    assert "download_max_bytes" in failures[1].message and "download_max_bytes" in failures[2].message
    assert "timed out" in failures[3].message
    assert "check the URL" in failures[4].message
    assert all(f.source in f.message for f in failures)
    assert [i.page for i in items if isinstance(i, PageImage)] == [1, 2]


def test_errors_raised_by_open_document(tmp_path: Path) -> None:
    with http_server({"/big": (200, {}, b"x" * 2000, 0.0)}) as base:
        with pytest.raises(DocumentTooLargeError):
            open_document(f"{base}/big", RenderOptions(download_max_bytes=1000))
        with pytest.raises(DownloadError, match="HTTP 404"):
            open_document(f"{base}/nothing")
