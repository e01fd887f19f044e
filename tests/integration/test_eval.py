"""`qwenvl eval` end to end: on corpus questions offline (retrieval, fields, JSON, plot, resume, --compare),
with bad lines in the question file, and with the vLLM test server (the answer path runs for every case)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.corpus import require_corpus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SETS = ("invoices_invoice2data", "slides_docling")


def qwenvl(data_dir: Path, *args: str, vlm: object = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QWENVL_")}
    env.update({"QWENVL_DATA_DIR": str(data_dir), "ORT_DISABLE_TELEMETRY": "1"})
    if vlm is not None:
        env.update({"QWENVL_VLM_BASE_URL": vlm.base_url, "QWENVL_VLM_MODEL": vlm.model})  # type: ignore[attr-defined]
        env.update({"QWENVL_MIN_PIXELS": str(16 * 784), "QWENVL_MAX_PIXELS": str(96 * 784)})
    return subprocess.run(
        [sys.executable, "-m", "qwenvl_agents.cli", "eval", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        cwd=data_dir,
    )


@pytest.fixture(scope="module")
def questions(tmp_path_factory) -> tuple[Path, list[dict]]:
    """The dev questions of two sets (invoices with field ground truth, a slide deck), in a file of their own."""
    corpus = require_corpus()
    rows = [json.loads(line) for line in (corpus / "qa-dev.jsonl").read_text().splitlines() if line.strip()]
    chosen = [r for r in rows if r["set"] in SETS]
    path = tmp_path_factory.mktemp("qa") / "qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in chosen))
    return path, chosen


def test_offline_eval_reports_retrieval_fields_json_and_plot_and_resumes(questions, tmp_path):
    path, rows = questions
    corpus = str(require_corpus())
    first = qwenvl(tmp_path, str(path), "--corpus", corpus, "--extractor", "text", "--compare", "mode", "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout.splitlines()[-1])
    assert set(summary["configs"]) == {"text/dense", "text/lexical", "text/hybrid"}
    for metrics in summary["configs"].values():
        assert metrics["cases"] == len(rows) and metrics["errors"] == 0
        assert 0 <= metrics["recall@1"] <= metrics["recall@5"] <= metrics["recall@10"] <= 1
        assert "answer_accuracy" not in metrics  # no VLM: no answers
    hybrid, lexical = summary["configs"]["text/hybrid"], summary["configs"]["text/lexical"]
    assert hybrid["recall@5"] >= lexical["recall@5"] and hybrid["recall@5"] >= 0.9
    report = json.loads(Path(summary["report"]).read_text())
    assert len(report["cases"]) == 3 * len(rows)
    ranked = [c for c in report["cases"] if c["config"] == "text/hybrid"]
    for case in ranked:  # each case's rank is consistent with its top results
        if case["rank"] is not None and case["rank"] <= 5:
            assert case["top"][case["rank"] - 1] in case["gold"]
    # invoices have expected JSON: every stored field is scored against it
    fields = report["fields"]["text"]
    assert fields["all"]["total"] >= 11 and 0 < fields["all"]["correct"] <= fields["all"]["total"]
    plot = Path(summary["plot"])
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
    # A rerun reuses every finished case and gives the same numbers.
    again = qwenvl(tmp_path, str(path), "--corpus", corpus, "--extractor", "text", "--compare", "mode", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.splitlines()[-1])["configs"] == summary["configs"]
    assert json.loads(Path(summary["report"]).read_text())["reused"] == 3 * len(rows)


def test_bad_lines_are_all_reported_with_their_line_numbers(tmp_path):
    corpus = require_corpus()
    good = {"id": "a", "file": "invoices_invoice2data/oyo.pdf", "page": 1, "question": "q?", "answer": "1",
            "answer_type": "number"}  # fmt: skip
    lines = [json.dumps(good), "{not json", json.dumps({**good, "id": "b", "answer_type": "fuzzy"}),
             json.dumps({**good, "id": "c", "file": "nowhere/missing.pdf"})]  # fmt: skip
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = qwenvl(tmp_path, str(path), "--corpus", str(corpus))
    assert result.returncode == 2
    for line in (2, 3, 4):
        assert f"bad.jsonl:{line}:" in result.stderr, result.stderr
    assert "missing.pdf" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.vllm
def test_with_a_vlm_every_case_is_answered_and_scored(questions, tmp_path, vllm_server):
    _, rows = questions
    few = tmp_path / "few.jsonl"
    unanswerable = {**rows[0], "id": "unanswerable-1", "question": "What is the name of the captain's cat?",
                    "answerable": False}  # fmt: skip
    few.write_text("".join(json.dumps(r) + "\n" for r in [*rows[:3], unanswerable]))
    result = qwenvl(
        tmp_path, str(few), "--corpus", str(require_corpus()), "--extractor", "text", "--graph", "rag", "--json",
        vlm=vllm_server,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    metrics = summary["configs"]["text/hybrid"]
    assert metrics["answers"] == 3 and 0 <= metrics["answer_accuracy"] <= 1
    assert metrics["unanswerable"] == 1
    cases = json.loads(Path(summary["report"]).read_text())["cases"]
    assert len(cases) == 4
    for case in cases:
        assert isinstance(case["answer"], str) and isinstance(case["correct"], bool) and case["detail"]
