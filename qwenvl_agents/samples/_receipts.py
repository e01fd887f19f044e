"""Two scanned-looking till receipts drawn with PIL (no text layer: a reader must look at the pixels)."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from decimal import Decimal

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from qwenvl_agents.samples._fonts import FontFile, monospace_face
from qwenvl_agents.samples._model import QAPair, RenderedSample
from qwenvl_agents.samples._numbers import money, round_cents


@dataclass(frozen=True, slots=True)
class Line:
    """One printed line: ``left`` and ``right`` text (right-aligned), or a centred line, or a rule."""

    left: str = ""
    right: str = ""
    center: str = ""
    scale: float = 1.0
    bold: bool = False
    rule: bool = False
    barcode: bool = False


@dataclass(frozen=True, slots=True)
class _Look:
    """How the scan looks; each receipt has its own so the two are not clones of one another."""

    seed: int
    angle: float
    columns: int
    paper: tuple[int, int, int]
    ink: tuple[int, int, int]
    fold_at: float


_PAPER_WIDTH = 560
_MARGIN = 26
_JPEG_QUALITY = 68


# ---------------------------------------------------------------------------------------------------
# Content
# ---------------------------------------------------------------------------------------------------

EN_STORE = "CEDAR & PINE HARDWARE"
EN_DATE = "2026-01-18"
EN_TIME = "14:32"
EN_RECEIPT_NO = "014-0318-2231"
EN_TAX_RATE = Decimal("0.0875")
EN_CARD = "4417"
# (name, quantity, unit price)
EN_ITEMS: tuple[tuple[str, int, Decimal], ...] = (
    ("WOOD SCREWS #8 1-1/4IN 100PK", 3, Decimal("2.99")),
    ("PAINTERS TAPE 1.88IN X 60YD", 1, Decimal("6.49")),
    ("LED BULB A19 60W EQ 4PK", 2, Decimal("5.99")),
    ("DRILL BIT SET 13PC HSS", 1, Decimal("24.99")),
    ("SANDPAPER ASSORTED 5PK", 1, Decimal("4.79")),
    ("WORK GLOVES LEATHER L", 1, Decimal("12.99")),
)

ZH_STORE = "禾家生活超市（徐汇店）"
ZH_DATE = "2026-03-05"
ZH_TIME = "19:47"
ZH_RECEIPT_NO = "XH20260305-0472"
ZH_DISCOUNT = Decimal("3.50")
ZH_PAYMENT = "微信支付"
# (name, quantity as printed, quantity, unit price)
ZH_ITEMS: tuple[tuple[str, str, Decimal, Decimal], ...] = (
    ("红富士苹果", "1.25kg", Decimal("1.25"), Decimal("12.80")),
    ("全麦吐司", "1", Decimal("1"), Decimal("12.90")),
    ("鲜牛奶950ml", "2", Decimal("2"), Decimal("15.80")),
    ("土鸡蛋10枚装", "1", Decimal("1"), Decimal("13.50")),
    ("上海青500g", "1", Decimal("1"), Decimal("4.50")),
    ("饮用天然水550ml×6", "1", Decimal("1"), Decimal("9.00")),
)


def _en_amounts() -> tuple[Decimal, Decimal, Decimal]:
    subtotal = sum((round_cents(price * qty) for _, qty, price in EN_ITEMS), Decimal(0))
    tax = round_cents(subtotal * EN_TAX_RATE)
    return subtotal, tax, subtotal + tax


def _zh_amounts() -> tuple[Decimal, Decimal]:
    subtotal = sum((round_cents(price * qty) for _, _, qty, price in ZH_ITEMS), Decimal(0))
    return subtotal, subtotal - ZH_DISCOUNT


def en_lines() -> list[Line]:
    subtotal, tax, total = _en_amounts()
    lines = [
        Line(center=EN_STORE, scale=1.3, bold=True),
        Line(center="418 Alder Avenue"),
        Line(center="Sacramento, CA 95814"),
        Line(center="Tel (916) 555-0187"),
        Line(),
        Line(left=f"DATE {EN_DATE}", right=f"TIME {EN_TIME}"),
        Line(left="STORE 014  REG 03", right="CASHIER: TOMAS"),
        Line(left=f"RECEIPT # {EN_RECEIPT_NO}"),
        Line(rule=True),
    ]
    for name, qty, price in EN_ITEMS:
        lines.append(Line(left=name, right=money(price * qty)))
        if qty > 1:
            lines.append(Line(left=f"   {qty} @ {money(price)}"))
    units = sum(qty for _, qty, _ in EN_ITEMS)
    lines += [
        Line(rule=True),
        Line(left="SUBTOTAL", right=money(subtotal)),
        Line(left=f"SALES TAX {EN_TAX_RATE * 100:.2f}%", right=money(tax)),
        Line(left="TOTAL", right=f"${money(total)}", bold=True, scale=1.15),
        Line(),
        Line(left=f"VISA ************{EN_CARD}", right=money(total)),
        Line(left="AUTH CODE 08813C", right="CHIP READ"),
        Line(left=f"ITEMS SOLD {units}"),
        Line(),
        Line(center="RETURNS WITHIN 30 DAYS WITH RECEIPT"),
        Line(center="THANK YOU FOR SHOPPING LOCAL!"),
        Line(),
        Line(barcode=True),
        Line(center=EN_RECEIPT_NO.replace("-", "")),
    ]
    return lines


def zh_lines() -> list[Line]:
    subtotal, total = _zh_amounts()
    lines = [
        Line(center=ZH_STORE, scale=1.25, bold=True),
        Line(center="上海市徐汇区漕溪北路88号"),
        Line(center="电话：021-5555 0168"),
        Line(rule=True),
        Line(left=f"单号：{ZH_RECEIPT_NO}"),
        Line(left=f"日期：{ZH_DATE} {ZH_TIME}"),
        Line(left="收银员：李娜", right="机号：02"),
        Line(rule=True),
        Line(left="品名", right="数量    单价    金额"),
        Line(rule=True),
    ]
    for name, shown_qty, qty, price in ZH_ITEMS:
        lines.append(Line(left=name))
        lines.append(Line(right=f"{shown_qty:>6}  {money(price):>6}  {money(round_cents(price * qty)):>6}"))
    # Weighed goods count as one piece, the way tills count them.
    pieces = sum(int(qty) if qty == qty.to_integral_value() else 1 for _, _, qty, _ in ZH_ITEMS)
    lines += [
        Line(rule=True),
        Line(left=f"件数：{pieces}", right=f"合计：{money(subtotal)}"),
        Line(left="会员优惠", right=f"-{money(ZH_DISCOUNT)}"),
        Line(left="应付金额", right=f"¥{money(total)}", bold=True, scale=1.15),
        Line(left=ZH_PAYMENT, right=money(total)),
        Line(left="找零", right="0.00"),
        Line(rule=True),
        Line(center="会员卡号：138****6620  本次积分：84"),
        Line(center="谢谢惠顾，欢迎再次光临！"),
        Line(center="凭小票七日内可退换"),
        Line(),
        Line(barcode=True),
        Line(center=ZH_RECEIPT_NO),
    ]
    return lines


# ---------------------------------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------------------------------


def _load(font: FontFile, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font.path), size, index=font.index)


def _bold_variant(font: FontFile) -> FontFile | None:
    bold = font.path.with_name(font.path.stem + "-Bold" + font.path.suffix)
    return FontFile(bold) if bold.is_file() else None


def _print_paper(lines: list[Line], font: FontFile, look: _Look, rng: random.Random) -> Image.Image:
    """The receipt paper as printed: the ink is drawn into a mask first so print density can vary."""
    inner = _PAPER_WIDTH - 2 * _MARGIN
    probe = _load(font, 100)
    size = int(100 * inner / (probe.getlength("0") * look.columns))
    bold_file = _bold_variant(font)
    line_height = int(size * 1.42)
    height = _MARGIN * 3 + sum(int(line_height * ln.scale) for ln in lines)
    height += int(line_height * 1.2) * sum(1 for ln in lines if ln.barcode)
    mask = Image.new("L", (_PAPER_WIDTH, height), 0)
    draw = ImageDraw.Draw(mask)
    y = _MARGIN * 2
    for ln in lines:
        px = int(size * ln.scale)
        face = _load(bold_file if (ln.bold and bold_file) else font, px)
        # Without a bold file, a one-pixel stroke thickens the glyphs the way a hotter print head does.
        stroke = 1 if ln.bold and bold_file is None else 0
        if ln.rule:
            dash = "-" * look.columns
            draw.text((_MARGIN, y), dash, font=face, fill=255)
        elif ln.barcode:
            _draw_barcode(draw, y, int(line_height * 1.8), rng)
            y += int(line_height * 1.2)
        elif ln.center:
            width = face.getlength(ln.center)
            draw.text(
                ((_PAPER_WIDTH - width) / 2, y), ln.center, font=face, fill=255, stroke_width=stroke, stroke_fill=255
            )
        else:
            if ln.left:
                draw.text((_MARGIN, y), ln.left, font=face, fill=255, stroke_width=stroke, stroke_fill=255)
            if ln.right:
                x = _PAPER_WIDTH - _MARGIN - face.getlength(ln.right)
                draw.text((x, y), ln.right, font=face, fill=255, stroke_width=stroke, stroke_fill=255)
        y += int(line_height * ln.scale)

    # Thermal print density drifts across the roll: modulate the ink by a smooth random field.
    density = _smooth_field(mask.size, (6, 24), rng, low=170, high=255)
    mask = ImageChops.multiply(mask.filter(ImageFilter.GaussianBlur(0.45)), density)
    paper = Image.new("RGB", mask.size, look.paper)
    grain = _smooth_field(mask.size, (mask.width // 3, mask.height // 3), rng, low=0, high=12)
    paper = ImageChops.subtract(paper, Image.merge("RGB", (grain, grain, grain)))
    return Image.composite(Image.new("RGB", mask.size, look.ink), paper, mask)


def _draw_barcode(draw: ImageDraw.ImageDraw, y: int, height: int, rng: random.Random) -> None:
    x = _PAPER_WIDTH // 2 - 150
    end = _PAPER_WIDTH // 2 + 150
    black = True
    while x < end:
        w = rng.choice((2, 2, 3, 4, 6))
        if black:
            draw.rectangle((x, y, x + w - 1, y + height), fill=255)
        x += w
        black = not black


def _smooth_field(
    size: tuple[int, int], cells: tuple[int, int], rng: random.Random, *, low: int, high: int
) -> Image.Image:
    """Seeded random values on a coarse grid, upsampled smoothly and mapped into [low, high]."""
    cw, ch = max(1, cells[0]), max(1, cells[1])
    coarse = Image.frombytes("L", (cw, ch), rng.randbytes(cw * ch))
    field = coarse.resize(size, Image.Resampling.BICUBIC)
    span = high - low
    return field.point(lambda v: low + v * span // 255)


def _scan(paper: Image.Image, look: _Look, rng: random.Random) -> Image.Image:
    """Lay the paper on a scanner bed: tilt, shadow, fold, uneven light, sensor noise, blur."""
    pad = 70
    bed_size = (paper.width + 2 * pad, paper.height + 2 * pad)
    bed = Image.new("RGB", bed_size, (198, 198, 194))

    # The lid never presses a folded receipt flat: a crease shows as a dark line with a bright edge.
    crease = Image.new("L", paper.size, 255)
    fold_y = int(paper.height * look.fold_at)
    ImageDraw.Draw(crease).line((0, fold_y, paper.width, fold_y + 5), fill=165, width=3)
    ImageDraw.Draw(crease).line((0, fold_y + 4, paper.width, fold_y + 9), fill=255, width=2)
    crease = crease.filter(ImageFilter.GaussianBlur(2.5))
    paper = ImageChops.multiply(paper, Image.merge("RGB", (crease, crease, crease)))

    alpha = Image.new("L", paper.size, 255)
    sheet = paper.convert("RGBA")
    sheet.putalpha(alpha)
    sheet = sheet.rotate(look.angle, resample=Image.Resampling.BICUBIC, expand=True)
    shadow = Image.new("L", bed_size, 0)
    shadow.paste(sheet.getchannel("A"), ((bed_size[0] - sheet.width) // 2 + 5, (bed_size[1] - sheet.height) // 2 + 7))
    shadow = shadow.filter(ImageFilter.GaussianBlur(9)).point(lambda v: v * 110 // 255)
    bed = Image.composite(Image.new("RGB", bed_size, (90, 90, 88)), bed, shadow)
    bed.paste(sheet, ((bed_size[0] - sheet.width) // 2, (bed_size[1] - sheet.height) // 2), sheet)

    # The scanner lamp is brighter on one side, and the lid leaves soft patches of shade.
    light = Image.linear_gradient("L").rotate(90, expand=True).resize(bed_size).point(lambda v: 255 - v * 20 // 255)
    light = ImageChops.multiply(light, _smooth_field(bed_size, (3, 4), rng, low=236, high=255))
    bed = ImageChops.multiply(bed, Image.merge("RGB", (light, light, light)))

    # Sensor noise, zero-mean so it does not grey the paper: add one random field and subtract another.
    plus, minus = (_noise(bed_size, rng, 16) for _ in range(2))
    bed = ImageChops.subtract(ImageChops.add(bed, plus), minus)
    return bed.filter(ImageFilter.GaussianBlur(0.75))


def _noise(size: tuple[int, int], rng: random.Random, amplitude: int) -> Image.Image:
    grey = Image.frombytes("L", size, rng.randbytes(size[0] * size[1])).point(lambda v: v * amplitude // 255)
    return Image.merge("RGB", (grey, grey, grey))


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # 4:2:0 subsampling and a middling quality give the blocky chroma a phone or office scanner leaves.
    image.save(out, format="JPEG", quality=_JPEG_QUALITY, subsampling="4:2:0", optimize=False, dpi=(200, 200))
    return out.getvalue()


def _render(lines: list[Line], font: FontFile, look: _Look) -> bytes:
    rng = random.Random(look.seed)
    return _jpeg(_scan(_print_paper(lines, font, look, rng), look, rng))


def receipt_en(mono: FontFile) -> RenderedSample:
    look = _Look(seed=20260118, angle=-1.6, columns=42, paper=(248, 246, 240), ink=(42, 40, 46), fold_at=0.38)
    subtotal, tax, total = _en_amounts()
    facts = {
        "vendor": EN_STORE,
        "date": EN_DATE,
        "time": EN_TIME,
        "receipt_number": EN_RECEIPT_NO,
        "subtotal": money(subtotal),
        "tax": money(tax),
        "total": money(total),
        "payment": "VISA",
        "card_last4": EN_CARD,
    }
    questions = (
        QAPair(f"What was the total on the {EN_STORE.title()} receipt of {EN_DATE}?", f"${money(total)}", 1),
        QAPair(f"How much sales tax was paid at {EN_STORE.title()} on {EN_DATE}?", money(tax), 1),
        QAPair(f"What did the 13-piece drill bit set cost at {EN_STORE.title()}?", money(EN_ITEMS[3][2]), 1),
        QAPair(f"What are the last four digits of the card used at {EN_STORE.title()} on {EN_DATE}?", EN_CARD, 1),
    )
    return RenderedSample(
        filename="receipt-en.jpg",
        data=_render(en_lines(), mono, look),
        kind="receipt",
        language="en",
        page_count=1,
        title=f"{EN_STORE.title()} receipt {EN_RECEIPT_NO}",
        facts=facts,
        questions=questions,
    )


def receipt_zh(cjk: FontFile) -> RenderedSample:
    look = _Look(seed=20260305, angle=1.1, columns=32, paper=(250, 249, 245), ink=(30, 34, 52), fold_at=0.61)
    subtotal, total = _zh_amounts()
    facts = {
        "vendor": ZH_STORE,
        "date": ZH_DATE,
        "time": ZH_TIME,
        "receipt_number": ZH_RECEIPT_NO,
        "subtotal": money(subtotal),
        "discount": money(ZH_DISCOUNT),
        "total": money(total),
        "payment": ZH_PAYMENT,
    }
    questions = (
        QAPair(f"{ZH_STORE}{ZH_DATE}的小票，应付金额是多少？", f"¥{money(total)}", 1),
        QAPair(f"小票单号{ZH_RECEIPT_NO}使用的支付方式是什么？", ZH_PAYMENT, 1),
        QAPair(f"{ZH_STORE}小票上，鲜牛奶950ml的单价是多少？", money(ZH_ITEMS[2][3]), 1),
        QAPair(f"{ZH_STORE}小票上的会员优惠金额是多少？", money(ZH_DISCOUNT), 1),
    )
    return RenderedSample(
        filename="receipt-zh.jpg",
        data=_render(zh_lines(), monospace_face(cjk), look),
        kind="receipt",
        language="zh",
        page_count=1,
        title=f"{ZH_STORE} 购物小票 {ZH_RECEIPT_NO}",
        facts=facts,
        questions=questions,
    )


def receipt_text(lines: list[Line]) -> str:
    """What the receipt prints, as text; tests use it to check that every fact is on the paper."""
    return "\n".join(" ".join(p for p in (ln.left, ln.center, ln.right) if p) for ln in lines)
