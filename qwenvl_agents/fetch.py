"""The one bounded HTTP downloader: every http(s) URL qwenvl-agents fetches (documents, images) goes through here.

:func:`open_url` streams a URL with an overall deadline and a byte cap; :func:`fetch_bytes` reads it whole.
Every failure is one :class:`~qwenvl_agents.errors.DownloadError` whose ``kind`` says what went wrong (HTTP
status, timeout, unreachable, bad URL, too large) and whose message says what to do. Callers turn it into
their own error where they promise one (the image loader raises ``ImageInputError``).

Why one place: the limits hold for every URL alike, there is one HTTP stack in the package (httpx2, the one
the openai SDK is built on), and a URL policy (which hosts may be fetched) has one place to live.

Example:
    >>> from qwenvl_agents.errors import DownloadError
    >>> try:
    ...     fetch_bytes("http://127.0.0.1:9/report.pdf", timeout=2, max_bytes=1000)
    ... except DownloadError as exc:
    ...     print(exc.kind, "check the URL" in exc.reason)
    unreachable True
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx2

from qwenvl_agents.errors import DownloadError

DOWNLOAD_TIMEOUT_SETTING = "QWENVL_DOWNLOAD_TIMEOUT"
USER_AGENT = "qwenvl-agents"


@dataclass
class OpenedURL:
    """An answered request: ``url`` after redirects, the response ``headers``, and its body as :meth:`chunks`."""

    name: str
    url: str
    headers: httpx2.Headers
    response: httpx2.Response
    deadline: float
    timeout: float
    timeout_setting: str
    max_bytes: int

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case (``"image/png"``), or ``""``."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives, stopped by a :class:`DownloadError` past ``max_bytes`` or the deadline."""
        size = 0
        for chunk in self.response.iter_bytes():  # as they arrive: a chunk size would wait for 64 KB
            size += len(chunk)
            if size > self.max_bytes:
                raise DownloadError(self.name, _too_many_bytes(f"more than {self.max_bytes:,} bytes"), "too_large")
            # Each read is bounded by the timeout; this bounds a server that trickles bytes slowly too.
            if time.monotonic() > self.deadline:
                raise _timed_out(self.name, self.timeout, self.timeout_setting)
            yield chunk


@contextmanager
def open_url(
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    name: str | None = None,
    timeout_setting: str = DOWNLOAD_TIMEOUT_SETTING,
) -> Iterator[OpenedURL]:
    """GET ``url`` (following redirects); the whole answer must come within ``timeout`` s and ``max_bytes``.

    Raises :class:`~qwenvl_agents.errors.DownloadError` named ``name`` (default: the URL) for an HTTP error
    status, a declared or streamed body over ``max_bytes``, a timeout (the message suggests raising
    ``timeout_setting``), a connection failure or an invalid URL; the HTTP errors of reading the body
    inside the ``with`` block become one too.

    Example (needs a server):
        >>> with open_url("https://example.org/a.pdf", timeout=30, max_bytes=10**8) as page:  # doctest: +SKIP
        ...     data = b"".join(page.chunks())
    """
    name = name or url
    deadline = time.monotonic() + timeout
    try:
        with (
            httpx2.Client(
                follow_redirects=True, timeout=httpx2.Timeout(timeout), headers={"User-Agent": USER_AGENT}
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise DownloadError(
                    name,
                    f"the server answered HTTP {response.status_code} {response.reason_phrase}; check the URL",
                    "status",
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise DownloadError(
                    name, _too_many_bytes(f"{int(declared):,} bytes, more than {max_bytes:,}"), "too_large"
                )
            if time.monotonic() > deadline:
                raise _timed_out(name, timeout, timeout_setting)
            yield OpenedURL(
                name, str(response.url), response.headers, response, deadline, timeout, timeout_setting, max_bytes
            )
    except httpx2.TimeoutException as exc:
        raise _timed_out(name, timeout, timeout_setting) from exc
    except httpx2.HTTPError as exc:
        raise DownloadError(
            name,
            f"could not be fetched ({type(exc).__name__}: {exc}); check the URL and that the server is up",
            "unreachable",
        ) from exc
    except httpx2.InvalidURL as exc:
        raise DownloadError(name, f"is not a valid URL ({exc})", "invalid_url") from exc


def fetch_bytes(
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    name: str | None = None,
    timeout_setting: str = DOWNLOAD_TIMEOUT_SETTING,
) -> bytes:
    """The whole body of ``url``, within ``timeout`` seconds in all and ``max_bytes``: :func:`open_url`, read.

    Example (needs a server):
        >>> data = fetch_bytes("https://example.org/photo.jpg", timeout=5, max_bytes=10**7)  # doctest: +SKIP
    """
    with open_url(url, timeout=timeout, max_bytes=max_bytes, name=name, timeout_setting=timeout_setting) as opened:
        return b"".join(opened.chunks())


def _timed_out(name: str, timeout: float, setting: str) -> DownloadError:
    return DownloadError(name, f"did not answer within {timeout:g} s; check the server or raise {setting}", "timeout")


def _too_many_bytes(what: str) -> str:
    return f"is {what} (download_max_bytes); raise QWENVL_DOWNLOAD_MAX_BYTES or download it yourself"
