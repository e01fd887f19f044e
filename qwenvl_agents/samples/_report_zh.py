"""The Simplified Chinese report: two A4 pages with headings, paragraphs and captioned tables."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Table

from qwenvl_agents.samples._fonts import FontFile
from qwenvl_agents.samples._model import QAPair, RenderedSample
from qwenvl_agents.samples._numbers import percent
from qwenvl_agents.samples._pdf import anchor, build_pdf, register_cjk_font, table_style

_INK = colors.HexColor("#1f2a24")
_GREY = colors.HexColor("#6a736d")


ZH_ORG = "澄湖市城市交通服务中心"
ZH_TITLE = "澄湖市公共自行车系统2025年度运营报告"
ZH_DATE = "2026年1月15日"
# (district, stations, bikes, rides in 10k trips)
ZH_DISTRICTS: tuple[tuple[str, int, int, Decimal], ...] = (
    ("东湖区", 186, 4_650, Decimal("512.4")),
    ("西城区", 142, 3_520, Decimal("386.9")),
    ("南港区", 97, 2_410, Decimal("241.3")),
    ("北山区", 65, 1_380, Decimal("118.6")),
)
# (quarter, rides in 10k trips, bikes in good repair, dispatch response in minutes)
ZH_QUARTERS: tuple[tuple[str, Decimal, str, int], ...] = (
    ("第一季度", Decimal("238.5"), "97.1%", 21),
    ("第二季度", Decimal("342.7"), "97.8%", 17),
    ("第三季度", Decimal("371.6"), "97.5%", 16),
    ("第四季度", Decimal("306.4"), "98.0%", 18),
)
ZH_SATISFACTION = "92.4"
ZH_NEW_STATIONS = "60个"

_BLUE = colors.HexColor("#1d4f7a")
_BLUE_PALE = colors.HexColor("#eaf1f7")


def _zh_story(font: str) -> list[Flowable]:
    body = ParagraphStyle(
        "zh_body",
        fontName=font,
        fontSize=10.5,
        leading=18,
        firstLineIndent=21,
        wordWrap="CJK",
        spaceAfter=6,
        textColor=_INK,
    )
    title = ParagraphStyle(
        "zh_title", body, fontSize=19, leading=26, alignment=TA_CENTER, firstLineIndent=0, spaceAfter=4
    )
    byline = ParagraphStyle(
        "zh_byline", body, fontSize=10, alignment=TA_CENTER, firstLineIndent=0, textColor=_GREY, spaceAfter=14
    )
    h1 = ParagraphStyle(
        "zh_h1", body, fontSize=13, leading=20, firstLineIndent=0, spaceBefore=10, spaceAfter=6, textColor=_BLUE
    )
    caption = ParagraphStyle(
        "zh_caption", body, fontSize=10, alignment=TA_CENTER, firstLineIndent=0, spaceBefore=4, spaceAfter=4
    )
    note = ParagraphStyle(
        "zh_note", body, fontSize=8.5, leading=12, firstLineIndent=0, textColor=_GREY, spaceBefore=4, spaceAfter=10
    )
    width = A4[0] - 50 * mm - 12

    stations = sum(d[1] for d in ZH_DISTRICTS)
    bikes = sum(d[2] for d in ZH_DISTRICTS)
    rides = sum((d[3] for d in ZH_DISTRICTS), Decimal(0))
    daily = (rides / 365).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    rows: list[list[Any]] = [["区", "站点数（个）", "车辆数（辆）", "骑行量（万人次）", "占全市比例"]]
    for name, st, bk, rd in ZH_DISTRICTS:
        rows.append([name, str(st), f"{bk:,}", str(rd), percent(rd * 100 / rides)])
    rows.append(["全市合计", str(stations), f"{bikes:,}", f"{rides:,}", "100.0%"])
    districts = Table(rows, colWidths=[width * 0.2] * 5, style=table_style(_BLUE, _BLUE_PALE, font, font, 10))

    q_rows: list[list[Any]] = [["季度", "骑行量（万人次）", "车辆完好率", "平均调度响应（分钟）"]]
    q_rows += [[q, str(r), ok, str(minutes)] for q, r, ok, minutes in ZH_QUARTERS]
    q_rows.append(["全年", f"{sum((q[1] for q in ZH_QUARTERS), Decimal(0)):,}", "97.6%", "18"])
    quarters = Table(q_rows, colWidths=[width * 0.25] * 4, style=table_style(_BLUE, _BLUE_PALE, font, font, 10))

    return [
        Paragraph(ZH_TITLE, title),
        Paragraph(f"发布单位：{ZH_ORG}　　发布日期：{ZH_DATE}", byline),
        Paragraph("一、总体情况", h1),
        anchor(
            Paragraph(
                f"2025年，我市公共自行车系统运行平稳，服务规模和使用效率稳步提升。截至2025年12月31日，全市共建成"
                f"公共自行车站点{stations}个，投放车辆{bikes:,}辆；全年累计骑行{rides:,}万人次，日均骑行约{daily}万人次，"
                "同比增长8.7%。公共自行车与地铁、公交的接驳作用进一步显现，约62%的骑行起点或终点位于地铁站300米范围内。",
                body,
            ),
            "summary",
        ),
        Paragraph(
            "全年新增站点38个、更新车辆1,500辆，重点补齐了南港区新城片区和北山区大学城周边的站点空白。"
            "系统全面支持手机扫码借还车，实体卡借车占比已降至7.3%。",
            body,
        ),
        Paragraph("二、各区运营数据", h1),
        Paragraph(
            "各区站点、车辆及骑行量情况见表1。东湖区站点密度最高、客流最集中，骑行量占全市四成以上；"
            "北山区受地形起伏影响，骑行量相对较低，但大学城站点投用后第四季度环比增长21.5%。",
            body,
        ),
        KeepTogether(
            [
                Paragraph("表1：2025年各区公共自行车运营数据", caption),
                anchor(districts, "table1"),
                Paragraph("注：骑行量按成功借还车记录统计，借车后2分钟内归还的记录不计入。", note),
            ]
        ),
        Paragraph(
            "从时段分布看，工作日早高峰（7:00—9:00）和晚高峰（17:00—19:00）骑行量合计占全天的46%；"
            "节假日骑行高峰集中在环湖绿道沿线站点，其中湖滨公园站全年借车量达21.8万人次，居全市首位。",
            body,
        ),
        Paragraph("三、服务质量", h1),
        anchor(
            Paragraph(
                "全年车辆完好率保持在97%以上，平均调度响应时间为18分钟，较上年缩短4分钟。全年受理市民咨询与投诉"
                f"3,126件，办结率100%；第三方满意度测评得分{ZH_SATISFACTION}分，较上年提高1.8分。各季度服务指标见表2。",
                body,
            ),
            "quality",
        ),
        KeepTogether(
            [
                Paragraph("表2：2025年各季度服务指标", caption),
                anchor(quarters, "table2"),
                Paragraph("注：车辆完好率为季度内每日巡检结果的平均值。", note),
            ]
        ),
        Paragraph(
            "第三季度为全年骑行高峰，受暑期及环湖音乐节带动，8月单月骑行量达到134.2万人次。第一季度受春节假期"
            "及持续低温天气影响，骑行量为全年最低。",
            body,
        ),
        Paragraph("四、安全与管理", h1),
        Paragraph(
            "全年开展车辆安全专项检查4次，更换刹车组件2,340套、车铃1,120个；在12个事故多发路口设置提示标识。"
            "全年发生涉及公共自行车的一般交通事故9起，无重大事故。车辆被盗及严重损坏共计86辆，较上年下降31%。",
            body,
        ),
        Paragraph("五、2026年工作计划", h1),
        anchor(
            Paragraph(
                f"2026年，中心将计划新增站点{ZH_NEW_STATIONS}，重点覆盖地铁5号线沿线；更新车辆2,000辆，并在东湖区试点"
                "电子围栏还车，预计年底前在全市推广。同时将开通夜间骑行时段延长服务，运营时间调整为每日5:30至次日0:30。",
                body,
            ),
            "plan",
        ),
        Paragraph(
            "中心将继续以市民出行需求为导向，提升车辆调度的精准度和站点服务水平，为建设绿色低碳城市交通体系"
            "提供有力支撑。",
            body,
        ),
    ]


def _zh_page(font: str) -> Any:
    def decorate(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8.5)
        canvas.setFillColor(_GREY)
        if doc.page > 1:
            canvas.drawString(25 * mm, A4[1] - 15 * mm, ZH_TITLE)
            canvas.setStrokeColor(_BLUE)
            canvas.setLineWidth(0.5)
            canvas.line(25 * mm, A4[1] - 16.5 * mm, A4[0] - 25 * mm, A4[1] - 16.5 * mm)
        canvas.drawCentredString(A4[0] / 2, 14 * mm, f"— {doc.page} —")
        canvas.setFont(font, 7)
        canvas.drawString(25 * mm, 9 * mm, "本报告为 qwenvl-agents 生成的演示样例，所涉机构、地名与数据均为虚构。")
        canvas.restoreState()

    return decorate


def report_zh(cjk: FontFile) -> RenderedSample:
    font = register_cjk_font(cjk)
    built = build_pdf(
        _zh_story(font),
        pagesize=A4,
        margins=(25 * mm, 25 * mm, 22 * mm, 22 * mm),
        title=ZH_TITLE,
        author=ZH_ORG,
        subject="2025年度公共自行车运营情况",
        on_page=_zh_page(font),
        lang="zh-CN",
    )
    stations = sum(d[1] for d in ZH_DISTRICTS)
    bikes = sum(d[2] for d in ZH_DISTRICTS)
    rides = sum((d[3] for d in ZH_DISTRICTS), Decimal(0))
    top = max(ZH_DISTRICTS, key=lambda d: d[3])
    facts = {
        "organization": ZH_ORG,
        "title": ZH_TITLE,
        "publication_date": ZH_DATE,
        "station_count": str(stations),
        "bike_count": f"{bikes:,}",
        "total_rides_10k": f"{rides:,}",
        "busiest_district": top[0],
        "busiest_district_rides_10k": str(top[3]),
        "satisfaction_score": ZH_SATISFACTION,
    }
    a = built.anchors
    questions = (
        QAPair("澄湖市公共自行车2025年全年累计骑行多少人次？", f"{rides:,}万人次", a["summary"]),
        QAPair("2025年澄湖市哪个区的公共自行车骑行量最高？", top[0], a["table1"]),
        QAPair("澄湖市公共自行车2025年第三季度骑行量是多少万人次？", str(ZH_QUARTERS[2][1]), a["table2"]),
        QAPair("澄湖市公共自行车2025年满意度测评得分是多少？", f"{ZH_SATISFACTION}分", a["quality"]),
        QAPair("澄湖市2026年计划新增多少个公共自行车站点？", ZH_NEW_STATIONS, a["plan"]),
    )
    return RenderedSample(
        filename="report-zh.pdf",
        data=built.data,
        kind="report",
        language="zh",
        page_count=built.page_count,
        title=ZH_TITLE,
        facts=facts,
        questions=questions,
    )
