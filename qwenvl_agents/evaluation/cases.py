"""Question files for ``qwenvl eval``: JSON lines in the format of the corpus's ``qa-dev.jsonl``, checked whole.

One object per line::

    {"id": "inv-1", "set": "invoices", "file": "invoices/coolblue1.pdf", "page": 1,
     "question": "What is the total?", "answer": "717.97", "answer_type": "number", "scope": "corpus"}

- Required: ``id`` (unique), ``file`` (relative to the corpus root, or absolute), ``question``; and for an
  answerable case ``answer`` and ``answer_type`` (``exact`` | ``number`` | ``contains``) and the gold page(s):
  ``page`` and/or ``pages`` (positive integers, 1-based; a slide number for ``.pptx``, 1 for an image).
- Optional: ``set`` (default: the first folder of ``file``), ``answerable`` (default true; an unanswerable case
  needs no answer or page, and its ``answer_type`` defaults to ``exact``), ``scope`` (``corpus``, the default,
  searches everything; ``document`` limits retrieval to the case's own file). Other fields are kept in
  :attr:`EvalCase.extra`. Blank lines and lines starting with ``#`` are skipped.

Every bad line is reported in one :class:`CaseFileError`, as ``file:line: what is wrong``.

The corpus root (:func:`resolve_corpus_root`): the ``--corpus`` option, else ``QWENVL_CORPUS``, else the question
file's own folder.

Example:
    >>> import json, pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "a.pdf").write_bytes(b"%PDF-1.4")
    8
    >>> row = {"id": "q1", "file": "a.pdf", "page": 2, "question": "Total?", "answer": "4,11", "answer_type": "number"}
    >>> _ = (root / "qa.jsonl").write_text(json.dumps(row) + "\\n# a comment\\n")
    >>> [(c.id, c.pages, c.scope, c.path.name) for c in load_cases(root / "qa.jsonl", root)]
    [('q1', (2,), 'corpus', 'a.pdf')]
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

from qwenvl_agents.errors import CaseFileError, CaseProblem
from qwenvl_agents.evaluation.scoring import parse_number

AnswerType = Literal["exact", "number", "contains"]
Scope = Literal["corpus", "document"]
ANSWER_TYPES: tuple[str, ...] = get_args(AnswerType)
SCOPES: tuple[str, ...] = get_args(Scope)
KNOWN_FIELDS = frozenset(
    {"id", "set", "file", "page", "pages", "question", "answer", "answer_type", "answerable", "scope"}
)
CORPUS_ENV = "QWENVL_CORPUS"


@dataclass(frozen=True, slots=True)
class EvalCase:
    """One question with its gold answer and page(s). ``path`` is ``file`` resolved under the corpus root."""

    id: str
    set: str
    file: str
    path: Path
    pages: tuple[int, ...]
    question: str
    answer: str | None
    answer_type: AnswerType
    answerable: bool = True
    scope: Scope = "corpus"
    extra: dict[str, Any] = field(default_factory=dict, hash=False)
    """The line's other fields (``source_of_truth``, ``evidence_on_page`` ...); not part of the hash."""


def resolve_corpus_root(
    questions: str | os.PathLike[str],
    corpus: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """The folder the cases' ``file`` paths are relative to: ``corpus`` if given, else ``QWENVL_CORPUS``, else
    the question file's folder. Raises :class:`CaseFileError` when the chosen folder does not exist.

    Example:
        >>> resolve_corpus_root("/data/qa.jsonl", environ={}) == Path("/data").resolve()
        True
    """
    env = os.environ if environ is None else environ
    if corpus is not None:
        root, source = Path(corpus), "--corpus"
    elif env.get(CORPUS_ENV):
        root, source = Path(env[CORPUS_ENV]), CORPUS_ENV
    else:
        return Path(questions).expanduser().resolve().parent
    root = root.expanduser().resolve()
    if not root.is_dir():
        raise CaseFileError(questions, [CaseProblem(None, f"corpus root {root} (from {source}) is not a folder")])
    return root


def _pages(row: Mapping[str, Any], problems: list[str]) -> tuple[int, ...]:
    def ok(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value > 0

    found: list[int] = []
    if "page" in row and row["page"] is not None:
        if ok(row["page"]):
            found.append(row["page"])
        else:
            problems.append(f"page must be a positive integer, got {row['page']!r}")
    if "pages" in row and row["pages"] is not None:
        pages = row["pages"]
        if not isinstance(pages, list) or not pages:
            problems.append(f"pages must be a non-empty list of positive integers, got {pages!r}")
        else:
            bad = [p for p in pages if not ok(p)]
            if bad:
                problems.append(f"pages must be positive integers, got {', '.join(repr(p) for p in bad)}")
            found.extend(p for p in pages if ok(p))
    return tuple(dict.fromkeys(found))


def _text(row: Mapping[str, Any], key: str, problems: list[str], *, required: bool = True) -> str | None:
    value = row.get(key)
    if value is None:
        if required:
            problems.append(f"missing field '{key}'")
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"'{key}' must be a non-empty string, got {value!r}")
        return None
    return value


def _case(row: Mapping[str, Any], root: Path, problems: list[str]) -> EvalCase | None:
    answerable = row.get("answerable", True)
    if not isinstance(answerable, bool):
        problems.append(f"answerable must be true or false, got {answerable!r}")
        answerable = True
    case_id = row.get("id")
    if case_id is None:
        problems.append("missing field 'id'")
    elif not isinstance(case_id, str | int) or isinstance(case_id, bool) or not str(case_id).strip():
        problems.append(f"'id' must be a non-empty string, got {case_id!r}")
        case_id = None
    file = _text(row, "file", problems)
    question = _text(row, "question", problems)
    answer_type = row.get("answer_type")
    if answer_type is None:
        if answerable:
            problems.append(f"missing field 'answer_type' ({' | '.join(ANSWER_TYPES)})")
        answer_type = "exact"
    elif answer_type not in ANSWER_TYPES:
        problems.append(f"unknown answer_type {answer_type!r} (expected {' | '.join(ANSWER_TYPES)})")
    answer = row.get("answer")
    if isinstance(answer, int | float) and not isinstance(answer, bool):
        answer = str(answer)
    if answer is None:
        if answerable:
            problems.append("missing field 'answer'")
    elif not isinstance(answer, str) or not answer.strip():
        problems.append(f"'answer' must be a non-empty string or a number, got {answer!r}")
        answer = None
    elif answer_type == "number" and parse_number(answer) is None:
        problems.append(f"answer {answer!r} is not a number (answer_type is number)")
    pages = _pages(row, problems)
    if answerable and row.get("page") is None and row.get("pages") is None:
        problems.append("missing field 'page' (or 'pages'): the gold page(s) of an answerable case")
    scope = row.get("scope", "corpus")
    if scope not in SCOPES:
        problems.append(f"unknown scope {scope!r} (expected {' | '.join(SCOPES)})")
    set_name = _text(row, "set", problems, required=False)
    if set_name is None and file is not None and not Path(file).is_absolute() and len(Path(file).parts) > 1:
        set_name = Path(file).parts[0]
    path = None
    if file is not None:
        path = (root / Path(file).expanduser()).resolve()
        if not path.is_file():
            problems.append(
                f"file not found: {file} (looked for {path}; give the folder the paths are relative to "
                f"with --corpus or {CORPUS_ENV})"
            )
    if problems or case_id is None or file is None or path is None or question is None:
        return None
    set_name = set_name or ""
    return EvalCase(
        id=str(case_id),
        set=set_name,
        file=file,
        path=path,
        pages=pages,
        question=question,
        answer=answer,
        answer_type=cast(AnswerType, answer_type),
        answerable=answerable,
        scope=cast(Scope, scope),
        extra={k: v for k, v in row.items() if k not in KNOWN_FIELDS},
    )


def load_cases(path: str | os.PathLike[str], corpus_root: str | os.PathLike[str] | None = None) -> list[EvalCase]:
    """Every case of the question file at ``path``, in order; files resolved under ``corpus_root``
    (default: :func:`resolve_corpus_root`). Raises one :class:`CaseFileError` listing every bad line."""
    root = resolve_corpus_root(path) if corpus_root is None else Path(corpus_root).expanduser().resolve()
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise CaseFileError(path, [CaseProblem(None, "no such file")]) from exc
    except UnicodeDecodeError as exc:
        raise CaseFileError(path, [CaseProblem(None, f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from exc
    problems: list[CaseProblem] = []
    cases: list[EvalCase] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(CaseProblem(number, f"invalid JSON: {exc.msg} (column {exc.colno})"))
            continue
        if not isinstance(row, dict):
            problems.append(CaseProblem(number, f"expected a JSON object, got {type(row).__name__}"))
            continue
        found: list[str] = []
        case_id = row.get("id")
        if isinstance(case_id, str | int) and not isinstance(case_id, bool) and str(case_id).strip():
            if str(case_id) in first_line:
                found.append(f"duplicate id {str(case_id)!r} (first on line {first_line[str(case_id)]})")
            else:
                first_line[str(case_id)] = number
        case = _case(row, root, found)
        problems.extend(CaseProblem(number, message) for message in found)
        if case is not None:
            cases.append(case)
    if not problems and not cases:
        problems.append(CaseProblem(None, "no cases (every line is blank or a comment)"))
    if problems:
        raise CaseFileError(path, problems)
    return cases
