"""The prompts of the agent and the RAG pipeline (English; the model answers in the user's language)."""

from __future__ import annotations

from collections.abc import Sequence

NOT_FOUND_TEXT = "The documents do not say."
"""What an answer says when the indexed documents do not hold it."""

AGENT_SYSTEM = """\
You answer questions about the user's documents, using only what the tools show you.
{tools}- Finish by calling answer once. Cite every claim inline as [document, p. N] and list those pages in \
citations. Cite only pages a tool showed you.
- If the documents do not contain the answer, say that they do not say it, with found=false. Do not guess.
- Answer briefly, in the language of the question.{scope}"""

TOOL_HINTS = {
    "search_pages": "search_pages finds pages.",
    "look_at_pages": "look_at_pages reads page images: look at a page before citing it.",
    "lookup_fields": "lookup_fields does all arithmetic on invoice and receipt amounts: never add numbers yourself.",
    "list_documents": "list_documents lists the documents.",
}

FORCE_ANSWER = (
    "The step limit is reached. Call the answer tool now with what the pages you have seen show; if they do "
    "not answer the question, set found=false and say that the documents do not say."
)

LOOK_PROMPT = """\
The images are pages of the user's documents, in this order:
{pages}

Question: {question}

Read the pages and report what each one shows that helps answer the question. Start each page's part \
with its label, e.g. "{first}: ...". Quote numbers, names and dates exactly as printed. If a page does not \
help, say so in one line."""

RAG_SYSTEM = """\
You answer questions about the user's documents from the page images (and page texts) given with the \
question. Use only what the pages show. Cite every claim inline as [document, p. N] with the labels given. \
If the pages do not contain the answer, reply: "{not_found}" and nothing else."""

RAG_PROMPT = """\
Pages, in the order of the images:
{pages}
{texts}
Question: {question}"""


def scope_note(filters: Sequence[str]) -> str:
    """A line telling the model which documents and pages this run is restricted to."""
    if not filters:
        return ""
    return "\nThis conversation is restricted to: " + "; ".join(filters) + "."


def agent_system(filters: Sequence[str] = (), tools: Sequence[str] = tuple(TOOL_HINTS)) -> str:
    """The agent's system prompt for the tools offered and the run's filters."""
    hints = "".join(f"- {TOOL_HINTS[t]}\n" for t in tools if t in TOOL_HINTS)
    return AGENT_SYSTEM.format(tools=hints, scope=scope_note(filters))


def look_prompt(question: str, labels: Sequence[str]) -> str:
    pages = "\n".join(f"Image {n}: {label}" for n, label in enumerate(labels, start=1))
    return LOOK_PROMPT.format(pages=pages, question=question.strip(), first=labels[0] if labels else "[doc, p. 1]")


def rag_system() -> str:
    return RAG_SYSTEM.format(not_found=NOT_FOUND_TEXT)


def rag_prompt(question: str, labels: Sequence[str], texts: Sequence[tuple[str, str]] = ()) -> str:
    pages = "\n".join(f"Image {n}: {label}" for n, label in enumerate(labels, start=1)) or "(no page images)"
    text_block = "".join(f"\nText of {label}:\n{text}\n" for label, text in texts)
    return RAG_PROMPT.format(pages=pages, texts=text_block, question=question.strip())
