"""Pages for the retrieval tests: invoices, a Chinese page, a deck and a long report."""

from __future__ import annotations

import hashlib

from qwenvl_agents.store.records import PageEntry
from qwenvl_agents.types import DocumentInfo, KeyFields, PageExtraction


def doc(name: str, pages: int = 1, title: str | None = None, folder: str = "/data/in") -> DocumentInfo:
    digest = hashlib.sha256(f"{folder}/{name}".encode()).hexdigest()
    suffix = name.rsplit(".", 1)[-1]
    media = "office" if suffix == "pptx" else "pdf"
    return DocumentInfo(digest, f"{folder}/{name}", name, media, suffix, 1000, pages, title)  # type: ignore[arg-type]


def entry(info: DocumentInfo, page: int, text: str, **kw: object) -> PageEntry:
    return PageEntry(info, PageExtraction(info.document_id, page, text, "text", **kw))  # type: ignore[arg-type]


FILLER = "The total amount of the invoice is due on receipt. Payment terms and invoice total apply. " * 3

DOCS = {
    "acme": doc("acme-2026-03.pdf"),
    "zeta": doc("zeta-invoice.pdf"),
    "other": doc("supplies.pdf"),
    "zh": doc("报告.pdf", title="年度报告"),
    "deck": doc("deck.pptx", 3, title="Quarterly review"),
    "long": doc("long-report.pdf", 1),
}


def entries() -> list[PageEntry]:
    d = DOCS
    long_tail = "Appendix: the heliostat calibration drifted by 0.4 degrees in March. "
    return [
        entry(
            d["acme"],
            1,
            "Factuur INV-2026-0042\n\nACME B.V.\n\nTotaal te betalen: 120,00 EUR",
            page_kind="invoice",
            language="nl",
            fields=KeyFields(
                seller="ACME B.V.",
                total=120.0,
                issue_date="2026-03-01",
                currency="EUR",
                document_number="INV-2026-0042",
            ),
        ),
        entry(
            d["zeta"],
            1,
            "Rechnung 2025-117\n\nZeta GmbH\n\nGesamtbetrag 4.904,94 EUR",
            page_kind="invoice",
            language="de",
            fields=KeyFields(seller="Zeta GmbH", total=4904.94, issue_date="2025-11-02", currency="EUR"),
        ),
        entry(
            d["other"],
            1,
            "Invoice 77\n\n" + FILLER,
            page_kind="invoice",
            language="en",
            fields=KeyFields(seller="Supplies Ltd", total=55.5, issue_date="2026-01-15", currency="USD"),
        ),
        entry(
            d["zh"],
            1,
            "年度报告\n\n本年度发票金额合计为一百万元，同比增长百分之十八。",
            page_kind="report",
            language="zh",
        ),
        *[
            entry(
                d["deck"],
                n,
                f"Slide text number {n}: " + ["overview", "regional sales", "outlook"][n - 1],
                page_kind="slide",
                language="en",
            )
            for n in (1, 2, 3)
        ],
        entry(
            d["long"],
            1,
            ("Solar output grew steadily across the year. " * 30) + long_tail,
            page_kind="report",
            language="en",
        ),
    ]
