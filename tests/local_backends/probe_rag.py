"""Probe of ``qwenvl ask --graph rag`` on the transformers backend with the tiny checkpoint.

Indexes a one-page invoice offline, then asks about it through the CLI with ``QWENVL_VLM_BACKEND=transformers``
(the rag graph shows the page image to the in-process model), and asks once more with ``--graph agent``, which
needs tool calls that the local backends do not make. Run with the server venv's python:
``probe_rag.py MODEL_DIR WORK_DIR``; prints one JSON object.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support.documents import make_pdf


def qwenvl(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qwenvl_agents.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )


def last_json(stdout: str) -> Any:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def main() -> None:
    model_dir, work = sys.argv[1], Path(sys.argv[2])
    docs = work / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    make_pdf(docs / "invoice.pdf", ["Invoice INV-7 from ACME B.V. Total due: EUR 120.00"])
    env = {
        **os.environ,
        "QWENVL_ENV_FILE": "",
        "QWENVL_DATA_DIR": str(work / "data"),
        "QWENVL_VLM_BACKEND": "transformers",
        "QWENVL_VLM_MODEL": model_dir,
        "QWENVL_MIN_PIXELS": str(16 * 784),
        "QWENVL_MAX_PIXELS": str(96 * 784),
    }
    env.pop("QWENVL_VLM_BASE_URL", None)
    out: dict[str, Any] = {}
    ingest = qwenvl("ingest", str(docs), "--extractor", "text", "--json", env=env)
    out["ingest"] = {
        "returncode": ingest.returncode,
        "summary": last_json(ingest.stdout),
        "stderr": ingest.stderr[-2000:],
    }
    started = time.monotonic()
    rag = qwenvl("ask", "What is the total of invoice INV-7?", "--graph", "rag", "--json", env=env)
    out["rag"] = {
        "returncode": rag.returncode,
        "answer": last_json(rag.stdout),
        "stderr": rag.stderr[-2000:],
        "seconds": round(time.monotonic() - started, 1),
    }
    agent = qwenvl("ask", "What is the total of invoice INV-7?", "--graph", "agent", "--json", env=env)
    out["agent"] = {"returncode": agent.returncode, "stdout": agent.stdout[-2000:], "stderr": agent.stderr[-2000:]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
