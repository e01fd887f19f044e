"""`examples/*.py` and `qwenvl demo` as a user runs them, against the real vLLM test server.

The tiny model has random weights, so these tests check plumbing — exit status, the shape of the output,
citations naming real pages of the samples, a clear message when the VLM is not configured — never wording.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from qwenvl_agents.cli.demo import demo_questions
from qwenvl_agents.samples import write_samples

pytestmark = [pytest.mark.integration, pytest.mark.vllm]

ROOT = Path(__file__).resolve().parents[2]
INVOICE_QA = ROOT / "examples" / "invoice_qa.py"
CHAT = ROOT / "examples" / "chat.py"
CITATION = re.compile(r"\[([^\[\]]+), p\. (\d+)\]")


def run(
    args: list[str], tmp: Path, *, vllm: Any = None, stdin: str = "", extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python args`` in ``tmp`` (so no stray ``.env`` is read) with only our QWENVL_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QWENVL_")}
    env.update(
        {
            "QWENVL_DATA_DIR": str(tmp / "data"),
            # `auto` reads the text layer (OCR only for the two scanned receipts) with the VLM on top: it is
            # the default a user gets, every sample page is indexed, and on the 2-core CI box it took ~30 s
            # where `ocr` on all 18 pages took ~65 s (`text` would leave the receipts unread).
            "QWENVL_EXTRACTOR": "auto",
            "QWENVL_MIN_PIXELS": str(16 * 784),
            "QWENVL_MAX_PIXELS": str(96 * 784),
            "QWENVL_VLM_TIMEOUT": "60",
            "QWENVL_VLM_MAX_RETRIES": "0",
            "TMPDIR": str(tmp / "tmp"),  # where invoice_qa.py's tempfile.mkdtemp() writes the samples
        }
    )
    if vllm is not None:
        env.update({"QWENVL_VLM_BASE_URL": vllm.base_url, "QWENVL_VLM_MODEL": vllm.model})
    env.update(extra_env or {})
    (tmp / "tmp").mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, *args], input=stdin, capture_output=True, text=True, env=env, cwd=tmp, timeout=900
    )


def sample_pages(samples_json: Path) -> set[tuple[str, int]]:
    facts = json.loads(samples_json.read_text(encoding="utf-8"))
    return {(d["path"], n) for d in facts["documents"] for n in range(1, d["page_count"] + 1)}


def assert_cites_real_pages(line: str, prefix: str, pages: set[tuple[str, int]]) -> None:
    """``prefix`` then ``nothing``/``none`` or citations ``[name, p. N]`` of sample pages, comma-separated."""
    assert line.startswith(prefix), line
    rest = line[len(prefix) :].strip()
    if rest in ("nothing", "none"):
        return
    cited = CITATION.findall(rest)
    assert cited, f"not a list of citations: {line!r}"
    assert ", ".join(f"[{d}, p. {p}]" for d, p in cited) == rest, f"junk between citations: {line!r}"
    for document, page in cited:
        assert (document, int(page)) in pages, f"{document} p. {page} is not a page of the samples"


def load_example(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("example-samples") / "samples"
    write_samples(folder)
    return folder


@pytest.mark.slow
def test_invoice_qa_answers_its_three_questions_citing_sample_pages(tmp_path, vllm_server, samples):
    result = run([str(INVOICE_QA)], tmp_path, vllm=vllm_server)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    written = list((tmp_path / "tmp").glob("*/samples/samples.json"))
    assert len(written) == 1, "the script writes the samples into one temporary folder"
    pages = sample_pages(written[0])
    assert pages == sample_pages(samples / "samples.json")  # the same documents as write_samples gives
    assert f"indexed {len(pages)} new pages, 0 unchanged" in result.stdout

    lines = result.stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Q: ")]
    assert [lines[i][3:] for i in starts] == load_example(INVOICE_QA).QUESTIONS
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        assert lines[start + 1].startswith("A: "), lines[start : start + 2]
        block = [line for line in lines[start + 2 : end] if line.strip()]
        cited = [line for line in block if line.startswith("   cited:")]
        assert len(cited) == 1 and block[-1] == cited[0], block  # the answer text, then one cited line
        assert_cites_real_pages(cited[0], "   cited:", pages)


@pytest.mark.slow
def test_chat_ingests_a_folder_and_answers_piped_questions_until_quit(tmp_path, vllm_server, samples):
    stdin = "What is the total of invoice INV-2026-0042?\nWho issued it?\n/quit\nNever asked?\n"
    result = run([str(CHAT), "--ingest", str(samples)], tmp_path, vllm=vllm_server, stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    pages = sample_pages(samples / "samples.json")
    assert f"read {len(pages)} new pages (0 unchanged)" in result.stderr
    assert "[answer]" in result.stderr  # the agent's tool steps are shown on stderr

    # Each question: "qwenvl> " then the streamed answer, then a Sources line; nothing after /quit.
    answers = result.stdout.split("qwenvl> ")
    assert answers[0] == "" and len(answers) == 3, result.stdout
    for answer in answers[1:]:
        sources = [line for line in answer.splitlines() if line.startswith("Sources:")]
        assert len(sources) == 1 and answer.rstrip("\n").endswith(sources[0]), answer
        assert_cites_real_pages(sources[0], "Sources:", pages)


@pytest.mark.parametrize("script", [INVOICE_QA, CHAT], ids=lambda p: p.name)
def test_example_without_a_vlm_says_what_to_set(tmp_path, script):
    result = run([str(script)], tmp_path)
    assert result.returncode != 0
    assert "QWENVL_VLM_BASE_URL" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert not any((tmp_path / "tmp").iterdir()), "nothing is written before the check"
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_demo_with_a_vlm_has_the_agent_answer_five_questions(tmp_path, vllm_server):
    data = tmp_path / "demo-data"
    result = run(["-m", "qwenvl_agents.cli", "demo", "--data-dir", str(data)], tmp_path, vllm=vllm_server)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists(), "--data-dir wins over QWENVL_DATA_DIR"
    assert f"with the VLM at {vllm_server.base_url}" in result.stderr
    assert f"answered by the agent with {vllm_server.model} at {vllm_server.base_url}" in result.stdout
    assert "showing the evidence" not in result.stdout  # not the offline mode

    samples_json = data / "samples" / "samples.json"
    pages = sample_pages(samples_json)
    lines = result.stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Q: ")]
    expected = demo_questions(json.loads(samples_json.read_text(encoding="utf-8")))
    assert len(expected) == 5
    assert [lines[i][3:] for i in starts] == expected
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        assert lines[start + 1].startswith("A: "), lines[start : start + 2]
        for line in lines[start + 2 : end]:
            if line.startswith("   Sources:"):
                assert_cites_real_pages(line, "   Sources:", pages)
