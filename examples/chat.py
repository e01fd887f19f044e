"""Chat with your documents in the terminal: answers stream in, with citations, and the agent remembers.

    python examples/chat.py                 # the knowledge base of QWENVL_DATA_DIR / QWENVL_KNOWLEDGE_BASE
    python examples/chat.py --ingest docs/  # read a folder first (unchanged pages are skipped)

Needs a vLLM server with Qwen2.5-VL (QWENVL_VLM_BASE_URL, QWENVL_VLM_MODEL). Type /quit to leave.
"""

from __future__ import annotations

import argparse
import sys

from qwenvl_agents import Settings
from qwenvl_agents.agent import AgentContext, Answer, DocumentChat, StepEvent, TokenEvent
from qwenvl_agents.ingest import ingest


def main() -> None:
    parser = argparse.ArgumentParser(description="Chat with your documents.")
    parser.add_argument("--ingest", nargs="*", default=[], help="files or folders to read first")
    parser.add_argument("--k", type=int, default=5, help="pages per search")
    args = parser.parse_args()

    settings = Settings()
    if not settings.vlm_base_urls:
        sys.exit("Set QWENVL_VLM_BASE_URL to your vLLM server (e.g. http://127.0.0.1:8000/v1).")
    if args.ingest:
        summary = ingest(args.ingest, settings)
        print(f"read {summary.pages_extracted} new pages ({summary.pages_skipped} unchanged)", file=sys.stderr)

    with DocumentChat(settings, context=AgentContext(k=args.k)) as chat:
        for question in questions():
            if question == "/quit":
                break
            if not question:
                continue
            print("qwenvl> ", end="", flush=True)
            for event in chat.stream(question):
                if isinstance(event, TokenEvent) and event.source == "answer":
                    print(event.text, end="", flush=True)  # the answer as it is written
                elif isinstance(event, StepEvent):
                    for call in event.tool_calls:
                        print(f"\n  [{call['name']}]", end="", file=sys.stderr, flush=True)
                elif isinstance(event, Answer):
                    print("\nSources:", ", ".join(str(c) for c in event.citations) or "none", flush=True)


def questions():
    """Lines typed at the prompt (or piped in), until end of input."""
    while True:
        try:
            yield input("you> " if sys.stdin.isatty() else "").strip()
        except (EOFError, KeyboardInterrupt):
            return


if __name__ == "__main__":
    main()
