"""The English report: three Letter pages with headings, captioned tables and a bar chart."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Table

from qwenvl_agents.samples._model import QAPair, RenderedSample
from qwenvl_agents.samples._numbers import percent
from qwenvl_agents.samples._pdf import anchor, build_pdf, esc, table_style

_HOURS_PER_YEAR = 8760


EN_ORG = "Greenfield Solar Cooperative"
EN_TITLE = "2025 Annual Performance Report"
EN_DATE = "2026-02-20"
# (site, commissioned, capacity kW, generation MWh)
EN_SITES: tuple[tuple[str, int, int, int], ...] = (
    ("Hollis Farm array", 2019, 4_800, 7_412),
    ("Marsh Road rooftops", 2020, 1_250, 1_598),
    ("Quarry Hill", 2022, 6_200, 10_187),
    ("Eastbrook School carport", 2023, 850, 1_102),
)
EN_QUARTERS: tuple[tuple[str, int], ...] = (("Q1", 3_612), ("Q2", 6_148), ("Q3", 6_905), ("Q4", 3_634))
# USD thousands; the surplus line and the transfer to reserves are derived so the table always adds up.
EN_INCOME: tuple[tuple[str, int], ...] = (
    ("Energy sales to Valley Electric", 2_436),
    ("Renewable energy certificates", 312),
)
EN_EXPENSES: tuple[tuple[str, int], ...] = (
    ("Operations and maintenance", 618),
    ("Insurance and land leases", 300),
    ("Debt service", 640),
)
EN_DISTRIBUTIONS: tuple[tuple[str, int], ...] = (("Member dividends", 512), ("Community fund grants", 50))
EN_MEMBERS = "1,842"
EN_AVAILABILITY = "98.7%"

_GREEN = colors.HexColor("#2f6b3a")
_GREEN_PALE = colors.HexColor("#edf4ee")
_INK = colors.HexColor("#1f2a24")
_GREY = colors.HexColor("#6a736d")


def _capacity_factor(capacity_kw: int, generation_mwh: int) -> str:
    return percent(Decimal(generation_mwh * 1000 * 100) / Decimal(capacity_kw * _HOURS_PER_YEAR))


def _en_numbers() -> dict[str, Any]:
    capacity = sum(s[2] for s in EN_SITES)
    generation = sum(s[3] for s in EN_SITES)
    income = sum(v for _, v in EN_INCOME)
    expenses = sum(v for _, v in EN_EXPENSES)
    surplus = income - expenses
    reserves = surplus - sum(v for _, v in EN_DISTRIBUTIONS)
    top = max(EN_SITES, key=lambda s: s[3])
    return {
        "capacity": capacity,
        "generation": generation,
        "fleet_cf": _capacity_factor(capacity, generation),
        "income": income,
        "expenses": expenses,
        "surplus": surplus,
        "reserves": reserves,
        "top": top,
    }


def _en_styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName="Times-Roman", fontSize=11, leading=15.2, spaceAfter=7, textColor=_INK)
    return {
        "body": body,
        "kicker": ParagraphStyle(
            "kicker", body, fontName="Helvetica-Bold", fontSize=10, textColor=_GREEN, spaceAfter=4
        ),
        "title": ParagraphStyle("title", body, fontName="Helvetica-Bold", fontSize=24, leading=29, spaceAfter=6),
        "byline": ParagraphStyle("byline", body, fontName="Helvetica", fontSize=10, textColor=_GREY, spaceAfter=16),
        "h1": ParagraphStyle(
            "h1",
            body,
            fontName="Helvetica-Bold",
            fontSize=14,
            leading=18,
            spaceBefore=12,
            spaceAfter=6,
            textColor=_GREEN,
        ),
        "caption": ParagraphStyle(
            "caption", body, fontName="Helvetica-Bold", fontSize=9.5, leading=12, spaceBefore=4, spaceAfter=5
        ),
        "note": ParagraphStyle(
            "note", body, fontName="Helvetica", fontSize=8.5, leading=11, textColor=_GREY, spaceBefore=3, spaceAfter=10
        ),
        "cell": ParagraphStyle("cell", body, fontName="Helvetica", fontSize=9.5, leading=12, spaceAfter=0),
    }


def _figure(values: tuple[tuple[str, int], ...], width: float) -> Drawing:
    drawing = Drawing(width, 170)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 45, 25, width - 70, 130
    chart.data = [[v for _, v in values]]
    chart.categoryAxis.categoryNames = [f"{q} 2025" for q, _ in values]
    chart.categoryAxis.labels.fontName = "Helvetica"
    chart.categoryAxis.labels.fontSize = 9
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = 8000
    chart.valueAxis.valueStep = 2000
    chart.valueAxis.labels.fontName = "Helvetica"
    chart.valueAxis.labels.fontSize = 8.5
    chart.valueAxis.labelTextFormat = lambda v: f"{int(v):,}"
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = colors.HexColor("#d5dcd7")
    chart.bars[0].fillColor = _GREEN
    chart.bars[0].strokeColor = None
    chart.barWidth = 10
    chart.groupSpacing = 14
    chart.barLabelFormat = lambda v: f"{int(v):,}"
    chart.barLabels.nudge = 8
    chart.barLabels.fontName = "Helvetica-Bold"
    chart.barLabels.fontSize = 9
    drawing.add(chart)
    return drawing


def _en_story() -> list[Flowable]:
    s = _en_styles()
    n = _en_numbers()
    width = LETTER[0] - 2 * inch - 12
    top_name, _, top_cap, top_gen = n["top"]
    gen, cap = f"{n['generation']:,}", f"{n['capacity']:,}"

    site_rows: list[list[Any]] = [
        ["Site", "In service\nsince", "Capacity\n(kW)", "Generation\n(MWh)", "Capacity\nfactor", "Share of\noutput"]
    ]
    for name, year, kw, mwh in EN_SITES:
        share = percent(Decimal(mwh * 100) / Decimal(n["generation"]))
        site_rows.append([name, str(year), f"{kw:,}", f"{mwh:,}", _capacity_factor(kw, mwh), share])
    site_rows.append(["All sites", "", cap, gen, n["fleet_cf"], "100.0%"])
    sites = Table(
        site_rows,
        colWidths=[width * 0.3] + [width * 0.14] * 5,
        style=table_style(_GREEN, _GREEN_PALE, "Helvetica", "Helvetica-Bold", 9.5),
    )

    money_rows: list[list[Any]] = [["Item", "2025 (USD thousands)"]]
    money_rows += [[label, f"{v:,}"] for label, v in EN_INCOME]
    money_rows.append(["Total income", f"{n['income']:,}"])
    money_rows += [[label, f"({v:,})"] for label, v in EN_EXPENSES]
    money_rows.append(["Operating surplus", f"{n['surplus']:,}"])
    money_rows += [[label, f"({v:,})"] for label, v in EN_DISTRIBUTIONS]
    money_rows.append(["Transfer to reserves", f"{n['reserves']:,}"])
    finance_style = table_style(_GREEN, _GREEN_PALE, "Helvetica", "Helvetica-Bold", 9.5)
    for row in (len(EN_INCOME) + 1, len(EN_INCOME) + len(EN_EXPENSES) + 2):
        finance_style.add("FONT", (0, row), (-1, row), "Helvetica-Bold", 9.5)
        finance_style.add("LINEABOVE", (0, row), (-1, row), 0.5, _GREY)
    finance = Table(money_rows, colWidths=[width * 0.62, width * 0.3], style=finance_style, hAlign="LEFT")

    income_share = percent(Decimal(EN_INCOME[0][1] * 100) / Decimal(n["income"]), "1")
    p = s["body"]
    story: list[Flowable] = [
        Paragraph(esc(EN_ORG.upper()), s["kicker"]),
        Paragraph(EN_TITLE, s["title"]),
        Paragraph(
            f"Published {EN_DATE}  ·  Prepared by the Operations Committee for the annual general meeting", s["byline"]
        ),
        Paragraph("1. Executive summary", s["h1"]),
        anchor(
            Paragraph(
                f"In 2025 the four sites of the {EN_ORG} generated <b>{gen} MWh</b> of electricity from {cap} kW of "
                f"installed capacity, a fleet capacity factor of {n['fleet_cf']}. Output was 3.9% higher than in 2024, "
                "mainly because Quarry Hill ran its first full year without curtailment after the grid connection "
                "was upgraded in November 2024. Every megawatt-hour was sold to Valley Electric under the "
                "fifteen-year power purchase agreement signed in 2019.",
                p,
            ),
            "summary",
        ),
        Paragraph(
            f"Total income reached USD {n['income']:,} thousand and the operating surplus USD {n['surplus']:,} "
            f"thousand. The board proposes a member dividend of USD 512 thousand, the highest in the "
            f"cooperative's history, and a transfer of USD {n['reserves']:,} thousand to the equipment "
            "reserve that will part-fund the battery planned at Hollis Farm.",
            p,
        ),
        Paragraph("2. Portfolio and generation", s["h1"]),
        Paragraph(
            "The cooperative owns and operates four solar installations in the county. Table 1 lists each "
            "site with its nameplate capacity, its 2025 output and its capacity factor, which is the energy "
            "produced divided by what the site would have produced running at full power for all "
            f"{_HOURS_PER_YEAR:,} hours of the year.",
            p,
        ),
        KeepTogether(
            [
                Paragraph("Table 1. Installed capacity and electricity generation by site, 2025", s["caption"]),
                anchor(sites, "table1"),
                Paragraph(
                    "Capacity is DC nameplate capacity. Generation is metered at the point of connection.", s["note"]
                ),
            ]
        ),
        Paragraph(
            f"{top_name} remains the largest and best-performing site: with {top_cap:,} kW it produced "
            f"{top_gen:,} MWh, just over half of the cooperative's output. Its single-axis trackers follow "
            "the sun through the day, which explains most of the difference in capacity factor against the "
            "fixed-tilt rooftops at Marsh Road and the carport at Eastbrook School.",
            p,
        ),
        Paragraph(
            "Generation followed the usual seasonal pattern (Figure 1). The third quarter was the strongest "
            "on record; the first quarter was held back by snow cover on 23 days in January and February, "
            "when the arrays produced almost nothing until the panels were cleared.",
            p,
        ),
        KeepTogether(
            [
                _figure(EN_QUARTERS, width),
                Paragraph("Figure 1. Quarterly electricity generation, all sites, 2025 (MWh)", s["caption"]),
            ]
        ),
        Paragraph("3. Availability and maintenance", s["h1"]),
        anchor(
            Paragraph(
                f"Fleet availability, the share of daylight hours in which the equipment was ready to generate, "
                f"was {EN_AVAILABILITY} against a target of 98.0%. The largest single outage followed the failure "
                "of a central inverter at Marsh Road on 2025-06-14; the replacement unit was installed on "
                "2025-06-27 and the site lost an estimated 41 MWh during the thirteen days.",
                p,
            ),
            "availability",
        ),
        Paragraph(
            "Routine maintenance included two panel-cleaning rounds at every site, thermal imaging of all "
            "strings in April, and vegetation management at Hollis Farm, where a flock of 120 sheep from a "
            "neighbouring farm now grazes between the rows from May to September.",
            p,
        ),
        Paragraph(
            "The performance ratio, which compares metered output with what the measured sunlight should have "
            "produced, averaged 81.4% across the fleet. Panel degradation at Hollis Farm, the oldest site, is "
            "running at 0.45% a year, within the manufacturer's warranty of 0.55%.",
            p,
        ),
        Paragraph("4. Finances", s["h1"]),
        Paragraph(
            f"Energy sales to Valley Electric provided {income_share} of income; the remainder came from the "
            "sale of renewable energy certificates. Table 2 summarises income and expenditure. Figures in "
            "brackets are outgoings.",
            p,
        ),
        KeepTogether(
            [
                Paragraph("Table 2. Summary of income and expenditure, 2025 (USD thousands)", s["caption"]),
                anchor(finance, "table2"),
                Paragraph("Unaudited. The audited accounts will be published with the AGM papers.", s["note"]),
            ]
        ),
        Paragraph(
            "Debt service fell for the third year in a row as the 2019 construction loan amortises; the loan "
            "will be fully repaid in 2029. Insurance premiums rose by 11%, in line with the wider market for "
            "renewable energy assets.",
            p,
        ),
        Paragraph("5. Members and community", s["h1"]),
        anchor(
            Paragraph(
                f"The cooperative had <b>{EN_MEMBERS} members</b> at the end of 2025, 214 more than a year earlier. "
                "The community fund awarded grants totalling USD 50 thousand to twelve local projects, among them "
                "an energy-efficiency programme for the Eastbrook village hall and a solar science kit for every "
                "primary school in the county.",
                p,
            ),
            "members",
        ),
        Paragraph("6. Outlook for 2026", s["h1"]),
        anchor(
            Paragraph(
                "A 2 MW / 8 MWh battery at Hollis Farm is scheduled for commissioning in <b>Q3 2026</b>. It will "
                "let the cooperative shift midday output into the evening peak, when Valley Electric pays a "
                "higher tariff. Generation in 2026 is forecast at 20,900 MWh, assuming average weather.",
                p,
            ),
            "outlook",
        ),
    ]
    return story


def _en_page(canvas: Any, doc: Any) -> None:
    canvas.saveState()
    canvas.setFont("Helvetica", 8.5)
    canvas.setFillColor(_GREY)
    if doc.page > 1:
        canvas.drawString(inch, LETTER[1] - 0.6 * inch, f"{EN_ORG}  ·  {EN_TITLE}")
        canvas.setStrokeColor(_GREEN)
        canvas.setLineWidth(0.5)
        canvas.line(inch, LETTER[1] - 0.66 * inch, LETTER[0] - inch, LETTER[1] - 0.66 * inch)
    canvas.drawRightString(LETTER[0] - inch, 0.6 * inch, f"Page {doc.page}")
    canvas.setFont("Helvetica", 7)
    canvas.drawString(
        inch, 0.6 * inch, "Sample document generated by qwenvl-agents. All names and numbers are fictitious."
    )
    canvas.restoreState()


def report_en() -> RenderedSample:
    built = build_pdf(
        _en_story(),
        pagesize=LETTER,
        margins=(inch, inch, 0.9 * inch, 0.9 * inch),
        title=f"{EN_ORG}: {EN_TITLE}",
        author=EN_ORG,
        subject="Generation, availability, finances and membership in 2025",
        on_page=_en_page,
    )
    n = _en_numbers()
    top_name, _, _, top_gen = n["top"]
    quarry_cf = _capacity_factor(EN_SITES[2][2], EN_SITES[2][3])
    facts = {
        "organization": EN_ORG,
        "title": EN_TITLE,
        "publication_date": EN_DATE,
        "total_generation_mwh": f"{n['generation']:,}",
        "total_capacity_kw": f"{n['capacity']:,}",
        "fleet_capacity_factor": n["fleet_cf"],
        "largest_site": top_name,
        "largest_site_generation_mwh": f"{top_gen:,}",
        "energy_sales_kusd": f"{EN_INCOME[0][1]:,}",
        "total_income_kusd": f"{n['income']:,}",
        "members": EN_MEMBERS,
        "availability": EN_AVAILABILITY,
    }
    a = built.anchors
    questions = (
        QAPair(f"How much electricity did the {EN_ORG} generate in 2025?", f"{n['generation']:,} MWh", a["summary"]),
        QAPair("What was the capacity factor of the Quarry Hill site in 2025?", quarry_cf, a["table1"]),
        QAPair(f"Which {EN_ORG} site generated the most electricity in 2025?", top_name, a["table1"]),
        QAPair(
            f"How much did the {EN_ORG} earn from energy sales in 2025, in USD thousands?",
            f"{EN_INCOME[0][1]:,}",
            a["table2"],
        ),
        QAPair(f"How many members did the {EN_ORG} have at the end of 2025?", EN_MEMBERS, a["members"]),
        QAPair("When is the Hollis Farm battery scheduled to be commissioned?", "Q3 2026", a["outlook"]),
    )
    return RenderedSample(
        filename="report-en.pdf",
        data=built.data,
        kind="report",
        language="en",
        page_count=built.page_count,
        title=f"{EN_ORG}: {EN_TITLE}",
        facts=facts,
        questions=questions,
    )
