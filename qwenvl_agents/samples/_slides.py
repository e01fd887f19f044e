"""The two slide decks: an English operations review and a Chinese store-performance briefing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pptx.enum.chart import XL_CHART_TYPE

from qwenvl_agents.samples._model import QAPair, RenderedSample
from qwenvl_agents.samples._numbers import growth, thousands
from qwenvl_agents.samples._pptx import EN_THEME, ZH_THEME, Deck

# ---------------------------------------------------------------------------------------------------
# English deck
# ---------------------------------------------------------------------------------------------------

EN_COMPANY = "Harborview Logistics"
EN_TITLE = "Q1 2026 Operations Review"
EN_DATE = "2026-04-08"
EN_MONTHS = ("Jan", "Feb", "Mar")
EN_SHIPMENTS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("North America", (41_200, 39_850, 44_310)),
    ("Europe", (28_940, 27_615, 31_002)),
    ("Asia-Pacific", (19_480, 18_230, 21_905)),
    ("Latin America", (6_115, 5_870, 6_742)),
)
EN_REVENUE = {
    "2025": (Decimal("10.8"), Decimal("10.5"), Decimal("11.6")),
    "2026": (Decimal("12.4"), Decimal("11.9"), Decimal("13.7")),
}
EN_ON_TIME = "96.4%"
EN_COST = "$18.72"


def slides_en() -> RenderedSample:
    deck = Deck(EN_THEME, f"{EN_COMPANY}  |  {EN_TITLE}  |  Confidential")
    deck.title_slide(
        EN_TITLE,
        f"{EN_COMPANY}\nBoard meeting, {EN_DATE}",
        notes="Welcome the board; the pre-read went out on 2026-04-01 and the numbers are unchanged since then.",
    )
    highlights = [
        f"On-time delivery reached {EN_ON_TIME}, up from 93.1% in Q4 2025",
        f"Average cost per shipment fell 4.2% to {EN_COST}",
        "Rotterdam cross-dock opened on 2026-02-16, two weeks ahead of plan",
        "Customer NPS rose to 58 (+6 points)",
        "Two lost-time safety incidents, down from five in Q4 2025",
    ]
    deck.bullet_slide(
        "Q1 2026 highlights",
        highlights,
        notes=(
            "Most of the on-time gain came from the routing software rolled out on January 12; Rotterdam "
            "only contributed from March. Expect questions on the safety incidents: both were forklift "
            "near-misses at the Newark depot."
        ),
    )
    totals = [sum(values[i] for _, values in EN_SHIPMENTS) for i in range(3)]
    q1_total = sum(totals)
    rows = [["Region", *EN_MONTHS, "Q1 total"]]
    rows += [[region, *(thousands(v) for v in values), thousands(sum(values))] for region, values in EN_SHIPMENTS]
    rows.append(["All regions", *(thousands(v) for v in totals), thousands(q1_total)])
    deck.table_slide(
        "Shipments by region, Q1 2026",
        rows,
        caption="Shipments counted at dispatch; returns excluded.",
        notes="Europe's March figure includes the first two weeks of Rotterdam cross-dock volume.",
    )
    revenue_2025 = sum(EN_REVENUE["2025"], Decimal(0))
    revenue_2026 = sum(EN_REVENUE["2026"], Decimal(0))
    change = growth(revenue_2026, revenue_2025)
    revenue_caption = (
        f"Q1 2026 revenue: USD {revenue_2026} million, {change} above Q1 2025 (USD {revenue_2025} million)"
    )
    deck.chart_slide(
        "Revenue by month (USD millions)",
        XL_CHART_TYPE.COLUMN_CLUSTERED,
        EN_MONTHS,
        [(year, [float(v) for v in values]) for year, values in EN_REVENUE.items()],
        number_format="0.0",
        caption=revenue_caption,
        notes="February is always the softest month: fewer working days and the Lunar New Year lull in Asia.",
    )
    deck.bullet_slide(
        "Priorities for Q2 2026",
        [
            "Open the Monterrey cross-dock by 2026-05-20",
            "Bring average dwell time in Rotterdam below 9 hours",
            "Hire 40 drivers for the Asia-Pacific network",
            "Renegotiate the ocean-freight contract before it expires on 2026-06-30",
        ],
        notes="Ask the board to approve the Monterrey lease (USD 2.3 million over five years) today.",
    )
    data = deck.save(
        title=f"{EN_COMPANY} {EN_TITLE}",
        author="Harborview Logistics Strategy Office",
        subject=EN_TITLE,
        when=datetime(2026, 4, 7, 9, 30, 0),
        language="en-US",
    )
    europe = next(values for region, values in EN_SHIPMENTS if region == "Europe")
    facts = {
        "company": EN_COMPANY,
        "title": EN_TITLE,
        "date": EN_DATE,
        "on_time_delivery": EN_ON_TIME,
        "cost_per_shipment": EN_COST,
        "q1_shipments_total": thousands(q1_total),
        "europe_q1_shipments": thousands(sum(europe)),
        "q1_revenue_musd": str(revenue_2026),
        "revenue_growth": change,
    }
    questions = (
        QAPair(f"What on-time delivery rate did {EN_COMPANY} report for Q1 2026?", EN_ON_TIME, 2),
        QAPair(f"How many shipments did {EN_COMPANY} dispatch in Europe in Q1 2026?", thousands(sum(europe)), 3),
        QAPair(f"What was {EN_COMPANY}'s revenue in Q1 2026?", f"USD {revenue_2026} million", 4),
        QAPair(f"What was {EN_COMPANY}'s revenue in March 2026, in USD millions?", str(EN_REVENUE["2026"][2]), 4),
        QAPair(f"When should {EN_COMPANY}'s Monterrey cross-dock open?", "2026-05-20", 5),
    )
    return RenderedSample(
        filename="slides-en.pptx",
        data=data,
        kind="slides",
        language="en",
        page_count=len(deck.prs.slides),
        title=f"{EN_COMPANY}: {EN_TITLE}",
        facts=facts,
        questions=questions,
    )


# ---------------------------------------------------------------------------------------------------
# Chinese deck
# ---------------------------------------------------------------------------------------------------

ZH_COMPANY = "山岚茶饮"
ZH_TITLE = "2026年第一季度门店经营简报"
ZH_DATE = "2026年4月10日"
# (city, stores, revenue in 10k yuan this year, same quarter last year)
ZH_CITIES: tuple[tuple[str, int, int, int], ...] = (
    ("杭州", 48, 1_925, 1_648),
    ("上海", 37, 1_478, 1_216),
    ("苏州", 24, 846, 722),
    ("南京", 17, 613, 515),
)
ZH_CHANNELS: tuple[tuple[str, int], ...] = (("小程序", 61), ("门店点单", 24), ("外卖平台", 15))
ZH_NEW_PRODUCT_CUPS = "38.6万杯"


def slides_zh() -> RenderedSample:
    deck = Deck(ZH_THEME, f"{ZH_COMPANY}  |  {ZH_TITLE}")
    stores = sum(c[1] for c in ZH_CITIES)
    revenue = sum(c[2] for c in ZH_CITIES)
    revenue_last = sum(c[3] for c in ZH_CITIES)
    change = growth(Decimal(revenue), Decimal(revenue_last))
    deck.title_slide(ZH_TITLE, f"{ZH_COMPANY} · 运营管理部 · {ZH_DATE}")
    deck.bullet_slide(
        "本季度要点",
        [
            f"门店总数达到{stores}家，本季度新开9家",
            f"一季度营业额{thousands(revenue)}万元，同比增长{change}",
            f"小程序订单占比提升至{ZH_CHANNELS[0][1]}%",
            f"春季新品“桂花乌龙拿铁”累计售出{ZH_NEW_PRODUCT_CUPS}",
        ],
        notes="上海增速最高，主要来自3月新开的4家地铁站店；苏州两家老店因商场装修闭店两周。",
    )
    rows = [["城市", "门店数", "营业额（万元）", "同比增长"]]
    rows += [[city, str(n), thousands(rev), growth(Decimal(rev), Decimal(last))] for city, n, rev, last in ZH_CITIES]
    rows.append(["合计", str(stores), thousands(revenue), change])
    deck.table_slide("分城市经营数据", rows, caption="营业额为含税口径，不含加盟店。")
    deck.chart_slide(
        "订单渠道占比",
        XL_CHART_TYPE.PIE,
        [name for name, _ in ZH_CHANNELS],
        [("订单占比", [share / 100 for _, share in ZH_CHANNELS])],
        number_format="0%",
        notes="外卖平台占比较上季度下降4个百分点，佣金支出相应减少约62万元。",
    )
    data = deck.save(
        title=f"{ZH_COMPANY}{ZH_TITLE}",
        author=f"{ZH_COMPANY}运营管理部",
        subject=ZH_TITLE,
        when=datetime(2026, 4, 9, 18, 0, 0),
        language="zh-CN",
    )
    shanghai = ZH_CITIES[1]
    facts = {
        "company": ZH_COMPANY,
        "title": ZH_TITLE,
        "date": ZH_DATE,
        "store_count": str(stores),
        "revenue_10k_cny": thousands(revenue),
        "revenue_growth": change,
        "shanghai_revenue_10k_cny": thousands(shanghai[2]),
        "mini_program_share": f"{ZH_CHANNELS[0][1]}%",
    }
    questions = (
        QAPair(f"{ZH_COMPANY}2026年第一季度营业额是多少？", f"{thousands(revenue)}万元", 2),
        QAPair(f"{ZH_COMPANY}一季度末共有多少家门店？", f"{stores}家", 2),
        QAPair(
            f"{ZH_COMPANY}上海门店一季度营业额同比增长多少？", growth(Decimal(shanghai[2]), Decimal(shanghai[3])), 3
        ),
        QAPair(f"{ZH_COMPANY}一季度小程序订单占比是多少？", f"{ZH_CHANNELS[0][1]}%", 4),
    )
    return RenderedSample(
        filename="slides-zh.pptx",
        data=data,
        kind="slides",
        language="zh",
        page_count=len(deck.prs.slides),
        title=f"{ZH_COMPANY}：{ZH_TITLE}",
        facts=facts,
        questions=questions,
    )
