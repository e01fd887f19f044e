"""The exceptions callers are meant to catch.

Every error raised on purpose by qwenvl-agents derives from :class:`QwenVLError`, so an application can
catch one class. Messages name the file or server involved and say what to do next.
"""

from __future__ import annotations


class QwenVLError(RuntimeError):
    """Base class of every error qwenvl-agents raises on purpose.

    A ``RuntimeError``: the LangGraph API server (Studio) shows those messages to the user, while it
    replaces other exceptions' messages with "An internal error occurred".
    """


class DocumentError(QwenVLError):
    """A document could not be read. ``source`` names the file or URL."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.reason = message

    def __reduce__(self) -> tuple[type[DocumentError], tuple[str, str]]:
        # Errors cross process boundaries (parallel rendering); the default pickling passes one argument.
        return (type(self), (self.source, self.reason))


class UnsupportedDocumentError(DocumentError):
    """The file's type is not one qwenvl-agents can turn into pages."""


class CorruptDocumentError(DocumentError):
    """The file is damaged, truncated or not what its name says."""


class EncryptedDocumentError(DocumentError):
    """The document is password protected and no (or a wrong) password was given."""


class DocumentTooLargeError(DocumentError):
    """The document exceeds a configured limit (download size, image pixels)."""


class MissingDependencyError(QwenVLError):
    """An optional program or package is needed for this input; the message says how to install it."""


class VLMError(QwenVLError):
    """The vision-language model server could not answer."""


class VLMConnectionError(VLMError):
    """No configured endpoint could be reached."""


class VLMRequestError(VLMError):
    """The server refused a request (bad request, too many images, prompt too long, unknown model)."""


class ImageInputError(DocumentError):
    """An image given to the model (path, URL, bytes or data URL) could not be read.

    ``source`` names the input (a long data URL is shortened), ``reason`` says what went wrong: a missing
    file, an HTTP status, a URL that did not answer in time, bytes that are not an image, a size limit.
    """
