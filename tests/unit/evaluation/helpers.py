"""Builders shared by the evaluation tests: cases in memory and question files on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qwenvl_agents.evaluation import EvalCase


def case(answer: str | None, answer_type: str = "exact", *, answerable: bool = True, **kw: Any) -> EvalCase:
    """An in-memory case; only what scoring reads matters."""
    return EvalCase(
        id=kw.get("id", "c1"),
        set=kw.get("set", "test"),
        file=kw.get("file", "doc.pdf"),
        path=Path(kw.get("path", "/corpus/doc.pdf")),
        pages=kw.get("pages", (1,)),
        question=kw.get("question", "What?"),
        answer=answer,
        answer_type=answer_type,  # type: ignore[arg-type]
        answerable=answerable,
    )


def good_row(**overrides: Any) -> dict[str, Any]:
    """A valid question-file row for a document ``docs/a.pdf`` (see :func:`corpus_with`)."""
    row = {"id": "q1", "set": "docs", "file": "docs/a.pdf", "page": 1, "question": "What is the total?",
           "answer": "4.11", "answer_type": "number"}  # fmt: skip
    row.update(overrides)
    return row


def corpus_with(root: Path, *names: str) -> Path:
    """A corpus folder holding the given (empty but real) files."""
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%PDF-1.4\n")
    return root


def write_lines(path: Path, lines: list[Any]) -> Path:
    """A question file: dicts become JSON lines, strings are written as they are."""
    path.write_text("".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines), encoding="utf-8")
    return path
