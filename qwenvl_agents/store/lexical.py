"""BM25 search beside Chroma's dense search (local Chroma has no lexical index of its own).

The lexical index covers the *page* records (a page's text is all of it; chunks only exist because
embedding models have a context limit), so its hits are page ids, ready to fuse with dense hits mapped to
their pages. It is derived data: rebuilt from the texts stored in Chroma whenever the collection changed,
and persisted under ``settings.lexical_dir/<knowledge_base>/`` with a manifest holding the collection's
fingerprint (page count and a hash of the sorted ids, content keys and text hashes), so a process that
opens an unchanged knowledge base loads it instead of rebuilding.

Checking costs one metadata scan of the page records (Chroma reads metadata at roughly 0.1-0.4 ms per
record), so the manifest also keeps the collection's write revision and record count
(:meth:`PageIndex.revision`): when both are unchanged nothing is scanned. A rebuild re-tokenizes only the
pages whose text changed; the others reuse the previous build's tokens.

Layout: ``manifest.json`` names the current build folder (``<fingerprint>-<random>/``: bm25s' files plus
``ids.json``, ``hashes.json``, ``vocab.json``, ``tokens.npy``, ``offsets.npy``, and ``catalog.json``: the
page metadata as columns, :class:`~qwenvl_agents.store.catalog.PageCatalog`, for filters). A build is written to a
fresh folder and the manifest replaced atomically, so readers never see half an index.

Example:
    >>> import tempfile, hashlib
    >>> from qwenvl_agents.settings import Settings
    >>> from qwenvl_agents.store.index import PageIndex
    >>> from qwenvl_agents.types import DocumentInfo, PageExtraction
    >>> index = PageIndex.open(Settings(data_dir=tempfile.mkdtemp()), knowledge_base="demo")
    >>> doc = DocumentInfo(hashlib.sha256(b"z").hexdigest(), "/in/f.pdf", "f.pdf", "pdf", "pdf", 1, 1)
    >>> index.upsert_page(doc, PageExtraction(doc.document_id, 1, "发票号码 INV-2026-0042", "ocr"))
    1
    >>> lexical = LexicalIndex.load_or_build(index)
    >>> [(rid[-6:], round(score, 2) > 0) for rid, score in lexical.search("发票", k=3)]
    [('p00001', True)]
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qwenvl_agents.store.catalog import PageCatalog
from qwenvl_agents.store.text import TOKENIZER_VERSION, tokenize

if TYPE_CHECKING:
    import bm25s

    from qwenvl_agents.store.index import PageIndex

log = logging.getLogger(__name__)
FORMAT = 4
_KEEP_OLD_BUILDS_SECONDS = 120.0
"""Old build folders younger than this are left for readers that may still be loading them."""


def fingerprint(rows: Iterable[tuple[str, Mapping[str, Any] | None]]) -> str:
    """Identity of a collection's content: count + hash of sorted (id, content key, text hash).

    Example:
        >>> fingerprint([("b", {"content_key": "k2"}), ("a", {"content_key": "k1"})]) == fingerprint(
        ...     [("a", {"content_key": "k1"}), ("b", {"content_key": "k2"})])
        True
    """
    lines = sorted(
        f"{rid}\x1f{(md or {}).get('content_key', '')}\x1f{(md or {}).get('text_hash', '')}" for rid, md in rows
    )
    digest = hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
    return f"{len(lines)}-{digest[:32]}"


def page_rows(page_index: PageIndex) -> list[tuple[str, Mapping[str, Any] | None]]:
    """``(id, metadata)`` of every page record (one metadata scan)."""
    return [
        (rid, md)
        for ids, _, metas in page_index.iter_batches({"record_type": "page"}, include_metadata=True)
        for rid, md in zip(ids, metas, strict=True)
    ]


def collection_fingerprint(page_index: PageIndex) -> str:
    """The current fingerprint of ``page_index``'s page records (reads their metadata, not the texts)."""
    return fingerprint(page_rows(page_index))


def _write_json(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_manifest(directory: Path) -> dict[str, Any]:
    try:
        data = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    ok = isinstance(data, dict) and data.get("tokenizer") == TOKENIZER_VERSION and data.get("format") == FORMAT
    return data if ok else {}  # another tokenizer or layout: nothing in it can be reused


def _previous_tokens(directory: Path, manifest: dict[str, Any]) -> dict[str, list[str]]:
    """``{text_hash: tokens}`` of the previous build, to skip tokenizing pages whose text is unchanged."""
    try:
        build = directory / str(manifest["dir"])
        hashes = json.loads((build / "hashes.json").read_text(encoding="utf-8"))
        vocab = json.loads((build / "vocab.json").read_text(encoding="utf-8"))
        flat = np.load(build / "tokens.npy")
        offsets = np.load(build / "offsets.npy")
    except (OSError, ValueError, KeyError):
        return {}
    return {h: [vocab[i] for i in flat[offsets[n] : offsets[n + 1]].tolist()] for n, h in enumerate(hashes) if h}


class LexicalIndex:
    """BM25 (bm25s, Lucene variant) over the page records of a knowledge base, kept in step with Chroma.

    Use :meth:`load_or_build`; call :meth:`refresh` after writing to the page index (cheap when nothing
    changed). ``rebuilt`` tells whether this object came from a fresh build, ``builds`` how many builds
    the folder has seen, ``tokenized`` how many pages this build had to tokenize. ``catalog`` holds the
    pages' metadata as columns (row ``i`` is ``ids[i]``).
    """

    def __init__(
        self,
        directory: Path,
        ids: list[str],
        bm25: bm25s.BM25 | None,
        manifest: dict[str, Any],
        rebuilt: bool,
        tokenized: int = 0,
        catalog: PageCatalog | None = None,
    ) -> None:
        self.directory = directory
        self.ids = ids
        self.catalog = catalog if catalog is not None else PageCatalog.from_rows([(rid, None) for rid in ids])
        if self.catalog.ids != tuple(ids):
            raise ValueError("the catalog does not describe the indexed pages")
        self.manifest = manifest
        self.fingerprint = str(manifest.get("fingerprint"))
        self.builds = int(manifest.get("builds", 0))
        self.rebuilt = rebuilt
        self.tokenized = tokenized
        self._bm25 = bm25
        self._position = {rid: i for i, rid in enumerate(ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"LexicalIndex({len(self)} pages, {self.fingerprint}, builds={self.builds})"

    @staticmethod
    def default_directory(page_index: PageIndex) -> Path:
        return page_index.settings.lexical_dir / page_index.knowledge_base

    @classmethod
    def load_or_build(cls, page_index: PageIndex, directory: Path | None = None) -> LexicalIndex:
        """The persisted index if it matches the collection, else a fresh build from Chroma's texts."""
        directory = Path(directory) if directory is not None else cls.default_directory(page_index)
        manifest = _read_manifest(directory)
        # Read the revision before looking at the data: a write racing with us then shows as a change later.
        revision, total = page_index.revision(), page_index.count()
        if manifest and revision is not None and (manifest.get("revision"), manifest.get("total")) == (revision, total):
            try:
                return cls._load(directory, manifest)
            except Exception as exc:  # a damaged or half-deleted folder is only a cache: rebuild it
                log.warning("lexical index in %s unreadable (%s); rebuilding", directory, exc)
        rows = page_rows(page_index)
        current = fingerprint(rows)
        if manifest.get("fingerprint") == current:
            try:
                loaded = cls._load(directory, manifest)
                loaded.manifest = {**manifest, "revision": revision, "total": total}
                _write_json(directory / "manifest.json", loaded.manifest)  # next time: no scan
                return loaded
            except Exception as exc:
                log.warning("lexical index in %s unreadable (%s); rebuilding", directory, exc)
        return cls._build(page_index, directory, rows, revision, total)

    @classmethod
    def build(cls, page_index: PageIndex, directory: Path | None = None) -> LexicalIndex:
        """Build from the texts stored in Chroma and persist it, replacing the previous build."""
        directory = Path(directory) if directory is not None else cls.default_directory(page_index)
        revision, total = page_index.revision(), page_index.count()
        return cls._build(page_index, directory, page_rows(page_index), revision, total)

    @classmethod
    def _load(cls, directory: Path, manifest: dict[str, Any]) -> LexicalIndex:
        build_dir = directory / str(manifest["dir"])
        ids = json.loads((build_dir / "ids.json").read_text(encoding="utf-8"))
        bm25 = None
        if ids:
            import bm25s

            bm25 = bm25s.BM25.load(str(build_dir), show_progress=False)
            if int(bm25.scores["num_docs"]) != len(ids):
                raise ValueError(f"{len(ids)} ids for {bm25.scores['num_docs']} indexed documents")
        catalog = PageCatalog.load(build_dir / "catalog.json")
        return cls(directory, ids, bm25, manifest, rebuilt=False, catalog=catalog)

    @classmethod
    def _build(
        cls,
        page_index: PageIndex,
        directory: Path,
        rows: list[tuple[str, Mapping[str, Any] | None]],
        revision: str | None,
        total: int,
    ) -> LexicalIndex:
        import bm25s

        started = time.perf_counter()
        previous_manifest = _read_manifest(directory)
        reuse = _previous_tokens(directory, previous_manifest) if previous_manifest else {}
        ids = [rid for rid, _ in rows]
        hashes = [str((md or {}).get("text_hash", "")) for _, md in rows]
        missing = [rid for rid, h in zip(ids, hashes, strict=True) if not h or h not in reuse]
        texts = page_index.texts(missing) if missing else {}
        vocab: dict[str, int] = {}
        corpus: list[list[int]] = []
        for rid, h in zip(ids, hashes, strict=True):
            tokens = reuse[h] if h and h in reuse else tokenize(texts.get(rid, ""))
            corpus.append([vocab.setdefault(t, len(vocab)) for t in tokens])
        current = fingerprint(rows)
        bm25 = None
        if ids:
            bm25 = bm25s.BM25()
            # Token ids with our own contiguous vocabulary: bm25s skips its own string-to-id pass.
            bm25.index((corpus, dict(vocab)), show_progress=False)
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{current}-{secrets.token_hex(4)}"
        build_dir = directory / name
        build_dir.mkdir()
        if bm25 is not None:
            bm25.save(str(build_dir), show_progress=False)
        _write_json(build_dir / "ids.json", ids)
        _write_json(build_dir / "hashes.json", hashes)
        _write_json(build_dir / "vocab.json", list(vocab))
        catalog = PageCatalog.from_rows(rows)
        catalog.save(build_dir / "catalog.json")
        lengths = np.fromiter((len(doc) for doc in corpus), dtype=np.int64, count=len(corpus))
        np.save(build_dir / "offsets.npy", np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
        flat = np.fromiter((t for doc in corpus for t in doc), dtype=np.int32, count=int(lengths.sum()))
        np.save(build_dir / "tokens.npy", flat)
        manifest = {
            "format": FORMAT,
            "tokenizer": TOKENIZER_VERSION,
            "fingerprint": current,
            "revision": revision,
            "total": total,
            "dir": name,
            "pages": len(ids),
            "builds": int(previous_manifest.get("builds", 0)) + 1,
            "built_at": time.time(),
            "knowledge_base": page_index.knowledge_base,
        }
        _write_json(directory / "manifest.json", manifest)
        cls._remove_old_builds(directory, keep=name)
        log.info(
            "lexical index of %s: %d pages (%d tokenized) in %.2f s",
            page_index.knowledge_base,
            len(ids),
            len(missing),
            time.perf_counter() - started,
        )
        return cls(directory, ids, bm25, manifest, rebuilt=True, tokenized=len(missing), catalog=catalog)

    @staticmethod
    def _remove_old_builds(directory: Path, keep: str) -> None:
        now = time.time()
        for child in directory.iterdir():
            if child.is_dir() and child.name != keep:
                try:
                    if now - child.stat().st_mtime > _KEEP_OLD_BUILDS_SECONDS:
                        shutil.rmtree(child, ignore_errors=True)
                except OSError:
                    pass

    def is_current(self, page_index: PageIndex) -> bool:
        """Whether the collection still has exactly the pages this index was built from."""
        revision = page_index.revision()
        if revision is not None and (revision, page_index.count()) == (
            self.manifest.get("revision"),
            self.manifest.get("total"),
        ):
            return True
        return collection_fingerprint(page_index) == self.fingerprint

    def refresh(self, page_index: PageIndex) -> LexicalIndex:
        """``self`` when still current, else the loaded or rebuilt index."""
        return self if self.is_current(page_index) else type(self).load_or_build(page_index, self.directory)

    def search(
        self, query: str, k: int = 10, ids_filter: Iterable[str] | None = None, *, mask: np.ndarray | None = None
    ) -> list[tuple[str, float]]:
        """The ``k`` best ``(record_id, bm25 score)`` for ``query``, best first; records sharing no token
        with the query are left out. ``ids_filter`` restricts the search to those record ids, ``mask`` (a
        boolean array over :attr:`ids`, e.g. from ``catalog.mask(...)``) to those rows.
        """
        if not isinstance(query, str):
            raise TypeError(f"query must be a string, got {type(query).__name__}")
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if isinstance(ids_filter, str):
            raise TypeError("ids_filter takes a collection of record ids, not one id string")
        scores = self.scores(tokenize(query))
        if scores is None:
            return []
        if mask is not None:
            if mask.shape != (len(self.ids),):
                raise ValueError(f"mask has shape {mask.shape}, the index {len(self.ids)} pages")
            scores = np.where(mask, scores, 0.0)
        if ids_filter is not None:
            mask = np.zeros(len(self.ids), dtype=bool)
            positions = [self._position[rid] for rid in ids_filter if rid in self._position]
            mask[positions] = True
            scores = np.where(mask, scores, 0.0)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        order = candidates[np.argsort(-scores[candidates], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in order]

    def scores(self, tokens: list[str]) -> np.ndarray | None:
        """BM25 scores of every page for already tokenized ``tokens`` (``None`` when nothing can match)."""
        if self._bm25 is None or not tokens:
            return None
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float64)

    def containing(self, token: str) -> np.ndarray:
        """Boolean array over :attr:`ids`: the pages that contain ``token`` (a token as :func:`tokenize` makes)."""
        scores = self.scores([token])
        return np.zeros(len(self.ids), dtype=bool) if scores is None else scores > 0
