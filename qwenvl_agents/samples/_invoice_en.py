"""The English invoice: a born-digital one-page PDF set in Helvetica."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.platypus import Flowable, HRFlowable, Paragraph, Spacer, Table, TableStyle

from qwenvl_agents.samples._model import QAPair, RenderedSample
from qwenvl_agents.samples._numbers import money, round_cents
from qwenvl_agents.samples._pdf import LineItem, build_pdf, esc

EN_NUMBER = "INV-2026-0042"
EN_SELLER = "Brightwater Lab Supply Inc."
EN_SELLER_ADDRESS = ("410 Mission Bay Blvd, Suite 200", "San Francisco, CA 94158", "United States")
EN_SELLER_CONTACT = "billing@brightwater-lab.example  |  +1 (415) 555-0142  |  EIN 94-3184270"
EN_BUYER = "Cobalt Ridge Analytics LLC"
EN_BUYER_ADDRESS = ("Attn: Accounts Payable, Dana Whitfield", "77 Harbor Point Dr, Floor 3", "Austin, TX 78701")
EN_ISSUE = "2026-03-12"
EN_DUE = "2026-04-11"
EN_CURRENCY = "USD"
EN_PO = "PO-77815"
EN_TAX_RATE = Decimal("0.0825")
EN_ITEMS: tuple[LineItem, ...] = (
    LineItem("Borosilicate beaker set, 250 mL (12 pcs)", 4, Decimal("86.50"), code="BW-BK250-12"),
    LineItem("Digital pipette, adjustable 10-100 µL", 3, Decimal("214.00"), code="BW-PIP-100"),
    LineItem("Nitrile gloves, size M, box of 200", 10, Decimal("18.75"), code="BW-GLV-M200"),
    LineItem("Benchtop centrifuge service, annual plan", 1, Decimal("1150.00"), code="SV-CEN-ANN"),
    LineItem("Freight and handling", 1, Decimal("65.00"), code="FR-STD"),
)

_TEAL = colors.HexColor("#0f5c6e")
_PALE = colors.HexColor("#e8f1f3")
_GREY = colors.HexColor("#5f6b70")


def _en_styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName="Helvetica", fontSize=9.5, leading=12.5, textColor=colors.black)
    return {
        "base": base,
        "seller": ParagraphStyle("seller", base, fontName="Helvetica-Bold", fontSize=16, leading=20, textColor=_TEAL),
        "title": ParagraphStyle(
            "title", base, fontName="Helvetica-Bold", fontSize=26, leading=30, alignment=TA_RIGHT, textColor=_TEAL
        ),
        "label": ParagraphStyle("label", base, fontName="Helvetica-Bold", fontSize=8, leading=10, textColor=_GREY),
        "bold": ParagraphStyle("bold", base, fontName="Helvetica-Bold"),
        "right": ParagraphStyle("right", base, alignment=TA_RIGHT),
        "small": ParagraphStyle("small", base, fontSize=8.5, leading=11, textColor=_GREY),
        "th": ParagraphStyle("th", base, fontName="Helvetica-Bold", textColor=colors.white),
        "th_right": ParagraphStyle(
            "th_right", base, fontName="Helvetica-Bold", textColor=colors.white, alignment=TA_RIGHT
        ),
    }


def _en_totals() -> tuple[Decimal, Decimal, Decimal]:
    subtotal = sum((item.amount for item in EN_ITEMS), Decimal(0))
    tax = round_cents(subtotal * EN_TAX_RATE)
    return subtotal, tax, subtotal + tax


def _en_story() -> list[Flowable]:
    s = _en_styles()
    subtotal, tax, total = _en_totals()
    # The frame pads its content by 6 pt on each side; tables wider than that would be re-centred.
    width = LETTER[0] - 1.5 * inch - 12

    seller_block = [Paragraph(esc(EN_SELLER), s["seller"])] + [
        Paragraph(esc(line), s["base"]) for line in EN_SELLER_ADDRESS
    ]
    meta = Table(
        [
            [Paragraph("Invoice number", s["label"]), Paragraph(EN_NUMBER, s["bold"])],
            [Paragraph("Issue date", s["label"]), Paragraph(EN_ISSUE, s["base"])],
            [Paragraph("Due date", s["label"]), Paragraph(EN_DUE, s["base"])],
            [Paragraph("Currency", s["label"]), Paragraph(EN_CURRENCY, s["base"])],
            [Paragraph("PO number", s["label"]), Paragraph(EN_PO, s["base"])],
        ],
        colWidths=[1.0 * inch, 1.35 * inch],
        style=TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
            ]
        ),
        hAlign="RIGHT",
    )
    header = Table(
        [[seller_block, [Paragraph("INVOICE", s["title"]), Spacer(1, 6), meta]]],
        colWidths=[width - 2.6 * inch, 2.6 * inch],
        style=TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        ),
    )

    bill_to = [Paragraph("BILL TO", s["label"]), Paragraph(esc(EN_BUYER), s["bold"])] + [
        Paragraph(esc(line), s["base"]) for line in EN_BUYER_ADDRESS
    ]
    details = [
        Paragraph("DETAILS", s["label"]),
        Paragraph("Payment terms: Net 30", s["base"]),
        Paragraph("Customer ID: CRA-1187", s["base"]),
        Paragraph("Sales contact: Maya Osei", s["base"]),
        Paragraph("Ship date: 2026-03-10 (UPS Ground)", s["base"]),
    ]
    parties = Table(
        [[bill_to, details]],
        colWidths=[width / 2, width / 2],
        style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]),
    )

    rows: list[list[Any]] = [
        [Paragraph(h, s["th"]) for h in ("#", "Item", "Description")]
        + [Paragraph(h, s["th_right"]) for h in ("Qty", "Unit price", "Amount")]
    ]
    for n, item in enumerate(EN_ITEMS, start=1):
        rows.append(
            [
                str(n),
                item.code,
                Paragraph(esc(item.description), s["base"]),
                str(item.quantity),
                money(item.unit_price),
                money(item.amount),
            ]
        )
    items = Table(
        rows,
        colWidths=[
            0.3 * inch,
            1.05 * inch,
            width - 0.3 * inch - 1.05 * inch - 0.5 * inch - 2.0 * inch,
            0.5 * inch,
            1.0 * inch,
            1.0 * inch,
        ],
        repeatRows=1,
        style=TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), _TEAL),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 9.5),
                ("ALIGN", (3, 1), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, _PALE]),
                ("LINEBELOW", (0, -1), (-1, -1), 0.8, _TEAL),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ]
        ),
    )

    totals = Table(
        [
            ["Subtotal", money(subtotal)],
            [f"Sales tax ({EN_TAX_RATE * 100:.2f}%)", money(tax)],
            ["Total due", f"{EN_CURRENCY} {money(total)}"],
        ],
        colWidths=[1.5 * inch, 1.25 * inch],
        hAlign="RIGHT",
        style=TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), "Helvetica", 10),
                ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 11.5),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("BACKGROUND", (0, -1), (-1, -1), _PALE),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, _TEAL),
                ("TOPPADDING", (0, -1), (-1, -1), 6),
                ("BOTTOMPADDING", (0, -1), (-1, -1), 6),
            ]
        ),
    )

    payment = Paragraph(
        f"Please pay by ACH transfer to {esc(EN_SELLER)}, Pacific Harbor Bank, account ending 4821, "
        f"and quote <b>{EN_NUMBER}</b> as the payment reference. Balances unpaid after the due date "
        "accrue interest of 1.5% per month.",
        s["base"],
    )
    return [
        header,
        Spacer(1, 10),
        HRFlowable(width="100%", thickness=1.2, color=_TEAL, spaceAfter=12),
        parties,
        Spacer(1, 16),
        items,
        Spacer(1, 10),
        totals,
        Spacer(1, 24),
        Paragraph("PAYMENT INSTRUCTIONS", s["label"]),
        Spacer(1, 3),
        payment,
        Spacer(1, 12),
        Paragraph(
            "Thank you for your business. Questions about this invoice: billing@brightwater-lab.example", s["small"]
        ),
    ]


def _en_footer(canvas: Any, doc: Any) -> None:
    # Inset by the frame padding so the rule lines up with the tables above it.
    left, right = 0.75 * inch + 6, LETTER[0] - 0.75 * inch - 6
    canvas.saveState()
    canvas.setStrokeColor(_TEAL)
    canvas.setLineWidth(0.6)
    canvas.line(left, 0.75 * inch, right, 0.75 * inch)
    canvas.setFont("Helvetica", 8)
    canvas.setFillColor(_GREY)
    canvas.drawString(left, 0.58 * inch, EN_SELLER_CONTACT)
    canvas.drawRightString(right, 0.58 * inch, f"Page {doc.page} of 1")
    canvas.setFont("Helvetica", 6.5)
    canvas.drawString(
        left, 0.4 * inch, "Sample document generated by qwenvl-agents. All names and numbers are fictitious."
    )
    canvas.restoreState()


def invoice_en() -> RenderedSample:
    subtotal, tax, total = _en_totals()
    built = build_pdf(
        _en_story(),
        pagesize=LETTER,
        margins=(0.75 * inch, 0.75 * inch, 0.7 * inch, 1.0 * inch),
        title=f"Invoice {EN_NUMBER}",
        author=EN_SELLER,
        subject=f"Invoice {EN_NUMBER} for {EN_BUYER}",
        on_page=_en_footer,
    )
    facts = {
        "invoice_number": EN_NUMBER,
        "vendor": EN_SELLER,
        "buyer": EN_BUYER,
        "issue_date": EN_ISSUE,
        "due_date": EN_DUE,
        "currency": EN_CURRENCY,
        "po_number": EN_PO,
        "subtotal": money(subtotal),
        "tax_rate": f"{EN_TAX_RATE * 100:.2f}%",
        "tax": money(tax),
        "total": money(total),
    }
    pipette = EN_ITEMS[1]
    questions = (
        QAPair(f"What is the total of invoice {EN_NUMBER}?", f"{EN_CURRENCY} {money(total)}", 1),
        QAPair(f"When is payment for invoice {EN_NUMBER} due?", EN_DUE, 1),
        QAPair(f"Who issued invoice {EN_NUMBER}?", EN_SELLER, 1),
        QAPair(f"How much sales tax is charged on invoice {EN_NUMBER}?", money(tax), 1),
        QAPair(f"What is the unit price of the digital pipette on invoice {EN_NUMBER}?", money(pipette.unit_price), 1),
    )
    return RenderedSample(
        filename="invoice-en.pdf",
        data=built.data,
        kind="invoice",
        language="en",
        page_count=built.page_count,
        title=f"Invoice {EN_NUMBER} from {EN_SELLER}",
        facts=facts,
        questions=questions,
    )
