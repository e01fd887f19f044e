"""PageIndex against a real `chroma run` server started by the test (the multi-process setup)."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from qwenvl_agents.settings import Settings
from qwenvl_agents.store import HashingEmbeddings, IndexUnavailableError, LexicalIndex, PageEntry, PageIndex
from qwenvl_agents.types import DocumentInfo, KeyFields, PageExtraction

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _chroma_cli() -> str:
    beside = Path(sys.executable).parent / "chroma"
    found = str(beside) if beside.exists() else shutil.which("chroma")
    if not found:
        pytest.fail("the `chroma` command (from the chromadb package) is not installed", pytrace=False)
    return found


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory) -> Iterator[str]:
    port = _free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = (path / "server.log").open("wb")
    proc = subprocess.Popen(
        [_chroma_cli(), "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chroma run did not start: {(path / 'server.log').read_text()[-2000:]}", pytrace=False)
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _doc(name: str, pages: int) -> DocumentInfo:
    return DocumentInfo(hashlib.sha256(name.encode()).hexdigest(), f"/in/{name}", name, "pdf", "pdf", 100, pages)


def _settings(tmp_path: Path, url: str) -> Settings:
    return Settings(data_dir=tmp_path, chroma_url=url, chunk_chars=300, _env_file=None)  # type: ignore[call-arg]


def test_index_through_the_server(chroma_url, tmp_path) -> None:
    settings = _settings(tmp_path, chroma_url)
    index = PageIndex.open(settings, knowledge_base="server-kb", embeddings=HashingEmbeddings(256))
    assert chroma_url in repr(index) and not settings.chroma_dir.exists()  # nothing embedded on disk
    doc = _doc("acme.pdf", 2)
    entries = [
        PageEntry(
            doc,
            PageExtraction(
                doc.document_id,
                1,
                "Invoice from ACME, total 980.50 EUR",
                "vlm",
                fields=KeyFields(seller="ACME", total=980.5, issue_date="2026-03-02"),
            ),
        ),
        PageEntry(doc, PageExtraction(doc.document_id, 2, "\n\n".join(["Terms and conditions " * 8] * 6), "vlm")),
    ]
    written = index.upsert_pages(entries)
    assert written > 2 and index.upsert_pages(entries) == written and index.count() == written
    hits = index.dense_search("ACME invoice total", k=3, where={"total": {"$gt": 500}})
    assert [(h.page, h.fields.seller) for h, _ in hits] == [(1, "ACME")]
    lexical = LexicalIndex.load_or_build(index)
    assert lexical.rebuilt and lexical.search("980.50", k=1)[0][0] == hits[0][0].id
    assert not LexicalIndex.load_or_build(index).rebuilt

    reopened = PageIndex.open(settings, knowledge_base="server-kb", embeddings=HashingEmbeddings(256))
    assert reopened.get_page(doc.document_id, 1).fields.total == 980.5  # type: ignore[union-attr]
    assert reopened.delete_document(doc.document_id) == written and reopened.count() == 0
    assert PageIndex.drop(settings, "server-kb") and "server-kb" not in PageIndex.knowledge_bases(settings)


WRITER = """
import hashlib, sys
from qwenvl_agents.settings import Settings
from qwenvl_agents.store import HashingEmbeddings, PageEntry, PageIndex
from qwenvl_agents.types import DocumentInfo, PageExtraction
url, data, name = sys.argv[1:4]
index = PageIndex.open(Settings(data_dir=data, chroma_url=url, _env_file=None), "shared-kb", HashingEmbeddings(256))
doc = DocumentInfo(hashlib.sha256(name.encode()).hexdigest(), "/in/" + name, name, "pdf", "pdf", 1, 60)
for start in range(1, 61, 20):
    index.upsert_pages(
        PageEntry(doc, PageExtraction(doc.document_id, p, f"{name} page {p}", "ocr")) for p in range(start, start + 20)
    )
"""


def test_two_processes_write_to_one_server(chroma_url, tmp_path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, chroma_url, str(tmp_path / n), n])
        for n in ("one.pdf", "two.pdf")
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    index = PageIndex.open(
        _settings(tmp_path, chroma_url), knowledge_base="shared-kb", embeddings=HashingEmbeddings(256)
    )
    assert index.count() == 120
    assert sorted((d.name, d.pages_indexed) for d in index.documents()) == [("one.pdf", 60), ("two.pdf", 60)]


def test_unreachable_server_is_a_clear_error(tmp_path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(IndexUnavailableError, match="chroma run"):
        PageIndex.open(_settings(tmp_path, url), knowledge_base="nope", embeddings=HashingEmbeddings(64))
