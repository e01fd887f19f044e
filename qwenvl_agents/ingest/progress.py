"""A terminal progress bar for ingest runs (on stderr, so ``--json`` output on stdout stays clean)."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from qwenvl_agents.ingest.summary import IngestProgress


class IngestProgressBar:
    """``on_progress`` callback drawing pages done / planned, pages/s, fallbacks and failures.

    The total grows as documents are looked at: a page counts once it is known to need extraction.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:.1f} pages/s"),
            TextColumn(
                "skipped {task.fields[skipped]}  fallback {task.fields[fallback]}  failed {task.fields[failed]}"
            ),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[current]}"),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self._task = self._progress.add_task("ingest", total=0, rate=0.0, skipped=0, fallback=0, failed=0, current="")

    def __call__(self, p: IngestProgress) -> None:
        current = (p.current or "").rsplit("/", 1)[-1][:40]
        self._progress.update(
            self._task,
            total=max(p.pages_planned, 1),
            completed=p.pages_done,
            rate=p.pages_per_second,
            skipped=p.pages_skipped,
            fallback=p.pages_fallback,
            failed=p.pages_failed,
            current=current,
        )

    def __enter__(self) -> IngestProgressBar:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()
