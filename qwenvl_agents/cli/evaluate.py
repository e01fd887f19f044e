"""``qwenvl eval``: how good a configuration is on a question file over real documents."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qwenvl_agents.cli.common import JsonFlag, KnowledgeBase, app, emit_json, print_error
from qwenvl_agents.settings import Settings

if TYPE_CHECKING:
    from rich.progress import TaskID

    from qwenvl_agents.evaluation.runner import EvalConfig, EvalProgress
    from qwenvl_agents.ingest.summary import IngestProgress

COMPARE_DEFAULTS = {"mode": ("dense", "lexical", "hybrid"), "extractor": ("text", "ocr", "auto")}


def parse_configs(extractor: str, mode: str, compare: list[str]) -> list[EvalConfig]:
    """The configurations: ``--compare mode``, ``--compare extractor=text,ocr`` ... multiply out.

    Example:
        >>> [c.name for c in parse_configs("auto", "hybrid", ["mode=dense,hybrid", "extractor=text,auto"])]
        ['text/dense', 'text/hybrid', 'auto/dense', 'auto/hybrid']
    """
    from qwenvl_agents.evaluation.runner import EvalConfig

    axes: dict[str, tuple[str, ...]] = {"extractor": (extractor,), "mode": (mode,)}
    for item in compare:
        axis, _, values = item.partition("=")
        axis = axis.strip()
        if axis not in COMPARE_DEFAULTS:
            raise ValueError(f"--compare takes mode or extractor (optionally =v1,v2,...), got {item!r}")
        chosen = tuple(v.strip() for v in values.split(",") if v.strip()) if values else COMPARE_DEFAULTS[axis]
        axes[axis] = tuple(dict.fromkeys(chosen))
    return [EvalConfig(extractor=e, mode=m) for e in axes["extractor"] for m in axes["mode"]]  # type: ignore[arg-type]


@app.command("eval")
def evaluate(
    questions: Annotated[Path, typer.Argument(help="Question file (JSON lines, the format of qa-dev.jsonl).")],
    corpus: Annotated[
        Path | None,
        typer.Option(
            help="Folder the questions' `file` paths are relative to (default: QWENVL_CORPUS, else the file's folder)."
        ),
    ] = None,
    extractor: Annotated[str | None, typer.Option(help="auto, vlm, ocr or text (default: QWENVL_EXTRACTOR).")] = None,
    mode: Annotated[str, typer.Option(help="Search mode: hybrid, dense or lexical.")] = "hybrid",
    compare: Annotated[
        list[str] | None,
        typer.Option(
            help="Compare configurations side by side: mode, extractor, or e.g. mode=dense,hybrid (repeatable)."
        ),
    ] = None,
    answers: Annotated[
        bool | None,
        typer.Option("--answers/--no-answers", help="Run the agent on every case (default: when a VLM is set)."),
    ] = None,
    graph: Annotated[str, typer.Option(help="agent or rag, for --answers.")] = "agent",
    kb: KnowledgeBase = None,
    json_out: Annotated[Path | None, typer.Option(help="JSON report (default: <data dir>/eval/report.json).")] = None,
    plot: Annotated[Path | None, typer.Option(help="recall@k plot, PNG (default: <data dir>/eval/recall.png).")] = None,
    only_set: Annotated[list[str] | None, typer.Option("--set", help="Only cases of this set (repeatable).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N cases.")] = None,
    fresh: Annotated[bool, typer.Option(help="Do not reuse results of earlier runs.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars on stderr.")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Measure retrieval (recall@1/5/10, MRR), answers (with a VLM) and stored fields against ground truth.

    Ingests the documents the questions name (unchanged pages are skipped), or searches an existing
    knowledge base with --kb. Finished cases are kept, so a rerun only does what is missing.
    """
    from rich.console import Console

    from qwenvl_agents.errors import QwenVLError
    from qwenvl_agents.evaluation import load_cases, resolve_corpus_root
    from qwenvl_agents.evaluation.report import plot_recall, print_tables, summary, write_json
    from qwenvl_agents.evaluation.runner import Evaluation

    settings = Settings()
    try:
        root = resolve_corpus_root(questions, corpus)
        cases = load_cases(questions, root)
        configs = parse_configs(extractor or settings.extractor, mode, compare or [])
    except (QwenVLError, ValueError, OSError) as exc:
        print_error(f"error: {exc}")
        raise typer.Exit(2) from exc
    if only_set:
        cases = [c for c in cases if c.set in only_set]
    cases = cases[:limit] if limit else cases
    if not cases:
        print_error("error: no case left after --set/--limit")
        raise typer.Exit(2)
    run_answers = bool(settings.vlm_base_urls) if answers is None else answers
    if run_answers and not settings.vlm_base_urls:
        print_error("error: --answers needs a VLM server: set QWENVL_VLM_BASE_URL")
        raise typer.Exit(2)
    results_path = settings.data_dir / "eval" / "results.jsonl"
    if fresh:
        results_path.unlink(missing_ok=True)
    show = progress and not as_json and sys.stderr.isatty()
    with _Progress(show) as bars:
        evaluation = Evaluation(
            settings,
            cases,
            configs,
            knowledge_base=kb,
            answers=run_answers,
            graph=graph,
            results_path=results_path,
            on_progress=bars.case,
            on_ingest=bars.ingest,
        )
        try:
            run = evaluation.run()
        except QwenVLError as exc:
            print_error(f"error: {exc}")
            raise typer.Exit(2) from exc
    json_path = json_out or settings.data_dir / "eval" / "report.json"
    plot_path = plot or settings.data_dir / "eval" / "recall.png"
    write_json(run, json_path)
    plot_recall(run, plot_path)
    if as_json:
        emit_json({"type": "summary", "configs": summary(run), "report": str(json_path), "plot": str(plot_path)})
    else:
        print_tables(run, Console(width=None if sys.stdout.isatty() else 160))  # a pipe or log gets every column
        typer.echo(
            f"report: {json_path}\nplot:   {plot_path}" + (f"\n({run.reused} results reused)" if run.reused else ""),
            err=True,
        )
    raise typer.Exit(1 if any(r.error for r in run.results) else 0)


class _Progress:
    """Progress bars for the ingest of each extractor and for the cases (or nothing, when disabled)."""

    def __init__(self, enabled: bool) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[current]}"),
            console=Console(stderr=True),
            disable=not enabled,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _Progress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def _task(self, name: str) -> TaskID:
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(name, total=None, current="")
        return self.tasks[name]

    def ingest(self, extractor: str, p: IngestProgress) -> None:
        current = (p.current or "").rsplit("/", 1)[-1][:40]
        self.progress.update(
            self._task(f"ingest ({extractor})"), total=max(p.pages_planned, 1), completed=p.pages_done, current=current
        )

    def case(self, p: EvalProgress) -> None:
        self.progress.update(self._task("cases"), total=p.total, completed=p.done, current=p.current)
