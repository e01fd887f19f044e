"""Running an evaluation: ingest what the questions need, then measure retrieval, answers and fields.

One :class:`EvalConfig` is an extractor plus a search mode. Configurations with the same extractor share
one knowledge base (``eval-<extractor>`` unless an existing one is named), so comparing search modes
costs no extra ingest. Every finished case is appended to a results file keyed by the case, the
configuration and the knowledge base's content, so a rerun (after a crash, or with more configurations)
reuses what is done and only computes the rest.

Example:
    >>> EvalConfig(extractor="ocr", mode="lexical").name
    'ocr/lexical'
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwenvl_agents.evaluation.cases import EvalCase
from qwenvl_agents.evaluation.fields import compare_fields, expected_fields
from qwenvl_agents.evaluation.scoring import score_answer
from qwenvl_agents.retrieval import SEARCH_MODES, PageSearch, SearchFilters, SearchMode
from qwenvl_agents.store.index import PageIndex
from qwenvl_agents.types import KeyFields

if TYPE_CHECKING:
    from qwenvl_agents.ingest.summary import IngestProgress
    from qwenvl_agents.settings import Settings

RANK_DEPTH = 100
"""Ranks are looked up within this many results; a gold page further down counts as not found."""
EXTRACTORS = ("auto", "vlm", "ocr", "text")


@dataclass(frozen=True)
class EvalConfig:
    """One configuration under test: which extractor reads the pages, and how search ranks them."""

    extractor: str = "auto"
    mode: SearchMode = "hybrid"

    def __post_init__(self) -> None:
        if self.extractor not in EXTRACTORS:
            raise ValueError(f"extractor must be one of {', '.join(EXTRACTORS)}, got {self.extractor!r}")
        if self.mode not in SEARCH_MODES:
            raise ValueError(f"mode must be one of {', '.join(SEARCH_MODES)}, got {self.mode!r}")

    @property
    def name(self) -> str:
        return f"{self.extractor}/{self.mode}"


@dataclass(frozen=True)
class CaseResult:
    """One case under one configuration. ``rank`` is the gold page's rank (1 = first; ``None``: not within
    :data:`RANK_DEPTH`); ``correct``/``declined`` are set when answers were run."""

    case_id: str
    config: str
    rank: int | None
    top: tuple[str, ...] = ()
    answer: str | None = None
    correct: bool | None = None
    declined: bool | None = None
    detail: str | None = None
    citations: tuple[str, ...] = ()
    error: str | None = None
    seconds: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaseResult:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["top"] = tuple(known.get("top") or ())
        known["citations"] = tuple(known.get("citations") or ())
        return cls(**known)


@dataclass(frozen=True)
class FieldResult:
    """A ground-truth field of a document against what the configuration's extractor stored."""

    document: str
    extractor: str
    field: str
    expected: Any
    got: Any
    correct: bool


@dataclass(frozen=True)
class EvalRun:
    """Everything one evaluation measured."""

    cases: tuple[EvalCase, ...]
    configs: tuple[EvalConfig, ...]
    results: tuple[CaseResult, ...]
    fields: tuple[FieldResult, ...] = ()
    answers: bool = False
    reused: int = 0
    ingest: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalProgress:
    """Reported after every case: ``done`` of ``total`` (cases × configurations), ``reused`` from earlier runs."""

    done: int
    total: int
    reused: int
    current: str = ""


class Evaluation:
    """Evaluate ``configs`` on ``cases``.

    ``knowledge_base`` names an existing knowledge base to search instead of ingesting (every
    configuration then searches it; their extractors are not applied). ``answers`` runs the agent
    (``graph``: ``agent`` or ``rag``) on every case, which needs a VLM server. ``results_path`` keeps
    finished cases for reuse (default ``<data_dir>/eval/results.jsonl``).
    """

    def __init__(
        self,
        settings: Settings,
        cases: Sequence[EvalCase],
        configs: Sequence[EvalConfig] = (EvalConfig(),),
        *,
        knowledge_base: str | None = None,
        answers: bool = False,
        graph: str = "agent",
        results_path: Path | None = None,
        on_progress: Callable[[EvalProgress], None] | None = None,
        on_ingest: Callable[[str, IngestProgress], None] | None = None,
    ) -> None:
        if not cases:
            raise ValueError("no cases to evaluate")
        if not configs:
            raise ValueError("no configuration to evaluate")
        if len({c.name for c in configs}) != len(configs):
            raise ValueError(f"a configuration is given twice: {[c.name for c in configs]}")
        self.settings = settings
        self.cases = tuple(cases)
        self.configs = tuple(configs)
        self.knowledge_base = knowledge_base
        self.answers = answers
        self.graph = graph
        self.results_path = results_path or settings.data_dir / "eval" / "results.jsonl"
        self.on_progress = on_progress
        self.on_ingest = on_ingest

    def knowledge_base_for(self, extractor: str) -> str:
        return self.knowledge_base or f"eval-{extractor}"

    def run(self) -> EvalRun:
        """Ingest (skipping what is indexed already), then evaluate every case under every configuration."""
        ingest_summaries: dict[str, dict[str, Any]] = {}
        searches: dict[str, PageSearch] = {}
        for extractor in dict.fromkeys(c.extractor for c in self.configs):
            kb = self.knowledge_base_for(extractor)
            if self.knowledge_base is None:
                ingest_summaries[extractor] = self._ingest(extractor, kb)
            searches[extractor] = PageSearch.open(self.settings, kb)
        done = self._load_done()
        results: list[CaseResult] = []
        total, reused = len(self.cases) * len(self.configs), 0
        for config in self.configs:
            search = searches[config.extractor]
            state = search.lexical.fingerprint
            chat = None
            for case in self.cases:
                key = self._key(case, config, state)
                if key in done:
                    results.append(done[key])
                    reused += 1
                else:
                    if self.answers and chat is None:
                        chat = self._chat(search, config)
                    result = self._evaluate(case, config, search, chat)
                    results.append(result)
                    self._save(key, result)
                if self.on_progress:
                    self.on_progress(EvalProgress(len(results), total, reused, f"{config.name} {case.id}"))
        return EvalRun(
            self.cases,
            self.configs,
            tuple(results),
            tuple(self._fields(searches)),
            self.answers,
            reused,
            ingest_summaries,
        )

    # --- steps -------------------------------------------------------------------------------------------

    def _ingest(self, extractor: str, kb: str) -> dict[str, Any]:
        from qwenvl_agents.ingest import Ingestor

        paths = sorted({str(c.path) for c in self.cases})
        ingestor = Ingestor(self.settings, extractor=extractor, knowledge_base=kb)
        report = self.on_ingest

        def on_progress(progress: IngestProgress) -> None:
            if report is not None:
                report(extractor, progress)

        summary = ingestor.run(paths, on_progress=on_progress)
        return summary.to_dict()

    def _chat(self, search: PageSearch, config: EvalConfig) -> Any:
        from qwenvl_agents.agent import AgentContext, DocumentChat

        context = AgentContext(knowledge_base=search.index.knowledge_base, search_mode=config.mode)
        return DocumentChat(self.settings, graph=self.graph, context=context, search=search)  # type: ignore[arg-type]

    def _evaluate(self, case: EvalCase, config: EvalConfig, search: PageSearch, chat: Any) -> CaseResult:
        started = time.perf_counter()
        doc_id = _document_id(case.path)
        try:
            filters = SearchFilters(documents=(doc_id,)) if case.scope == "document" else None
            ranked = [rid for rid, _ in search.rank(case.question, RANK_DEPTH, filters=filters, mode=config.mode).fused]
        except Exception as exc:  # one bad case never stops the run; its error is reported
            return CaseResult(case.id, config.name, None, error=f"search: {type(exc).__name__}: {exc}")
        gold = {PageIndex.page_id(doc_id, p) for p in case.pages}
        rank = next((n for n, rid in enumerate(ranked, 1) if rid in gold), None)
        result = CaseResult(case.id, config.name, rank, tuple(_citation(search, rid) for rid in ranked[:5]))
        if chat is not None:
            result = self._answer(result, case, config, doc_id, chat)
        return replace(result, seconds=round(time.perf_counter() - started, 3))

    def _answer(self, result: CaseResult, case: EvalCase, config: EvalConfig, doc_id: str, chat: Any) -> CaseResult:
        from qwenvl_agents.agent import AgentContext

        context = AgentContext(
            knowledge_base=chat.context.knowledge_base,
            search_mode=config.mode,
            documents=[doc_id] if case.scope == "document" else [],
        )
        try:
            answer = chat.invoke(case.question, thread_id=uuid.uuid4().hex, context=context)
        except Exception as exc:
            return replace(result, error=f"answer: {type(exc).__name__}: {exc}")
        said_no = not answer.found  # the agent's own flag: wording like "does not include tax" is an answer
        if case.answerable:
            score = score_answer(answer.text, case, found=answer.found)
            correct, detail = score.correct, score.detail
        else:
            correct, detail = said_no, "declined" if said_no else "answered an unanswerable question"
        return replace(
            result,
            answer=answer.text,
            correct=correct,
            declined=said_no,
            detail=detail,
            citations=tuple(str(c) for c in answer.citations),
        )

    def _fields(self, searches: dict[str, PageSearch]) -> Iterable[FieldResult]:
        """Per-field accuracy of the stored key fields against the corpus ground truth (invoices, receipts)."""
        paths = sorted({c.path for c in self.cases}, key=str)
        for extractor, search in searches.items():
            for path in paths:
                expected = expected_fields(path)
                if not expected:
                    continue
                got = _document_fields(search, _document_id(path))
                for score in compare_fields(expected, got):
                    yield FieldResult(path.name, extractor, score.field, score.expected, score.got, score.correct)

    # --- results file ------------------------------------------------------------------------------------

    def _key(self, case: EvalCase, config: EvalConfig, index_state: str) -> str:
        what = {
            "case": [
                case.id,
                case.question,
                case.answer,
                case.answer_type,
                list(case.pages),
                case.scope,
                str(case.path),
            ],
            "config": config.name,
            "index": index_state,
            "answers": [self.answers, self.graph, self.settings.vlm_model] if self.answers else False,
        }
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def _load_done(self) -> dict[str, CaseResult]:
        done: dict[str, CaseResult] = {}
        try:
            lines = self.results_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return done
        for line in lines:
            try:
                row = json.loads(line)
                done[row["key"]] = CaseResult.from_dict(row["result"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash: that case is simply run again
        return done

    def _save(self, key: str, result: CaseResult) -> None:
        if result.error:  # a failed case is tried again next time
            return
        self.results_path.parent.mkdir(parents=True, exist_ok=True)
        with self.results_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"key": key, "result": asdict(result)}, ensure_ascii=False) + "\n")


def _document_id(path: Path) -> str:
    from qwenvl_agents.documents.detect import hash_file

    return hash_file(path)[0]


def _citation(search: PageSearch, record_id: str) -> str:
    row = search.catalog.position.get(record_id)
    name = search.catalog.column("name")[row] if row is not None else record_id
    return f"[{name}, p. {PageIndex.parse_id(record_id).page}]"


def _document_fields(search: PageSearch, document_id: str) -> KeyFields:
    """A document's key fields: for each field the first page that has it, except the total: the last."""
    pages = search.index.pages_of(document_id)
    values: dict[str, Any] = {}
    for page in pages:
        for name, value in asdict(page.fields).items():
            if value not in (None, (), "") and name not in values:
                values[name] = value
    totals = [p.fields.total for p in pages if p.fields.total is not None]
    if totals:  # the grand total is on the last page that states one
        values["total"] = totals[-1]
    return KeyFields(**{k: v for k, v in values.items() if k not in ("line_items", "entities", "bullets")})
