"""Ground-truth records for the generated samples and their ``samples.json`` form."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

SampleKind = Literal["invoice", "receipt", "slides", "report"]
SampleLanguage = Literal["en", "zh"]

MANIFEST_NAME = "samples.json"
MANIFEST_VERSION = 1

_KINDS: frozenset[str] = frozenset({"invoice", "receipt", "slides", "report"})
_LANGUAGES: frozenset[str] = frozenset({"en", "zh"})


@dataclass(frozen=True, slots=True)
class QAPair:
    """A question the demo asks about one sample, with the expected answer.

    ``answer`` is written exactly as it is printed in the document (so a test, or a grader, can look for
    it on ``page``); ``page`` is 1-based (slide number for decks, 1 for images).
    """

    question: str
    answer: str
    page: int

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.answer, "page": self.page}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QAPair:
        return cls(question=str(data["question"]), answer=str(data["answer"]), page=int(data["page"]))


@dataclass(frozen=True, slots=True)
class SampleDocument:
    """One generated sample document and what is printed in it.

    ``facts`` maps a key field (``invoice_number``, ``total``, ``vendor`` ...) to its value exactly as it
    is printed on the page, as a string, so it can be searched for in a text layer or compared with a
    model's answer. ``questions`` are the question/answer pairs the demo asks about this document.
    """

    path: Path
    kind: SampleKind
    language: SampleLanguage
    page_count: int
    title: str
    # A dict keeps samples.json natural; it is excluded from hashing because dicts are unhashable.
    facts: dict[str, str] = field(default_factory=dict, hash=False)
    questions: tuple[QAPair, ...] = ()

    @property
    def name(self) -> str:
        return self.path.name

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used in ``samples.json``; ``path`` is the file name relative to the manifest."""
        return {
            "path": self.path.name,
            "kind": self.kind,
            "language": self.language,
            "page_count": self.page_count,
            "title": self.title,
            "facts": dict(self.facts),
            "questions": [q.to_dict() for q in self.questions],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base_dir: str | Path) -> SampleDocument:
        kind = str(data["kind"])
        language = str(data["language"])
        if kind not in _KINDS:
            raise ValueError(f"unknown sample kind {kind!r}; expected one of {sorted(_KINDS)}")
        if language not in _LANGUAGES:
            raise ValueError(f"unknown sample language {language!r}; expected one of {sorted(_LANGUAGES)}")
        return cls(
            path=Path(base_dir) / str(data["path"]),
            kind=cast(SampleKind, kind),
            language=cast(SampleLanguage, language),
            page_count=int(data["page_count"]),
            title=str(data["title"]),
            facts={str(k): str(v) for k, v in dict(data["facts"]).items()},
            questions=tuple(QAPair.from_dict(q) for q in data["questions"]),
        )


def manifest_bytes(samples: list[SampleDocument]) -> bytes:
    """``samples.json`` content; sorted keys and a trailing newline keep it byte-stable and diff-friendly."""
    payload = {
        "version": MANIFEST_VERSION,
        "generator": "qwenvl_agents.samples",
        "note": "Synthetic documents; every name, number and address in them is fictitious.",
        "documents": [s.to_dict() for s in samples],
    }
    return (json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def load_samples(dest: str | Path) -> list[SampleDocument]:
    """Read ``dest/samples.json`` (written by :func:`write_samples`) back into records.

    ``dest`` may be the directory or the manifest file itself; paths are resolved against its directory.
    """
    manifest = Path(dest)
    if manifest.is_dir():
        manifest = manifest / MANIFEST_NAME
    data = json.loads(manifest.read_text(encoding="utf-8"))
    version = data.get("version")
    if version != MANIFEST_VERSION:
        raise ValueError(f"{manifest}: unsupported samples manifest version {version!r}")
    return [SampleDocument.from_dict(d, manifest.parent) for d in data["documents"]]


@dataclass(frozen=True, slots=True)
class RenderedSample:
    """A sample rendered in memory, before it is written under its file name."""

    filename: str
    data: bytes
    kind: SampleKind
    language: SampleLanguage
    page_count: int
    title: str
    facts: dict[str, str] = field(hash=False)
    questions: tuple[QAPair, ...]

    def document(self, dest: Path) -> SampleDocument:
        return SampleDocument(
            path=dest / self.filename,
            kind=self.kind,
            language=self.language,
            page_count=self.page_count,
            title=self.title,
            facts=dict(self.facts),
            questions=self.questions,
        )
