"""The Simplified Chinese invoice, laid out like China's electronic invoices, with an embedded CJK font."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Spacer, Table, TableStyle

from qwenvl_agents.samples._fonts import FontFile
from qwenvl_agents.samples._model import QAPair, RenderedSample
from qwenvl_agents.samples._numbers import money, round_cents
from qwenvl_agents.samples._pdf import LineItem, build_pdf, register_cjk_font

_GREY = colors.HexColor("#5f6b70")

ZH_NUMBER = "26332000000041873652"
ZH_ISSUE = "2026年02月27日"
ZH_SELLER = "杭州青禾数码科技有限公司"
ZH_SELLER_ID = "91330106MA2H7Q5L3C"
ZH_BUYER = "上海澄川文化传媒有限公司"
ZH_BUYER_ID = "91310115MA1K4R8N2W"
ZH_CURRENCY = "CNY"
ZH_TAX_RATE = Decimal("0.13")
ZH_ITEMS: tuple[LineItem, ...] = (
    LineItem("*计算机外部设备*无线键盘鼠标套装", 20, Decimal("149.00"), spec="K580", unit="套"),
    LineItem("*计算机外部设备*27英寸显示器", 8, Decimal("1299.00"), spec="P27Q", unit="台"),
    LineItem("*计算机外部设备*USB-C扩展坞", 15, Decimal("268.00"), spec="D12", unit="个"),
)
ZH_ISSUER = "王敏"

_RED = colors.HexColor("#9c3d2b")

_DIGITS = "零壹贰叁肆伍陆柒捌玖"


def _four_digits_upper(n: int) -> str:
    """Chinese financial numerals for 0 < n < 10000, with the zero rules of 大写 amounts."""
    units = ("仟", "佰", "拾", "")
    out: list[str] = []
    pending_zero = False
    for unit, digit in zip(units, f"{n:04d}", strict=True):
        d = int(digit)
        if d == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        out.append(_DIGITS[d] + unit)
    return "".join(out)


def amount_in_words_zh(amount: Decimal) -> str:
    """``19652.96`` -> ``壹万玖仟陆佰伍拾贰元玖角陆分``, as printed in the 价税合计（大写） box.

    Covers amounts below one hundred million yuan, which is all the samples need.
    """
    cents = int(round_cents(amount) * 100)
    if not 0 <= cents < 10**10:
        raise ValueError(f"amount out of range for the sample invoice: {amount}")
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    parts: list[str] = []
    if yuan >= 10000:
        parts.append(_four_digits_upper(yuan // 10000) + "万")
        rest = yuan % 10000
        if rest:
            parts.append(("零" if rest < 1000 else "") + _four_digits_upper(rest))
    elif yuan:
        parts.append(_four_digits_upper(yuan))
    text = "".join(parts)
    text = text + "元" if text else ""
    if jiao == 0 and fen == 0:
        return (text or "零元") + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif text:
        text += "零"
    if fen:
        text += _DIGITS[fen] + "分"
    return text


def _zh_totals() -> tuple[Decimal, Decimal, Decimal]:
    subtotal = sum((item.amount for item in ZH_ITEMS), Decimal(0))
    tax = sum((round_cents(item.amount * ZH_TAX_RATE) for item in ZH_ITEMS), Decimal(0))
    return subtotal, tax, subtotal + tax


# 240 x 140 mm is the page size of China's electronic invoices, which makes the sample look the part.
_ZH_PAGE = (240 * mm, 140 * mm)


def _zh_story(font: str) -> list[Flowable]:
    base = ParagraphStyle("zh", fontName=font, fontSize=8.5, leading=12, wordWrap="CJK")
    title = ParagraphStyle("zh_title", base, fontSize=17, leading=22, alignment=TA_CENTER, textColor=_RED)
    label = ParagraphStyle("zh_label", base, textColor=_RED)
    vlabel = ParagraphStyle("zh_vlabel", base, textColor=_RED, alignment=TA_CENTER, leading=11)
    right = ParagraphStyle("zh_right", base, alignment=TA_RIGHT)
    center = ParagraphStyle("zh_center", base, alignment=TA_CENTER)
    small = ParagraphStyle("zh_small", base, fontSize=6.5, leading=8, textColor=_GREY, alignment=TA_LEFT)
    subtotal, tax, total = _zh_totals()
    width = _ZH_PAGE[0] - 24 * mm - 12
    line = 0.7

    head = Table(
        [
            ["", Paragraph("电子发票（普通发票）", title), Paragraph(f"发票号码：{ZH_NUMBER}", base)],
            ["", "", Paragraph(f"开票日期：{ZH_ISSUE}", base)],
            ["", "", Paragraph("币种：人民币（CNY）", base)],
        ],
        colWidths=[width * 0.3, width * 0.4, width * 0.3],
        style=TableStyle(
            [
                ("SPAN", (1, 0), (1, -1)),
                ("VALIGN", (1, 0), (1, -1), "MIDDLE"),
                ("LINEBELOW", (1, 0), (1, -1), 1.5, _RED),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        ),
    )

    def vertical(text: str) -> Paragraph:
        return Paragraph("<br/>".join(text), vlabel)

    party_col = (width - 2 * 8 * mm) / 2
    parties = Table(
        [
            [
                vertical("购买方信息"),
                [
                    Paragraph(f"名称：{ZH_BUYER}", base),
                    Spacer(1, 4),
                    Paragraph(f"统一社会信用代码/纳税人识别号：{ZH_BUYER_ID}", base),
                ],
                vertical("销售方信息"),
                [
                    Paragraph(f"名称：{ZH_SELLER}", base),
                    Spacer(1, 4),
                    Paragraph(f"统一社会信用代码/纳税人识别号：{ZH_SELLER_ID}", base),
                ],
            ]
        ],
        colWidths=[8 * mm, party_col, 8 * mm, party_col],
        style=TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), line, _RED),
                ("LINEAFTER", (0, 0), (2, 0), line, _RED),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        ),
    )

    headers = ("项目名称", "规格型号", "单位", "数量", "单价", "金额", "税率/征收率", "税额")
    rows: list[list[Any]] = [[Paragraph(h, ParagraphStyle("h", label, alignment=TA_CENTER)) for h in headers]]
    for item in ZH_ITEMS:
        rows.append(
            [
                Paragraph(item.description, base),
                Paragraph(item.spec, center),
                Paragraph(item.unit, center),
                Paragraph(str(item.quantity), right),
                Paragraph(money(item.unit_price), right),
                Paragraph(money(item.amount), right),
                Paragraph(f"{ZH_TAX_RATE * 100:.0f}%", center),
                Paragraph(money(round_cents(item.amount * ZH_TAX_RATE)), right),
            ]
        )
    rows.append(
        [
            Paragraph("合计", label),
            "",
            "",
            "",
            "",
            Paragraph(f"¥{money(subtotal)}", right),
            "",
            Paragraph(f"¥{money(tax)}", right),
        ]
    )
    fixed = [22 * mm, 12 * mm, 16 * mm, 24 * mm, 26 * mm, 23 * mm, 24 * mm]
    items = Table(
        rows,
        colWidths=[width - sum(fixed), *fixed],
        style=TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), line, _RED),
                ("LINEABOVE", (0, -1), (-1, -1), line, _RED),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 4.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4.5),
            ]
        ),
    )

    in_words = amount_in_words_zh(total)
    grand = Table(
        [
            [
                Paragraph("价税合计（大写）", label),
                Paragraph(f"⊗{in_words}", base),
                Paragraph("（小写）", label),
                Paragraph(f"¥{money(total)}", base),
            ]
        ],
        colWidths=[32 * mm, width - 32 * mm - 22 * mm - 36 * mm, 22 * mm, 36 * mm],
        style=TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), line, _RED),
                ("LINEAFTER", (0, 0), (0, 0), line, _RED),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ]
        ),
    )
    remarks = Table(
        [
            [
                vertical("备注"),
                Paragraph(
                    "订单号：QH-20260219-0385；销售方开户银行：杭州银行文三支行，账号：3301 0401 6000 2718 55；"
                    "货物已于2026年02月25日送达购买方上海市闵行区仓库。",
                    base,
                ),
            ]
        ],
        colWidths=[8 * mm, width - 8 * mm],
        style=TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), line, _RED),
                ("LINEAFTER", (0, 0), (0, 0), line, _RED),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        ),
    )
    return [
        head,
        Spacer(1, 6),
        parties,
        items,
        grand,
        remarks,
        Spacer(1, 6),
        Paragraph(f"开票人：{ZH_ISSUER}", base),
        Spacer(1, 10),
        Paragraph("本发票为 qwenvl-agents 生成的演示样例，所涉单位名称、税号、账号及金额均为虚构。", small),
    ]


def invoice_zh(cjk: FontFile) -> RenderedSample:
    font = register_cjk_font(cjk)
    subtotal, tax, total = _zh_totals()
    built = build_pdf(
        _zh_story(font),
        pagesize=_ZH_PAGE,
        margins=(12 * mm, 12 * mm, 10 * mm, 8 * mm),
        title=f"电子发票 {ZH_NUMBER}",
        author=ZH_SELLER,
        subject=f"{ZH_SELLER} 开具给 {ZH_BUYER} 的发票",
        lang="zh-CN",
    )
    facts = {
        "invoice_number": ZH_NUMBER,
        "vendor": ZH_SELLER,
        "vendor_tax_id": ZH_SELLER_ID,
        "buyer": ZH_BUYER,
        "buyer_tax_id": ZH_BUYER_ID,
        "issue_date": ZH_ISSUE,
        "currency": ZH_CURRENCY,
        "subtotal": money(subtotal),
        "tax_rate": f"{ZH_TAX_RATE * 100:.0f}%",
        "tax": money(tax),
        "total": money(total),
        "total_in_words": amount_in_words_zh(total),
    }
    questions = (
        QAPair(f"发票号码为{ZH_NUMBER}的发票，价税合计是多少？", f"¥{money(total)}", 1),
        QAPair(f"发票{ZH_NUMBER}的销售方是哪家公司？", ZH_SELLER, 1),
        QAPair(f"发票{ZH_NUMBER}的开票日期是哪天？", ZH_ISSUE, 1),
        QAPair(f"发票{ZH_NUMBER}的税额合计是多少？", f"¥{money(tax)}", 1),
        QAPair(f"{ZH_SELLER}开具的发票中，27英寸显示器的单价是多少？", money(ZH_ITEMS[1].unit_price), 1),
    )
    return RenderedSample(
        filename="invoice-zh.pdf",
        data=built.data,
        kind="invoice",
        language="zh",
        page_count=built.page_count,
        title=f"{ZH_SELLER} 电子发票 {ZH_NUMBER}",
        facts=facts,
        questions=questions,
    )
