"""The exceptions callers are meant to catch, all in one place.

Every error raised on purpose by qwenvl-agents derives from :class:`QwenVLError`, so an application can
catch one class. Messages name the file, URL or server involved and say what to do next. The packages that
raise them re-export them where they always were (``qwenvl_agents.documents.DownloadError``,
``qwenvl_agents.store.PageIndexError`` ...); this module is where they are defined.

What to catch for what:

=============================  ==============================================================================
Catch                          When
=============================  ==============================================================================
``QwenVLError``                anything qwenvl-agents raised on purpose (the base of every class below)
``DocumentError``              a document or image could not be read; ``source`` names it, ``reason`` says why
``DocumentNotFoundError``      the path does not exist (also a ``FileNotFoundError``)
``DownloadError``              a URL could not be fetched (HTTP status, timeout, refused connection, bad URL)
``DocumentTooLargeError``      a size limit was passed (download bytes, image pixels)
``UnsupportedDocumentError``   a file type that cannot be turned into pages
``CorruptDocumentError``       a damaged or truncated file; ``EncryptedDocumentError``: a password is needed
``OfficeConversionError``      LibreOffice failed or timed out converting an office file
``ImageInputError``            an image given to the model (path, URL, bytes, data URL) could not be read
``MissingDependencyError``     an optional program or package is needed; the message says how to install it
``VLMError``                   the model could not answer: ``VLMConnectionError`` (no endpoint reachable),
                               ``VLMRequestError`` (the server refused the request)
``PageIndexError``             the page index: ``KnowledgeBaseNameError``, ``EmbedderMismatchError``,
                               ``IndexUnavailableError`` (Chroma unreachable)
``UnknownDocumentError``       a search's document filter names no indexed document, or several
``CaseFileError``              an evaluation question file is not usable (every bad line in ``problems``)
``GroundTruthError``           a ground-truth file next to a document could not be read
``ServePlanError``             ``plan_server``: the model does not fit the GPUs; the message says what would
=============================  ==============================================================================

Example:
    >>> from qwenvl_agents.errors import DocumentError, QwenVLError
    >>> from qwenvl_agents.documents import open_document
    >>> try:
    ...     open_document("no/such/file.pdf")
    ... except DocumentError as exc:  # DocumentNotFoundError, a QwenVLError too
    ...     print(type(exc).__name__, isinstance(exc, QwenVLError), exc.source.endswith('file.pdf'))
    DocumentNotFoundError True True
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal


class QwenVLError(RuntimeError):
    """Base class of every error qwenvl-agents raises on purpose.

    A ``RuntimeError``: the LangGraph API server (Studio) shows those messages to the user, while it
    replaces other exceptions' messages with "An internal error occurred".
    """


# Documents and images


class DocumentError(QwenVLError):
    """A document could not be read. ``source`` names the file or URL."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.reason = message

    def __reduce__(self) -> tuple[type[DocumentError], tuple[str, str]]:
        # Errors cross process boundaries (parallel rendering); the default pickling passes one argument.
        return (type(self), (self.source, self.reason))


class DocumentNotFoundError(DocumentError, FileNotFoundError):
    """The path does not exist (also a :class:`FileNotFoundError`)."""


FetchFailure = Literal["status", "timeout", "unreachable", "invalid_url", "too_large"]
"""Why a URL could not be fetched (:attr:`DownloadError.kind`)."""


class DownloadError(DocumentError):
    """A URL could not be downloaded: HTTP error status, timeout, refused connection, bad URL.

    ``kind`` says which (:data:`FetchFailure`); ``"too_large"`` is the byte cap, which the document
    loader reports as :class:`DocumentTooLargeError` and the image loader as :class:`ImageInputError`.
    """

    def __init__(self, source: str, message: str, kind: FetchFailure = "unreachable") -> None:
        super().__init__(source, message)
        self.kind: FetchFailure = kind

    def __reduce__(self) -> tuple[type[DownloadError], tuple[str, str, FetchFailure]]:  # type: ignore[override]
        return (type(self), (self.source, self.reason, self.kind))


class UnsupportedDocumentError(DocumentError):
    """The file's type is not one qwenvl-agents can turn into pages."""


class CorruptDocumentError(DocumentError):
    """The file is damaged, truncated or not what its name says."""


class EncryptedDocumentError(DocumentError):
    """The document is password protected and no (or a wrong) password was given."""


class DocumentTooLargeError(DocumentError):
    """The document exceeds a configured limit (download size, image pixels)."""


class OfficeConversionError(DocumentError):
    """LibreOffice crashed or did not finish converting an office file to PDF in time."""


class ImageInputError(DocumentError):
    """An image given to the model (path, URL, bytes or data URL) could not be read.

    ``source`` names the input (a long data URL is shortened), ``reason`` says what went wrong: a missing
    file, an HTTP status, a URL that did not answer in time, bytes that are not an image, a size limit.
    """


class MissingDependencyError(QwenVLError):
    """An optional program or package is needed for this input; the message says how to install it."""


# The model


class VLMError(QwenVLError):
    """The vision-language model server could not answer."""


class VLMConnectionError(VLMError):
    """No configured endpoint could be reached."""


class VLMRequestError(VLMError):
    """The server refused a request (bad request, too many images, prompt too long, unknown model)."""


class ServePlanError(QwenVLError, ValueError):
    """The requested model cannot be served on the requested GPUs; the message says what would work.

    Also a ``ValueError``, as it was before it became a :class:`QwenVLError`.
    """


# The page index and search


class PageIndexError(QwenVLError):
    """Base class of the index's errors."""


class KnowledgeBaseNameError(PageIndexError, ValueError):
    """A knowledge-base name Chroma cannot use as a collection name."""


class EmbedderMismatchError(PageIndexError):
    """The knowledge base was indexed with other embeddings; its vectors cannot be compared with ours."""


class IndexUnavailableError(PageIndexError):
    """The Chroma server could not be reached, or the collection was not made by qwenvl-agents."""


class UnknownDocumentError(QwenVLError, LookupError):
    """A ``--document`` given to a search names no indexed document, or several."""


# Evaluation

MAX_LISTED = 50
"""Problems shown in a :class:`CaseFileError` message (all are kept in ``problems``)."""


@dataclass(frozen=True, slots=True)
class CaseProblem:
    """What is wrong with a question file, at ``line`` (1-based; ``None``: the file as a whole)."""

    line: int | None
    message: str


class CaseFileError(QwenVLError, ValueError):
    """A question file (or its corpus root) is not usable. ``problems`` lists every bad line, in order."""

    def __init__(self, path: str | os.PathLike[str], problems: list[CaseProblem] | tuple[CaseProblem, ...]) -> None:
        self.path = str(path)
        self.problems = tuple(problems)
        lines = [f"{self.path}:{p.line}: {p.message}" if p.line else f"{self.path}: {p.message}" for p in self.problems]
        if len(lines) > MAX_LISTED:
            lines = [*lines[:MAX_LISTED], f"... and {len(lines) - MAX_LISTED} more"]
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in {self.path}:\n" if count > 1 else ""
        super().__init__(head + "\n".join(lines))

    def __reduce__(self) -> tuple[type[CaseFileError], tuple[str, tuple[CaseProblem, ...]]]:
        return (type(self), (self.path, self.problems))


class GroundTruthError(QwenVLError, ValueError):
    """A ground-truth file next to a document could not be read."""
