"""What an evaluation measured, as numbers: a terminal table, a JSON report and a recall@k plot.

Example:
    >>> from qwenvl_agents.evaluation.runner import CaseResult
    >>> metrics([CaseResult("a", "auto/hybrid", 1), CaseResult("b", "auto/hybrid", 4),
    ...          CaseResult("c", "auto/hybrid", None)])["mrr"]
    0.4167
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwenvl_agents.errors import MissingDependencyError

if TYPE_CHECKING:
    from rich.console import Console

    from qwenvl_agents.evaluation.runner import CaseResult, EvalRun, FieldResult

RECALL_AT = (1, 5, 10)
PLOT_K = range(1, 11)


def recall_at(results: Sequence[CaseResult], k: int) -> float:
    """Share of cases whose gold page is within the first ``k`` (cases that errored count as misses)."""
    return sum(r.rank is not None and r.rank <= k for r in results) / len(results) if results else 0.0


def metrics(results: Sequence[CaseResult]) -> dict[str, Any]:
    """Retrieval (recall@1/5/10, MRR) and, where answers ran, answer accuracy and declines, for one config."""
    out: dict[str, Any] = {"cases": len(results), "errors": sum(r.error is not None for r in results)}
    for k in RECALL_AT:
        out[f"recall@{k}"] = round(recall_at(results, k), 4)
    out["mrr"] = round(sum(1 / r.rank for r in results if r.rank) / len(results), 4) if results else 0.0
    answered = [r for r in results if r.correct is not None]
    if answered:
        out["answers"] = len(answered)
        out["answer_accuracy"] = round(sum(bool(r.correct) for r in answered) / len(answered), 4)
    return out


def summary(run: EvalRun, unanswerable: set[str] | None = None) -> dict[str, dict[str, Any]]:
    """``{config name: metrics}``; answerable and unanswerable cases are counted apart."""
    unanswerable = unanswerable if unanswerable is not None else {c.id for c in run.cases if not c.answerable}
    out: dict[str, dict[str, Any]] = {}
    for config in run.configs:
        mine = [r for r in run.results if r.config == config.name]
        out[config.name] = metrics([r for r in mine if r.case_id not in unanswerable])
        asked = [r for r in mine if r.case_id in unanswerable and r.declined is not None]
        if asked:
            out[config.name]["unanswerable"] = len(asked)
            out[config.name]["declined_rate"] = round(sum(bool(r.declined) for r in asked) / len(asked), 4)
    return out


def field_summary(fields: Sequence[FieldResult]) -> dict[str, dict[str, dict[str, Any]]]:
    """``{extractor: {field: {correct, total, accuracy}}}`` plus an ``all`` row per extractor."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for f in fields:
        for name in (f.field, "all"):
            row = out.setdefault(f.extractor, {}).setdefault(name, {"correct": 0, "total": 0})
            row["total"] += 1
            row["correct"] += int(f.correct)
    for rows in out.values():
        for row in rows.values():
            row["accuracy"] = round(row["correct"] / row["total"], 4)
    return out


def report(run: EvalRun) -> dict[str, Any]:
    """The whole JSON report: summary metrics, field accuracy, then every case's result."""
    cases = {c.id: c for c in run.cases}
    return {
        "summary": summary(run),
        "fields": field_summary(run.fields),
        "configs": [c.name for c in run.configs],
        "answers": run.answers,
        "reused": run.reused,
        "ingest": run.ingest,
        "cases": [
            {
                **asdict(r),
                "question": cases[r.case_id].question,
                "expected": cases[r.case_id].answer,
                "gold": [f"[{cases[r.case_id].path.name}, p. {p}]" for p in cases[r.case_id].pages],
                "set": cases[r.case_id].set,
                "scope": cases[r.case_id].scope,
            }
            for r in run.results
        ],
        "field_results": [asdict(f) for f in run.fields],
    }


def write_json(run: EvalRun, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report(run), ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")


def print_tables(run: EvalRun, console: Console) -> None:
    """The summary per configuration, then field accuracy per extractor."""
    from rich.table import Table

    table = Table(title=f"{len(run.cases)} cases", title_justify="left")
    table.add_column("configuration")
    for label in ("recall@1", "recall@5", "recall@10", "MRR", "answers", "declined", "errors"):
        table.add_column(label, justify="right")
    for name, m in summary(run).items():
        table.add_row(
            name,
            *(f"{m[f'recall@{k}']:.3f}" for k in RECALL_AT),
            f"{m['mrr']:.3f}",
            f"{m['answer_accuracy']:.3f} of {m['answers']}" if "answers" in m else "-",
            f"{m['declined_rate']:.3f} of {m['unanswerable']}" if "unanswerable" in m else "-",
            str(m["errors"]),
        )
    console.print(table)
    fields = field_summary(run.fields)
    if fields:
        names = [*sorted({n for rows in fields.values() for n in rows if n != "all"}), "all"]
        ftable = Table(title="field accuracy (stored fields vs ground truth)", title_justify="left")
        ftable.add_column("extractor")
        for n in names:
            ftable.add_column(n, justify="right")
        for extractor, rows in fields.items():
            cells = [f"{rows[n]['correct']}/{rows[n]['total']}" if n in rows else "-" for n in names]
            ftable.add_row(extractor, *cells)
        console.print(ftable)


def plot_recall(run: EvalRun, path: Path) -> None:
    """recall@k for k = 1..10, one line per configuration, as a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependencyError("the plot needs matplotlib: pip install 'qwenvl-agents[eval]'") from exc
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    lowest = 1.0
    for config in run.configs:
        mine = [r for r in run.results if r.config == config.name]
        answerable = [r for r in mine if next(c for c in run.cases if c.id == r.case_id).answerable]
        ks = list(PLOT_K)
        values = [recall_at(answerable, k) for k in ks]
        lowest = min(lowest, *values)
        ax.plot(ks, values, marker="o", linewidth=2, label=f"{config.name} (MRR {metrics(answerable)['mrr']:.2f})")
    ax.set_xlabel("k (pages returned)")
    ax.set_ylabel("recall@k (gold page within the first k)")
    ax.set_xticks(list(PLOT_K))
    ax.set_ylim(max(0.0, int(lowest * 10) / 10 - 0.1), 1.02)  # from a little below the lowest point
    ax.grid(True, alpha=0.3)
    ax.set_title(f"Retrieval on {len(run.cases)} questions")
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
