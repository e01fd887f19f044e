"""Questions over a folder of invoices and receipts: facts read from the page images, sums computed exactly.

    python examples/invoice_qa.py                    # the project's sample invoices and receipts
    python examples/invoice_qa.py path/to/invoices/  # your own

The agent looks at the page images again for each fact and cites document and page; totals over several
invoices come from the stored fields, added in code (never by the model). Needs a vLLM server with
Qwen2.5-VL (QWENVL_VLM_BASE_URL, QWENVL_VLM_MODEL).
"""

from __future__ import annotations

import sys
import tempfile

from qwenvl_agents import Settings, write_samples
from qwenvl_agents.agent import DocumentChat
from qwenvl_agents.ingest import ingest

QUESTIONS = [
    "List every invoice and receipt with its seller, date and total.",
    "What is the sum of the totals of all invoices and receipts, per currency?",
    "Which invoice has the highest total, and when is it due?",
]


def main() -> None:
    settings = Settings()
    if not settings.vlm_base_urls:
        sys.exit("Set QWENVL_VLM_BASE_URL to your vLLM server (e.g. http://127.0.0.1:8000/v1).")
    folder = sys.argv[1] if len(sys.argv) > 1 else f"{tempfile.mkdtemp()}/samples"
    if len(sys.argv) == 1:
        write_samples(folder)
    summary = ingest([folder], settings)
    print(f"indexed {summary.pages_extracted} new pages, {summary.pages_skipped} unchanged\n")

    with DocumentChat(settings) as chat:
        for question in QUESTIONS:
            answer = chat.invoke(question)  # one thread: later questions may refer to earlier answers
            print(f"Q: {question}\nA: {answer.text}")
            print("   cited:", ", ".join(str(c) for c in answer.citations) or "nothing", "\n")


if __name__ == "__main__":
    main()
