"""iter_pages: a batch goes on past bad sources, pages come in order, the store is filled."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from qwenvl_agents.documents import RenderOptions, iter_pages
from qwenvl_agents.documents.events import DocumentEnded, DocumentStarted, SourceSkipped
from qwenvl_agents.documents.loader import render_pages
from qwenvl_agents.documents.pdf import PdfBackend
from qwenvl_agents.errors import CorruptDocumentError
from qwenvl_agents.store.page_images import PageImageStore
from qwenvl_agents.types import PageImage, SourceFailure
from tests.support.documents import make_pdf, png_header_only, sha256_file


@pytest.fixture
def batch(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "batch"
    folder.mkdir()
    good = make_pdf(folder / "a_good.pdf", ["alpha one", "alpha two"])
    encrypted = make_pdf(folder / "b_encrypted.pdf", ["secret"], encrypt="pw")
    corrupt = folder / "c_corrupt.pdf"
    corrupt.write_bytes(b"<html>404</html>")
    truncated = folder / "d_truncated.pdf"
    truncated.write_bytes(good.read_bytes()[:300])
    bomb = png_header_only(folder / "e_bomb.png", 20_000, 20_000)
    Image.new("RGB", (20, 10), "white").save(folder / "f_photo.png")
    unsupported = tmp_path / "notes.xyz"
    unsupported.write_text("hello")
    return {
        "folder": folder,
        "good": good,
        "encrypted": encrypted,
        "corrupt": corrupt,
        "truncated": truncated,
        "bomb": bomb,
        "unsupported": unsupported,
        "missing": tmp_path / "gone.pdf",
    }


def test_each_bad_source_gives_one_failure_and_the_rest_is_rendered(batch: dict[str, Path]) -> None:
    items = list(iter_pages([batch["folder"], batch["unsupported"], batch["missing"]], RenderOptions(dpi=50)))
    summary = [
        (Path(i.document.source).name, i.page) if isinstance(i, PageImage) else (Path(i.source).name, i.error_type)
        for i in items
    ]
    assert summary == [
        ("a_good.pdf", 1),
        ("a_good.pdf", 2),
        ("b_encrypted.pdf", "EncryptedDocumentError"),
        ("c_corrupt.pdf", "CorruptDocumentError"),
        ("d_truncated.pdf", "CorruptDocumentError"),
        ("e_bomb.png", "DocumentTooLargeError"),
        ("f_photo.png", 1),
        ("notes.xyz", "UnsupportedDocumentError"),
        ("gone.pdf", "DocumentNotFoundError"),
    ]
    failures = [i for i in items if isinstance(i, SourceFailure)]
    for failure in failures:
        assert failure.pages_done == 0
        assert Path(failure.source).name in failure.message  # the message names the file
    messages = {Path(f.source).name: f.message for f in failures}
    assert "pass password=" in messages["b_encrypted.pdf"]
    assert "not a PDF" in messages["c_corrupt.pdf"]
    assert "supported types" in messages["notes.xyz"]
    assert "check the path" in messages["gone.pdf"]


def test_a_bad_page_is_reported_and_the_next_pages_still_come(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_pdf(tmp_path / "three.pdf", ["one", "two", "three"])
    original = PdfBackend._render

    def flaky(self: PdfBackend, number: int) -> PageImage:
        if number == 2:
            raise CorruptDocumentError(self.info.source, "page 2 cannot be rendered (broken content stream)")
        return original(self, number)

    monkeypatch.setattr(PdfBackend, "_render", flaky)
    items = list(iter_pages([path], RenderOptions(dpi=30)))
    assert [type(i).__name__ for i in items] == ["PageImage", "SourceFailure", "PageImage"]
    failure = items[1]
    assert isinstance(failure, SourceFailure)
    assert failure.pages_done == 1 and failure.error_type == "CorruptDocumentError"
    assert f"{path}: page 2 of 3 could not be rendered" in failure.message
    assert [i.page for i in items if isinstance(i, PageImage)] == [1, 3]


def test_store_receives_every_page(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "doc.pdf", ["one", "two"])
    store = PageImageStore(tmp_path / "store")
    pages = [p for p in iter_pages([path], RenderOptions(dpi=40), store=store) if isinstance(p, PageImage)]
    assert len(pages) == 2
    for page in pages:
        assert page.stored is not None
        stored = Path(page.stored.path)
        assert stored.is_file() and hashlib.sha256(stored.read_bytes()).hexdigest() == page.stored.sha256
        assert (page.stored.width, page.stored.height) == page.image.size
        assert page.document.document_id == sha256_file(path)


def test_pages_are_rendered_lazily(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_pdf(tmp_path / "many.pdf", [f"page {i}" for i in range(10)])
    rendered: list[int] = []
    original = PdfBackend._render

    def counting(self: PdfBackend, number: int) -> PageImage:
        rendered.append(number)
        return original(self, number)

    monkeypatch.setattr(PdfBackend, "_render", counting)
    stream = iter_pages([path], RenderOptions(dpi=20))
    assert rendered == []
    next(stream)
    next(stream)
    assert rendered == [1, 2]
    stream.close()


def test_a_single_path_string_is_one_source(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "one.pdf", ["x"])
    assert [type(i).__name__ for i in iter_pages(str(path), RenderOptions(dpi=20))] == ["PageImage"]


def test_render_pages_renders_only_the_selected_pages_between_start_and_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    make_pdf(folder / "a_report.pdf", [f"page {i}" for i in range(1, 6)])
    (folder / "b_broken.pdf").write_bytes(b"<html>404</html>")
    (folder / "c_notes.txt").write_text("left out of a folder")
    Image.new("RGB", (20, 10), "white").save(folder / "d_photo.png")
    rendered: list[int] = []
    original = PdfBackend._render

    def counting(self: PdfBackend, number: int) -> PageImage:
        rendered.append(number)
        return original(self, number)

    monkeypatch.setattr(PdfBackend, "_render", counting)
    asked: list[tuple[str, int]] = []

    def select(info: object) -> list[int]:
        asked.append((Path(info.source).name, info.page_count))  # type: ignore[attr-defined]
        return [4, 2, 9] if info.media_type == "pdf" else []  # type: ignore[attr-defined]

    events = list(render_pages([folder], RenderOptions(dpi=20), select=select))

    assert asked == [("a_report.pdf", 5), ("d_photo.png", 1)]
    assert rendered == [2, 4]  # out-of-range 9 dropped, order ascending, nothing else rendered
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "DocumentStarted", "PageImage", "PageImage", "DocumentEnded",  # a_report.pdf
        "SourceFailure",  # b_broken.pdf: never opened, so no start or end around it
        "SourceSkipped",  # c_notes.txt
        "DocumentStarted", "DocumentEnded",  # d_photo.png: nothing selected
    ]  # fmt: skip
    started, ended, skipped = events[0], events[3], events[5]
    assert isinstance(started, DocumentStarted) and started.pages == (2, 4) and started.info.page_count == 5
    assert isinstance(ended, DocumentEnded) and ended.info == started.info
    assert isinstance(skipped, SourceSkipped) and Path(skipped.source).name == "c_notes.txt"
    assert [e.page for e in events if isinstance(e, PageImage)] == [2, 4]
    # iter_pages is the same stream without the events.
    plain = list(iter_pages([folder], RenderOptions(dpi=20)))
    assert [type(e).__name__ for e in plain] == ["PageImage"] * 5 + ["SourceFailure", "PageImage"]
