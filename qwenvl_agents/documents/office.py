"""Office files (pptx, docx, xlsx, odp, odt, ods, ppt, doc, xls) rendered through LibreOffice → PDF.

Each conversion runs ``soffice --headless --convert-to pdf`` with its own throw-away user profile
(``-env:UserInstallation``): LibreOffice allows one process per profile, so a shared profile makes
parallel conversions — or a LibreOffice the user has open — fail or hang. The PDF is cached as
``cache_dir/office-pdf/<document_id>.pdf`` so a file is converted once, then rendered like any PDF.

Hidden slides are exported too (``ExportHiddenSlides``), so a deck has one page per slide and page
numbers match slide numbers. For pptx the text layer is the slide text read with python-pptx
(see :mod:`.pptx_text`); for the other formats it is the text layer of the converted PDF.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from qwenvl_agents.documents.base import with_page_count
from qwenvl_agents.documents.detect import FileType
from qwenvl_agents.documents.exceptions import OfficeConversionError
from qwenvl_agents.documents.options import RenderOptions
from qwenvl_agents.documents.pdf import PDFIUM_LOCK, PdfBackend, load_pdf, pdf_title
from qwenvl_agents.documents.pptx_text import slide_texts
from qwenvl_agents.errors import CorruptDocumentError, MissingDependencyError
from qwenvl_agents.types import DocumentInfo

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "install LibreOffice (Debian/Ubuntu: apt-get install -y --no-install-recommends "
    "libreoffice-impress libreoffice-writer libreoffice-calc) or set QWENVL_SOFFICE_PATH to its soffice binary"
)
_HIDDEN_SLIDES = '{"ExportHiddenSlides":{"type":"boolean","value":"true"}}'
_FILTERS = {
    "impress": f"pdf:impress_pdf_Export:{_HIDDEN_SLIDES}",
    "writer": "pdf:writer_pdf_Export",
    "calc": "pdf:calc_pdf_Export",
}
_APP = {"pptx": "impress", "odp": "impress", "ppt": "impress", "docx": "writer", "odt": "writer",
        "doc": "writer", "xlsx": "calc", "ods": "calc", "xls": "calc"}  # fmt: skip
_MAC_SOFFICE = "/Applications/LibreOffice.app/Contents/MacOS/soffice"


def find_soffice(options: RenderOptions) -> str:
    """The soffice binary: ``options.soffice_path``, else ``soffice``/``libreoffice`` on PATH."""
    if options.soffice_path:
        found = shutil.which(options.soffice_path)
        if found is None:
            raise MissingDependencyError(f"soffice_path={options.soffice_path!r} is not an executable; {INSTALL_HINT}")
        return found
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    if os.access(_MAC_SOFFICE, os.X_OK):
        return _MAC_SOFFICE
    raise MissingDependencyError(f"Office files need LibreOffice, which was not found: {INSTALL_HINT}")


class OfficeBackend(PdfBackend):
    """An office file, shown through its PDF conversion. ``info`` describes the original file."""

    backend_name = "office"

    @classmethod
    def open_office(cls, path: Path, info: DocumentInfo, ftype: FileType, options: RenderOptions) -> OfficeBackend:
        pdf_path, temp_dir = convert_to_pdf(path, info.document_id, ftype, options, source=info.source)
        pdf = None
        try:
            # The conversion is never encrypted: the user's PDF password does not apply to it.
            pdf_options = _without_password(options)
            pdf = load_pdf(pdf_path, None, info.source)
            with PDFIUM_LOCK:
                pages = len(pdf)
            texts = slide_texts(path) if ftype.kind == "pptx" else None
            if texts is not None and len(texts) != pages:
                logger.warning(
                    "%s: %d slides but LibreOffice made %d pages; using the PDF text layer",
                    info.source,
                    len(texts),
                    pages,
                )
                texts = None
            if not (title := office_title(path)):
                with PDFIUM_LOCK:
                    title = pdf_title(pdf)
            backend = cls(pdf_path, with_page_count(info, pages, title), pdf_options, pdf=pdf, page_texts=texts)
        except BaseException:
            if pdf is not None:
                with PDFIUM_LOCK:
                    pdf.close()
            if temp_dir is not None:
                shutil.rmtree(temp_dir, ignore_errors=True)
            raise
        if temp_dir is not None:
            backend.add_cleanup(shutil.rmtree, temp_dir, True)
        return backend


def _without_password(options: RenderOptions) -> RenderOptions:
    return dataclasses.replace(options, password=None) if options.password else options


def convert_to_pdf(
    path: Path, document_id: str, ftype: FileType, options: RenderOptions, *, source: str
) -> tuple[Path, Path | None]:
    """Convert ``path`` to PDF; returns the PDF and the temporary folder to delete later (``None`` if cached).

    A cached conversion is used even when LibreOffice is not installed (e.g. a cache copied from elsewhere).
    """
    target: Path | None = None
    parent: Path | None = None
    if options.cache_dir is not None:
        target = options.cache_dir / "office-pdf" / f"{document_id}.pdf"
        if target.is_file() and target.stat().st_size > 0:
            return target, None
    soffice = find_soffice(options)
    if target is not None:
        parent = target.parent
        parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".qwenvl-office-" if parent else "qwenvl-office-", dir=parent))
    try:
        produced = _run_soffice(soffice, path, ftype, work, options.office_timeout, source)
        if target is None:
            return produced, work
        os.replace(produced, target)  # atomic: a concurrent reader sees no half-written PDF
        shutil.rmtree(work, ignore_errors=True)
        return target, None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _run_soffice(soffice: str, path: Path, ftype: FileType, work: Path, timeout: float, source: str) -> Path:
    # A copy with a plain ASCII name: LibreOffice picks its import filter partly by suffix, and the
    # output name then is predictable whatever the original was called.
    suffix = ftype.suffix if ftype.suffix else ftype.kind
    src = work / f"input.{suffix}"
    shutil.copyfile(path, src)
    outdir = work / "out"
    profile = (work / "profile").absolute().as_uri()
    command = [
        soffice, f"-env:UserInstallation={profile}", "--headless", "--invisible", "--nologo",
        "--nodefault", "--norestore", "--nolockcheck",
        "--convert-to", _FILTERS[_APP[ftype.kind]], "--outdir", str(outdir), str(src),
    ]  # fmt: skip
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so a timeout kills soffice.bin too
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill(proc)
        raise OfficeConversionError(
            source,
            f"LibreOffice did not finish converting it within {timeout:g} s; "
            "raise QWENVL_OFFICE_TIMEOUT or check that the file opens in LibreOffice",
        ) from exc
    pdf = outdir / "input.pdf"
    if pdf.is_file() and pdf.stat().st_size > 0:
        return pdf
    detail = (err or out or b"").decode("utf-8", "replace").strip().splitlines()
    tail = "; ".join(line for line in detail[-3:] if "javaldx" not in line) or f"exit status {proc.returncode}"
    if proc.returncode not in (0, None):
        raise OfficeConversionError(
            source, f"LibreOffice failed to convert it ({tail}); check that it opens in LibreOffice"
        )
    raise CorruptDocumentError(
        source, f"LibreOffice could not open it ({tail}); the file is damaged or not a real .{ftype.suffix} file"
    )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            proc.kill()
    except ProcessLookupError:
        pass
    proc.communicate()


_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"


def office_title(path: Path) -> str | None:
    """The document title from OOXML ``docProps/core.xml`` or OpenDocument ``meta.xml``, if set."""
    try:
        with zipfile.ZipFile(path) as z:
            for member in ("docProps/core.xml", "meta.xml"):
                try:
                    info = z.getinfo(member)
                except KeyError:
                    continue
                if info.file_size > 1 << 20:  # metadata is tiny; do not parse a bloated member
                    return None
                root = ElementTree.fromstring(z.read(member))
                element = root.find(f".//{_DC_TITLE}")
                if element is not None and element.text and element.text.strip():
                    return element.text.strip()
    except (zipfile.BadZipFile, OSError, ElementTree.ParseError):
        return None
    return None
