"""A columnar table of the page records' metadata, kept beside the lexical index.

Filtering the lexical leg, resolving ``--document NAME`` and matching a vendor case-insensitively all need
the metadata of every page. Chroma answers that with a scan (0.1-0.4 ms per record: tens of seconds at
100,000 pages), so the lexical index keeps these columns from the scan it makes anyway and filters with
numpy in a few milliseconds.

Example:
    >>> catalog = PageCatalog.from_rows([
    ...     ("d1:p00001", {"document_id": "d1", "name": "a.pdf", "page": 1, "total": 12.5, "vendor": "ACME"}),
    ...     ("d2:p00001", {"document_id": "d2", "name": "b.pdf", "page": 1}),
    ... ])
    >>> catalog.mask([("total", "gte", 10.0)]).tolist()
    [True, False]
    >>> catalog.distinct("vendor")
    ['ACME']
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

TEXT_COLUMNS = ("document_id", "name", "source", "title", "page_kind", "language", "status", "vendor", "currency")
NUMBER_COLUMNS = ("page", "page_count", "date_int", "total", "chunk_count")
Op = Literal["in", "gte", "lte"]
Clause = tuple[str, Op, Any]
"""``(column, "in", values)``, ``(column, "gte", number)`` or ``(column, "lte", number)``."""


@dataclass(frozen=True)
class PageCatalog:
    """Metadata columns of the page records, row ``i`` describing ``ids[i]`` (missing text is ``""``,
    missing numbers ``NaN``)."""

    ids: tuple[str, ...]
    text: Mapping[str, np.ndarray]
    numbers: Mapping[str, np.ndarray]

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str, Mapping[str, Any] | None]]) -> PageCatalog:
        text = {col: np.array([str((md or {}).get(col) or "") for _, md in rows], dtype=object) for col in TEXT_COLUMNS}
        numbers = {
            col: np.array([_number((md or {}).get(col)) for _, md in rows], dtype=np.float64) for col in NUMBER_COLUMNS
        }
        return cls(tuple(rid for rid, _ in rows), text, numbers)

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def position(self) -> dict[str, int]:
        """``{page record id: row}``."""
        return {rid: i for i, rid in enumerate(self.ids)}

    def record_ids(self, rows: Iterable[int]) -> list[str]:
        """The ids of every record of the given rows: each page record and its chunk records."""
        chunks = self.numbers["chunk_count"]
        out: list[str] = []
        for i in rows:
            out.append(self.ids[i])
            n = chunks[i]
            out += [f"{self.ids[i]}:c{c:03d}" for c in range(0 if np.isnan(n) else int(n))]
        return out

    def save(self, path: Path) -> None:
        data = {
            "ids": list(self.ids),
            "text": {k: v.tolist() for k, v in self.text.items()},
            "numbers": {k: [None if np.isnan(x) else float(x) for x in v] for k, v in self.numbers.items()},
        }
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> PageCatalog:
        data = json.loads(path.read_text(encoding="utf-8"))
        text = {k: np.array(data["text"].get(k, [""] * len(data["ids"])), dtype=object) for k in TEXT_COLUMNS}
        missing = [None] * len(data["ids"])
        numbers = {
            k: np.array([np.nan if x is None else x for x in data["numbers"].get(k, missing)], dtype=np.float64)
            for k in NUMBER_COLUMNS
        }
        return cls(tuple(data["ids"]), text, numbers)

    def column(self, name: str) -> np.ndarray:
        if name in self.text:
            return self.text[name]
        if name in self.numbers:
            return self.numbers[name]
        raise KeyError(f"no catalog column {name!r}; columns: {', '.join(TEXT_COLUMNS + NUMBER_COLUMNS)}")

    @cached_property
    def _codes(self) -> dict[str, tuple[np.ndarray, dict[str, int]]]:
        """Each text column as integer codes and ``{value: code}``: comparing ints is ~50x faster than strings."""
        out: dict[str, tuple[np.ndarray, dict[str, int]]] = {}
        for name, col in self.text.items():
            values, codes = np.unique(col.astype(str), return_inverse=True)
            out[name] = (codes.astype(np.int32), {str(v): i for i, v in enumerate(values.tolist())})
        return out

    def mask(self, clauses: Iterable[Clause]) -> np.ndarray:
        """Rows matching every clause (a row without the value never matches a clause on it)."""
        keep = np.ones(len(self.ids), dtype=bool)
        for name, op, value in clauses:
            col = self.column(name)
            if op == "in" and name in self.text:
                codes, lookup = self._codes[name]
                wanted = [lookup[v] for v in value if v in lookup]
                keep &= np.isin(codes, np.array(wanted, dtype=np.int32)) if wanted else False
            elif op == "in":
                keep &= np.isin(col, np.array(list(value), dtype=np.float64))
            elif op == "gte":
                keep &= np.nan_to_num(col, nan=-np.inf) >= float(value)
            elif op == "lte":
                keep &= np.nan_to_num(col, nan=np.inf) <= float(value)
            else:
                raise ValueError(f"unknown filter operator {op!r}")
        return keep

    def distinct(self, name: str) -> list[str]:
        """Distinct non-empty values of a text column, sorted."""
        if name not in self.text:
            raise KeyError(f"no text column {name!r}; columns: {', '.join(TEXT_COLUMNS)}")
        return sorted(v for v in self._codes[name][1] if v)

    @cached_property
    def _documents(self) -> dict[str, tuple[str, str]]:
        ids, names, sources = self.text["document_id"], self.text["name"], self.text["source"]
        return {
            str(d): (str(n), str(s)) for d, n, s in zip(ids.tolist(), names.tolist(), sources.tolist(), strict=True)
        }

    def documents(self) -> dict[str, tuple[str, str]]:
        """``{document_id: (name, source)}`` of every document with at least one page."""
        return dict(self._documents)


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
