"""Sample documents that qwenvl-agents makes itself, with the ground truth printed in them.

The demo and the examples need invoices, receipts, slide decks and reports to ask questions about, and
the repository must not carry third-party documents. :func:`write_samples` draws them instead, in English
and Simplified Chinese, and records what each one says (:class:`SampleDocument`) in ``samples.json``
together with the questions the demo asks and their expected answers.

Every name, number and address in the samples is invented. The PDFs need ``reportlab`` and the decks
``python-pptx`` (``pip install 'qwenvl-agents[samples]'``); the Chinese samples need a Chinese TrueType
font on the system (``apt-get install fonts-wqy-microhei``, or set ``QWENVL_CJK_FONT``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from qwenvl_agents.errors import MissingDependencyError
from qwenvl_agents.samples._fonts import CJK_FONT_ENV, FontFile, find_cjk_font, find_mono_font
from qwenvl_agents.samples._model import (
    MANIFEST_NAME,
    QAPair,
    RenderedSample,
    SampleDocument,
    SampleKind,
    SampleLanguage,
    load_samples,
    manifest_bytes,
)
from qwenvl_agents.samples._video import write_sample_video

__all__ = [
    "CJK_FONT_ENV",
    "MANIFEST_NAME",
    "SAMPLE_FILES",
    "FontFile",
    "QAPair",
    "SampleDocument",
    "SampleKind",
    "SampleLanguage",
    "find_cjk_font",
    "find_mono_font",
    "load_samples",
    "render_samples",
    "write_sample_video",
    "write_samples",
]

logger = logging.getLogger(__name__)

SAMPLE_FILES: tuple[str, ...] = (
    "invoice-en.pdf",
    "invoice-zh.pdf",
    "receipt-en.jpg",
    "receipt-zh.jpg",
    "slides-en.pptx",
    "slides-zh.pptx",
    "report-en.pdf",
    "report-zh.pdf",
)
"""The files :func:`write_samples` writes, in the order it returns them (plus ``samples.json``)."""


def render_samples() -> list[RenderedSample]:
    """Draw every sample in memory, in :data:`SAMPLE_FILES` order, without touching the disk.

    Raises :class:`MissingDependencyError` when reportlab, python-pptx or a needed font is missing, before
    anything is drawn.
    """
    try:
        from qwenvl_agents.samples import _invoice_en, _invoice_zh, _receipts, _report_en, _report_zh, _slides
    except ImportError as exc:
        raise MissingDependencyError(
            f"Generating the samples needs reportlab and python-pptx ({exc.name} is missing). "
            "Install them with `pip install 'qwenvl-agents[samples]'`."
        ) from exc
    cjk = find_cjk_font()
    mono = find_mono_font()
    builders: list[Callable[[], RenderedSample]] = [
        _invoice_en.invoice_en,
        lambda: _invoice_zh.invoice_zh(cjk),
        lambda: _receipts.receipt_en(mono),
        lambda: _receipts.receipt_zh(cjk),
        _slides.slides_en,
        _slides.slides_zh,
        _report_en.report_en,
        lambda: _report_zh.report_zh(cjk),
    ]
    rendered = [build() for build in builders]
    assert tuple(r.filename for r in rendered) == SAMPLE_FILES
    return rendered


def write_samples(dest: str | os.PathLike[str], *, overwrite: bool = False) -> list[SampleDocument]:
    """Write the sample documents and ``samples.json`` into ``dest`` and return their ground truth.

    ``dest`` is created if needed. The files are those of :data:`SAMPLE_FILES`: a born-digital invoice in
    English and in Chinese (PDF), a scanned-looking till receipt in each language (JPEG), a slide deck in
    each language (PPTX, with a table, a native chart and speaker notes), and a multi-page report in each
    language (PDF, with captioned tables). ``samples.json`` lists them all with their facts and the
    question/answer pairs of the demo; read it back with :func:`load_samples`.

    Output is deterministic: two runs on the same machine write byte-identical files (seeded noise,
    pinned dates and IDs). The bytes depend on the fonts found, so another machine may differ.

    Existing files are never replaced unless ``overwrite`` is true. A file whose content already equals
    what would be written is left alone silently; a file that differs is kept, and a warning naming it is
    logged on the ``qwenvl_agents.samples`` logger (the returned records then describe the generated
    version, not the kept file). Files are written via a temporary file and a rename, so an interrupted
    run never leaves a half-written sample behind.

    Raises :class:`~qwenvl_agents.errors.MissingDependencyError` (before writing anything) when reportlab,
    python-pptx or a Chinese font is missing; the message says how to install it.

    Example::

        >>> import tempfile
        >>> from qwenvl_agents.samples import write_samples
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     samples = write_samples(tmp)
        ...     invoice = samples[0]
        ...     print(invoice.name, invoice.kind, invoice.language, invoice.page_count)
        ...     print(invoice.facts["invoice_number"], invoice.facts["currency"], invoice.facts["total"])
        ...     print(invoice.questions[0].question, "->", invoice.questions[0].answer)
        invoice-en.pdf invoice en 1
        INV-2026-0042 USD 2,587.72
        What is the total of invoice INV-2026-0042? -> USD 2,587.72
    """
    target = Path(dest)
    rendered = render_samples()
    target.mkdir(parents=True, exist_ok=True)
    documents = [r.document(target) for r in rendered]
    outputs = [(r.filename, r.data) for r in rendered] + [(MANIFEST_NAME, manifest_bytes(documents))]
    for name, data in outputs:
        _write(target / name, data, overwrite=overwrite)
    return documents


def _write(path: Path, data: bytes, *, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        if path.is_file() and path.read_bytes() == data:
            logger.debug("%s is already up to date", path)
        else:
            logger.warning(
                "kept existing %s, which differs from the generated sample; pass overwrite=True to replace it", path
            )
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # mkstemp creates files readable by the owner only; samples are ordinary documents.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
