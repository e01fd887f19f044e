"""File types come from the bytes; the suffix only breaks ties and shapes the error message."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from qwenvl_agents.documents.detect import SUPPORTED_SUFFIXES, detect_type, hash_file
from qwenvl_agents.errors import CorruptDocumentError, EncryptedDocumentError, UnsupportedDocumentError
from tests.support.documents import make_pdf


def _image_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "kind"),
    [("PNG", "png"), ("JPEG", "jpeg"), ("TIFF", "tiff"), ("WEBP", "webp"), ("BMP", "bmp"), ("GIF", "gif")],
)
def test_images_are_detected_whatever_their_name(tmp_path: Path, fmt: str, kind: str) -> None:
    path = tmp_path / "no-suffix"
    path.write_bytes(_image_bytes(fmt))
    found = detect_type(path)
    assert (found.kind, found.media_type) == (kind, "image")


def test_the_file_suffix_is_kept_when_it_agrees(tmp_path: Path) -> None:
    path = tmp_path / "photo.JPEG"
    path.write_bytes(_image_bytes("JPEG"))
    assert detect_type(path).suffix == "jpeg"
    png_named_jpg = tmp_path / "photo.jpg"
    png_named_jpg.write_bytes(_image_bytes("PNG"))
    assert (detect_type(png_named_jpg).kind, detect_type(png_named_jpg).suffix) == ("png", "png")


def test_pdf_is_detected_without_suffix(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "scan", ["hello"])
    assert detect_type(path).kind == "pdf"


def test_a_pdf_that_is_not_a_pdf_says_so(tmp_path: Path) -> None:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(b"<html><body>Session expired</body></html>")
    with pytest.raises(CorruptDocumentError, match=r"invoice\.pdf: not a PDF \(it starts with b'<html>"):
        detect_type(path)


def test_empty_and_unknown_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(CorruptDocumentError, match="is empty"):
        detect_type(empty)
    notes = tmp_path / "notes.txt"
    notes.write_text("plain text")
    with pytest.raises(UnsupportedDocumentError, match=r"'\.txt' files are not supported; supported types: .*pdf"):
        detect_type(notes)


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_office_zip_containers_are_told_apart(tmp_path: Path) -> None:
    ct = {"[Content_Types].xml": b"<Types/>"}
    assert detect_type(_zip(tmp_path / "a", {**ct, "ppt/presentation.xml": b""})).kind == "pptx"
    assert detect_type(_zip(tmp_path / "b", {**ct, "word/document.xml": b""})).kind == "docx"
    assert detect_type(_zip(tmp_path / "c", {**ct, "xl/workbook.xml": b""})).kind == "xlsx"
    odp = _zip(tmp_path / "d", {"mimetype": b"application/vnd.oasis.opendocument.presentation"})
    assert (detect_type(odp).kind, detect_type(odp).media_type) == ("odp", "office")
    with pytest.raises(UnsupportedDocumentError, match="ZIP archive"):
        detect_type(_zip(tmp_path / "e.zip", {"readme.txt": b"hi"}))
    with pytest.raises(CorruptDocumentError, match=r"not a valid \.pptx"):
        detect_type(_zip(tmp_path / "f.pptx", {"readme.txt": b"hi"}))


def test_a_truncated_pptx_is_corrupt(tmp_path: Path) -> None:
    whole = _zip(tmp_path / "w.pptx", {"[Content_Types].xml": b"<Types/>" * 500, "ppt/x.xml": b"y" * 5000})
    cut = tmp_path / "cut.pptx"
    cut.write_bytes(whole.read_bytes()[:200])
    with pytest.raises(CorruptDocumentError, match="damaged ZIP"):
        detect_type(cut)


def test_ole_containers(tmp_path: Path) -> None:
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100
    doc = tmp_path / "old.bin"
    doc.write_bytes(header + "WordDocument".encode("utf-16-le"))
    assert detect_type(doc).kind == "doc"
    xls = tmp_path / "sheet.xls"
    xls.write_bytes(header)
    assert detect_type(xls).kind == "xls"  # no stream name found: the suffix decides
    locked = tmp_path / "locked.docx"
    locked.write_bytes(header + "EncryptedPackage".encode("utf-16-le"))
    with pytest.raises(EncryptedDocumentError, match="password-protected Office file"):
        detect_type(locked)


def test_videos(tmp_path: Path) -> None:
    mp4 = tmp_path / "clip"
    mp4.write_bytes(b"\x00\x00\x00\x1cftypisom" + b"\x00" * 32)
    assert (detect_type(mp4).kind, detect_type(mp4).media_type) == ("mp4", "video")
    mov = tmp_path / "clip2"
    mov.write_bytes(b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 32)
    assert detect_type(mov).kind == "mov"
    avi = tmp_path / "clip3"
    avi.write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST" + b"\x00" * 32)
    assert detect_type(avi).kind == "avi"
    webm = tmp_path / "clip4"
    webm.write_bytes(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\x00" * 32)
    assert detect_type(webm).kind == "webm"
    heic = tmp_path / "photo.heic"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 32)
    with pytest.raises(UnsupportedDocumentError, match="HEIC"):
        detect_type(heic)


def test_hash_file_is_sha256_of_the_bytes_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = bytes(range(256)) * 5000
    path.write_bytes(data)
    assert hash_file(path, chunk_size=1000) == (hashlib.sha256(data).hexdigest(), len(data))


def test_supported_suffixes_cover_the_documented_formats() -> None:
    documented = {"pdf", "png", "jpg", "jpeg", "tif", "tiff", "webp", "bmp", "gif", "pptx", "docx", "xlsx"}
    documented |= {"odp", "odt", "ods", "ppt", "doc", "xls", "mp4", "mov", "avi", "mkv", "webm"}
    assert documented <= SUPPORTED_SUFFIXES
