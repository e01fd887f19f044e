"""Turn what the user named (files, folders, URLs) into an ordered list of sources."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import unquote, urlsplit

from qwenvl_agents.documents.detect import SUPPORTED_SUFFIXES

SourceLike = str | os.PathLike[str]


@dataclass(frozen=True)
class SourceListing:
    """The result of :func:`find_sources`.

    ``sources``: files (absolute paths) and URLs to read, in the order given, each folder's files sorted.
    ``skipped``: files inside folders left out because their type is not supported or because
    ``include``/``exclude`` filtered them out. ``missing``: named paths that do not exist.
    """

    sources: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceEntry:
    """One expanded source, in order: something to read, or a named path that does not exist."""

    kind: Literal["file", "url", "missing", "skipped"]
    value: str


def is_url(source: SourceLike) -> bool:
    """True for ``http://`` and ``https://`` URLs.

    Example:
        >>> is_url("https://example.org/a.pdf"), is_url("a.pdf")
        (True, False)
    """
    return isinstance(source, str) and source[:8].lower().startswith(("http://", "https://"))


def find_sources(
    sources: Iterable[SourceLike] | SourceLike,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> SourceListing:
    """Expand files, folders (recursively) and URLs into the sources :func:`iter_pages` will read.

    Explicitly named files are always kept, whatever their type (an unsupported one fails later with a
    clear message). Inside folders, only files with a supported suffix are kept; hidden files and folders
    (and Office ``~$`` lock files) are ignored. ``include``/``exclude`` are glob patterns matched against
    both the path relative to the folder (``invoices/**``) and the file name (``*.pdf``); with
    ``include`` a folder's file must match one of them, with ``exclude`` it must match none.
    A path named twice is listed once.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> for n in ("b.pdf", "a.png", "notes.txt"):
        ...     _ = (d / n).write_bytes(b"")
        >>> listing = find_sources([d, "https://example.org/x.pdf", d / "gone.pdf"])
        >>> [pathlib.Path(s).name for s in listing.sources]
        ['a.png', 'b.pdf', 'x.pdf']
        >>> [pathlib.Path(s).name for s in listing.skipped], [pathlib.Path(s).name for s in listing.missing]
        (['notes.txt'], ['gone.pdf'])
    """
    found: dict[str, list[str]] = {"file": [], "url": [], "missing": [], "skipped": []}
    ordered: list[str] = []
    for entry in iter_entries(sources, include=include, exclude=exclude):
        found[entry.kind].append(entry.value)
        if entry.kind in ("file", "url"):
            ordered.append(entry.value)
    return SourceListing(tuple(ordered), tuple(found["skipped"]), tuple(found["missing"]))


def iter_entries(
    sources: Iterable[SourceLike] | SourceLike,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> Iterator[SourceEntry]:
    """Lazily expand sources in order; folders are walked only when reached."""
    if isinstance(sources, (str, os.PathLike)):
        # iter_pages("a.pdf") would otherwise iterate over the characters of the name.
        sources = [sources]
    include, exclude = _as_patterns(include), _as_patterns(exclude)
    seen: set[str] = set()
    for raw in sources:
        if is_url(raw):
            yield SourceEntry("url", str(raw))
            continue
        text = os.fspath(raw)
        if text[:7].lower() == "file://":
            text = unquote(urlsplit(text).path)
        path = os.path.abspath(os.path.expanduser(text))
        if os.path.isdir(path):
            for kind, file in _walk(Path(path), include, exclude):
                if file not in seen:
                    seen.add(file)
                    yield SourceEntry(kind, file)
        elif os.path.exists(path):
            if path not in seen:
                seen.add(path)
                yield SourceEntry("file", path)
        else:
            yield SourceEntry("missing", path)


def _as_patterns(patterns: Sequence[str] | str) -> tuple[str, ...]:
    return (patterns,) if isinstance(patterns, str) else tuple(patterns)


def _walk(
    root: Path, include: tuple[str, ...], exclude: tuple[str, ...]
) -> Iterator[tuple[Literal["file", "skipped"], str]]:
    """Yield ``("file"|"skipped", path)`` for the files below ``root``, sorted by relative path."""
    found: list[tuple[tuple[str, ...], str]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        # Pruning in place stops os.walk from descending into hidden folders (.git, .venv, ...).
        dirnames[:] = [d for d in dirnames if not _hidden(d)]
        rel_dir = Path(dirpath).relative_to(root)
        for name in filenames:
            if not _hidden(name):
                found.append(((rel_dir / name).parts, str(root / rel_dir / name)))
    for parts, path in sorted(found):
        rel = PurePosixPath(*parts).as_posix()
        name = parts[-1]
        suffix = os.path.splitext(name)[1].lower().lstrip(".")
        keep = (
            suffix in SUPPORTED_SUFFIXES
            and (not include or _matches(rel, name, include))
            and not _matches(rel, name, exclude)
            and os.path.isfile(path)  # a dangling symlink is not a document
        )
        yield ("file" if keep else "skipped"), path


def _hidden(name: str) -> bool:
    # "~$report.docx" is the lock file Office leaves next to an open document.
    return name.startswith((".", "~$"))


def _matches(rel: str, name: str, patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        pattern = pattern.replace("\\", "/")
        candidates = [pattern]
        if pattern.startswith("**/"):
            candidates.append(pattern[3:])  # "**/x.pdf" also means x.pdf at the top of the folder
        # Case-insensitive, so "*.pdf" also finds SCAN.PDF.
        if any(fnmatchcase(rel.lower(), p.lower()) or fnmatchcase(name.lower(), p.lower()) for p in candidates):
            return True
    return False
