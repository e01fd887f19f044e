"""`qwenvl pages` on the real corpus, with a corrupt, an encrypted and an unsupported file among them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.corpus import expected_page_counts, require_corpus

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def qwenvl(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QWENVL_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "qwenvl_agents.cli", *args], capture_output=True, text=True, env=env, timeout=1200
    )


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    from reportlab.pdfgen import canvas

    folder = tmp_path_factory.mktemp("bad")
    corrupt = folder / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage" + bytes(range(256)) * 4)
    encrypted = folder / "encrypted.pdf"
    c = canvas.Canvas(str(encrypted), encrypt="secret")
    c.drawString(72, 720, "Top secret invoice 4711")
    c.save()
    unsupported = folder / "notes.xyz"
    unsupported.write_text("not a document")
    return {"corrupt": corrupt, "encrypted": encrypted, "unsupported": unsupported}


@pytest.fixture(scope="module")
def listing(bad_files, tmp_path_factory) -> subprocess.CompletedProcess[str]:
    corpus = require_corpus()
    data_dir = tmp_path_factory.mktemp("data")
    # Page counts do not depend on resolution; a low one keeps the test quick.
    args = [str(corpus), *(str(p) for p in bad_files.values()), "--json", "--dpi", "36", "--workers", "2"]
    return qwenvl("pages", *args, data_dir=data_dir)


def _records(result: subprocess.CompletedProcess[str]) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_every_corpus_page_is_listed(listing) -> None:
    records = _records(listing)
    pages = Counter(r["source"] for r in records if r["type"] == "page")
    expected = expected_page_counts(require_corpus())
    assert expected, "the corpus holds no documents"
    assert dict(pages) == expected
    # Pages are numbered 1..n in order, and every page has a size and a token cost.
    by_doc: dict[str, list[int]] = {}
    for r in records:
        if r["type"] == "page":
            by_doc.setdefault(r["source"], []).append(r["page"])
            assert r["width"] > 0 and r["height"] > 0 and r["visual_tokens"] >= 256
    assert all(numbers == list(range(1, len(numbers) + 1)) for numbers in by_doc.values())


def test_bad_files_give_one_clear_error_each(listing, bad_files) -> None:
    assert listing.returncode != 0
    errors = [r for r in _records(listing) if r["type"] == "error"]
    assert sorted(Path(e["source"]).name for e in errors) == sorted(p.name for p in bad_files.values())
    by_name = {Path(e["source"]).name: e for e in errors}
    assert by_name["encrypted.pdf"]["error_type"] == "EncryptedDocumentError"
    assert "password" in by_name["encrypted.pdf"]["message"]
    assert by_name["corrupt.pdf"]["error_type"] == "CorruptDocumentError"
    assert by_name["notes.xyz"]["error_type"] == "UnsupportedDocumentError"
    for e in errors:
        assert Path(e["source"]).name in e["message"]
    summary = _records(listing)[-1]
    assert summary["type"] == "summary" and summary["errors"] == 3
    assert summary["skipped"] > 0  # ground-truth JSON/CSV/Markdown files in the corpus folders
    assert "Traceback" not in listing.stderr


def test_human_output_has_one_error_line_per_bad_file(bad_files, tmp_path) -> None:
    good = tmp_path / "good.png"
    from PIL import Image

    Image.new("RGB", (800, 600), "white").save(good)
    result = qwenvl("pages", str(good), *(str(p) for p in bad_files.values()), data_dir=tmp_path / "data")
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 3
    for path in bad_files.values():
        assert sum(path.name in line for line in error_lines) == 1
    assert "good.png" in result.stdout and "Traceback" not in result.stderr
    assert "1 documents, 1 pages, 3 errors" in result.stderr


def test_encrypted_pdf_opens_with_password(bad_files, tmp_path) -> None:
    result = qwenvl("pages", str(bad_files["encrypted"]), "--password", "secret", "--json", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    page = _records(result)[0]
    assert page["type"] == "page" and page["text_chars"] > 0


def test_demo_writes_samples_lists_their_pages_and_indexes_them(tmp_path) -> None:
    result = qwenvl("demo", "--data-dir", str(tmp_path), data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    samples = json.loads((tmp_path / "samples" / "samples.json").read_text())
    docs = samples["documents"]
    rows = [line.split() for line in result.stdout.splitlines()]
    listed = [r[0] for r in rows if len(r) >= 2 and r[1].isdigit()]  # "name page WxH tokens chars"
    indexed = [(r[0], r[1]) for r in rows if len(r) >= 2 and r[1].startswith("p") and r[1][1:].isdigit()]
    for doc in docs:
        name = Path(doc["path"]).name
        assert listed.count(name) == doc["page_count"], name
        assert sorted(p for n, p in indexed if n == name) == sorted(f"p{i}" for i in range(1, doc["page_count"] + 1))
    assert any((tmp_path / "page-images").rglob("*.png"))
    assert "0 failed" in result.stderr and (tmp_path / "chroma").is_dir()
    # The invoice's key fields were read offline from its text layer.
    invoice = next(line for line in result.stdout.splitlines() if line.strip().startswith("invoice-en.pdf p1"))
    assert "INV-2026-0042" in invoice and "2,587.72" in invoice
    # Then questions: with no VLM, the evidence for each — the page that holds the answer first.
    questions = result.stdout.split("\nQ: ")[1:]
    assert len(questions) == 5 and "QWENVL_VLM_BASE_URL" in result.stderr
    by_doc = {q["question"]: Path(d["path"]).name for d in docs for q in d.get("questions", [])}
    for block in questions[:4]:
        question, first_hit = block.splitlines()[0], block.splitlines()[1]
        assert first_hit.startswith(f"1. [{by_doc[question]}, p. 1]"), block
    # The sum over invoices and receipts is computed from the stored fields, per currency.
    usd = sum(
        Decimal(d["facts"]["total"].replace(",", "")) for d in docs if d["path"] in ("invoice-en.pdf", "receipt-en.jpg")
    )
    assert f"USD: {usd:,.2f} from 2 pages" in questions[4]
