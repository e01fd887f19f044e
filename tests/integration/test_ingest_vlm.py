"""Ingest with the VLM extractor against the real vLLM test server, directly and through a fault proxy.

The tiny random model's words mean nothing; what is asserted is the plumbing: every page ends up in the
index exactly once with a status (ok, fallback or failed) and a reason, and the summary counts them.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from qwenvl_agents.extract import make_extractor
from qwenvl_agents.ingest import Ingestor
from qwenvl_agents.samples import write_samples
from qwenvl_agents.settings import Settings
from qwenvl_agents.store import PageIndex
from qwenvl_agents.vlm import VLMClient
from tests.support.fault_proxy import FaultProxy

pytestmark = [pytest.mark.integration, pytest.mark.vllm]


def vlm_settings(data_dir: Path, base_url: str, model: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "vlm_base_url": base_url,
        "vlm_model": model,
        # A small pixel budget keeps the CPU server quick; the plumbing is the same at any size.
        "min_pixels": 16 * 784,
        "max_pixels": 96 * 784,
        "vlm_timeout": 30.0,
        "vlm_max_retries": 1,
        "extract_attempts": 2,
        "extract_max_tokens": 384,
        "vlm_max_concurrency": 8,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("samples")
    write_samples(folder)
    return folder


def statuses(settings: Settings) -> Counter[str]:
    index = PageIndex.open(settings)
    found: Counter[str] = Counter()
    pages: Counter[tuple[str, int]] = Counter()
    for _, _, metas in index.iter_batches({"record_type": "page"}, include_metadata=True):
        for md in metas:
            assert md is not None
            found[str(md["status"])] += 1
            pages[(str(md["document_id"]), int(md["page"]))] += 1
            if md["status"] != "ok":
                assert md.get("reason"), md  # a fallback or failure always says why
            json.loads(str(md["fields_json"]))  # stored fields are valid JSON
    assert set(pages.values()) == {1}
    return found


def test_vlm_ingest_of_the_samples_gives_schema_valid_pages(vllm_server, samples, tmp_path) -> None:
    settings = vlm_settings(tmp_path, vllm_server.base_url, vllm_server.model)
    summary = Ingestor(settings, extractor="vlm").run([samples])
    assert summary.pages_extracted == 18 and summary.pages_failed == 0
    assert summary.extractor["name"] == "vlm" and summary.extractor["model"] == vllm_server.model
    assert summary.input_tokens > 18 * 16 and summary.output_tokens > 0
    found = statuses(settings)
    assert sum(found.values()) == 18
    # How many of a random model's answers pass validation varies; the plumbing must read some pages and
    # account for every other one as a fallback with its reason (checked in statuses()).
    assert found["ok"] >= 1 and found["ok"] + found["fallback"] == 18, found
    index = PageIndex.open(settings)
    vlm_pages = index.ids_where({"extractor": "vlm"})
    assert vlm_pages and all(p.metadata["model"] == vllm_server.model for p in index.get(vlm_pages))
    # A rerun with the same model and prompts sends nothing to the server.
    again = Ingestor(settings, extractor="vlm").run([samples], retry_failed=False)
    assert again.pages_extracted == 0 and again.pages_skipped == 18


def test_server_stopped_mid_run_pages_fall_back_then_a_rerun_reads_them(vllm_server, samples, tmp_path) -> None:
    with FaultProxy(vllm_server.root_url) as proxy:
        settings = vlm_settings(tmp_path, proxy.base_url, vllm_server.model, vlm_max_concurrency=2)

        def stop_server_after_three_requests() -> None:
            deadline = time.monotonic() + 120
            while proxy.chat_requests() < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            proxy.set_mode("refuse")

        killer = threading.Thread(target=stop_server_after_three_requests, daemon=True)
        killer.start()
        summary = Ingestor(settings, extractor="vlm").run([samples])
        killer.join()
        # Every page is accounted for: read before the stop, or fallen back (text layer / OCR) after it.
        assert summary.pages_extracted + summary.pages_failed == 18
        assert summary.pages_fallback >= 10 and summary.pages_failed == 0
        found = statuses(settings)
        assert found["fallback"] == summary.pages_fallback and sum(found.values()) == 18

        proxy.set_mode("pass")
        rerun = Ingestor(settings, extractor="vlm").run([samples])
        assert rerun.pages_updated == summary.pages_fallback  # exactly the fallen-back pages were tried again
        assert rerun.pages_skipped == 18 - summary.pages_fallback
        assert statuses(settings)["fallback"] == rerun.pages_fallback


@pytest.mark.parametrize(
    ("mode", "options"),
    [("http_500", {}), ("slow", {"delay": 6.0}), ("truncate_json", {}), ("invalid_json", {})],
)
def test_faults_are_retried_then_fall_back_and_are_counted(vllm_server, samples, tmp_path, mode, options) -> None:
    pages = [samples / "invoice-en.pdf", samples / "receipt-en.jpg", samples / "report-zh.pdf"]
    with FaultProxy(vllm_server.root_url) as proxy:
        settings = vlm_settings(tmp_path, proxy.base_url, vllm_server.model, vlm_timeout=3.0)
        proxy.set_mode(mode, **options)
        summary = Ingestor(settings, extractor="vlm").run(pages)
        assert summary.pages_fallback == 4 and summary.pages_failed == 0 and summary.pages_extracted == 4
        if mode == "slow":
            # A request that timed out while the server was generating is never sent again (it may still be
            # running there): one request per page, then the fallback.
            assert proxy.chat_requests() == 4
        else:
            # Each page was tried more than once before it fell back (transport retries or bad-output attempts).
            assert proxy.chat_requests() >= 2 * 4
        found = statuses(settings)
        assert found == Counter({"fallback": 4})
        reasons = {p.metadata["reason"] for p in PageIndex.open(settings).get(PageIndex.open(settings).ids_where({}))}
        assert all(str(r).startswith("vlm:") for r in reasons), reasons
        if mode == "slow":
            assert all("not retried" in str(r) for r in reasons), reasons


def test_page_nothing_can_read_is_failed_and_reported(vllm_server, samples, tmp_path) -> None:
    with FaultProxy(vllm_server.root_url) as proxy:
        settings = vlm_settings(tmp_path, proxy.base_url, vllm_server.model)
        proxy.set_mode("refuse")
        client = VLMClient.from_settings(settings)
        # No OCR and a scan without a text layer: when the server is gone nothing can read the page.
        extractor = make_extractor(settings, client, "vlm", ocr=False)
        summary = Ingestor(settings, extractor=extractor).run([samples / "receipt-en.jpg"])
    assert summary.pages_failed == 1 and not summary.ok
    assert summary.errors and summary.errors[0].page == 1 and "vlm" in summary.errors[0].message
    assert statuses(settings) == Counter({"failed": 1})


def test_cli_ingests_a_corpus_subset_with_the_vlm(vllm_server, tmp_path) -> None:
    import os
    import subprocess
    import sys

    from tests.support.corpus import require_corpus

    invoices = require_corpus() / "invoices_invoice2data"
    env = {
        **os.environ,
        "QWENVL_DATA_DIR": str(tmp_path),
        "QWENVL_VLM_BASE_URL": vllm_server.base_url,
        "QWENVL_VLM_MODEL": vllm_server.model,
        "QWENVL_MIN_PIXELS": str(16 * 784),
        "QWENVL_MAX_PIXELS": str(96 * 784),
        "QWENVL_EXTRACT_MAX_TOKENS": "384",
    }
    result = subprocess.run(
        [sys.executable, "-m", "qwenvl_agents.cli", "ingest", str(invoices), "--extractor", "vlm", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.splitlines()[-1])
    pdfs = sorted(invoices.glob("*.pdf"))
    assert summary["documents_new"] == len(pdfs) and summary["pages_failed"] == 0
    assert summary["extractor"]["name"] == "vlm" and summary["input_tokens"] > 0
    settings = vlm_settings(tmp_path, vllm_server.base_url, vllm_server.model)
    found = statuses(settings)  # every page once, valid stored fields, reasons where not ok
    assert sum(found.values()) == summary["pages_extracted"] and found["ok"] >= 1
