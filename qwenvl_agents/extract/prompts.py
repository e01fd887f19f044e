"""Every prompt the extractors send, in English and Chinese.

They follow the Qwen2.5-VL cookbook conventions: the page image comes first in the user turn, then one
instruction; document parsing asks for the whole page in reading order (Markdown here, since the answer
is a JSON string rather than QwenVL HTML); key information extraction names the fields to extract and
asks for them "without omissions or fabrications", with unknown values left empty rather than guessed.
The JSON shape itself is enforced by the server (``response_format`` ``json_schema``), so the prompt only
says what goes in each field.

The page's text layer or OCR can be appended as a hint. It is marked as possibly wrong because OCR
misreads and text layers can be stale or hidden; the image is what the model must trust.

Example:
    >>> system, user = build_prompt("en", hint="Invoice 42\\nTotal 12.50", hint_source="ocr", hint_chars=100)
    >>> "may contain mistakes" in user and "Total 12.50" in user
    True
    >>> build_prompt("zh")[1].startswith("请")
    True
"""

from __future__ import annotations

from typing import Literal

PromptLanguage = Literal["en", "zh"]

SYSTEM_EN = (
    "You are an AI specialized in recognizing and extracting text, tables and key information from "
    "document images. You read exactly what is on the page, in reading order, without omissions or "
    "fabrications."
)

SYSTEM_ZH = (
    "你是一个专门识别和提取文档图像中的文字、表格和关键信息的AI。请按阅读顺序准确读取页面上的内容，不遗漏、不编造。"
)

USER_EN = """\
Parse this document page and answer with one JSON object:
- page_kind: one of invoice, receipt, slide, report, form, letter, table, figure, blank, other.
- language: the ISO 639-1 code of the page's main language (en, zh, de, ...), or null.
- markdown: all text of the page in reading order as Markdown: headings with #, lists with -, tables as \
Markdown tables. Copy numbers, dates and names exactly as printed. Do not describe the layout.
- tables: every table on the page with its caption (or null), header cells and rows of cells.
- invoice: for an invoice or receipt, extract the key information: document_number, issue_date and \
due_date as YYYY-MM-DD, seller, buyer, currency as an ISO 4217 code (EUR, USD, MYR, CNY, ...), subtotal, \
tax and total as plain numbers (no currency sign, no thousands separator), and line_items \
(description, quantity, unit_price, amount). Otherwise null.
- slide: for a presentation slide, its title and bullets. Otherwise null.
- other: for any other page, its title, a one-sentence summary and the named entities \
(organisations, people, places, products). Otherwise null.
Use null for any value that is not printed on the page or that you cannot read with certainty; never guess."""

USER_ZH = """\
请解析这一页文档，并用一个JSON对象回答：
- page_kind：invoice、receipt、slide、report、form、letter、table、figure、blank、other 之一。
- language：页面主要语言的 ISO 639-1 代码（zh、en 等），不确定时为 null。
- markdown：按阅读顺序输出页面上的全部文字，使用 Markdown：标题用 #，列表用 -，表格用 Markdown 表格。\
数字、日期和名称按原样抄写，不要描述版面。
- tables：页面上的每个表格，包括标题（没有则为 null）、表头单元格和各行单元格。
- invoice：如果是发票或收据，提取关键信息：document_number（发票号码），issue_date 和 due_date（格式 YYYY-MM-DD），\
seller（销售方），buyer（购买方），currency（ISO 4217 代码，如 CNY、USD），subtotal、tax、total（纯数字，\
不带货币符号和千位分隔符），以及 line_items（description、quantity、unit_price、amount）。否则为 null。
- slide：如果是演示文稿的幻灯片，给出标题和要点。否则为 null。
- other：其他页面给出标题、一句话摘要和命名实体（机构、人名、地点、产品）。否则为 null。
页面上没有印出或无法确定的值一律用 null，不要猜测。"""

# A video frame is a scene, not a document: "all text, do not describe the layout" would leave a frame
# without text empty, and video search finds moments by what the frame shows.
USER_FRAME_EN = """\
This image is a frame of a video. Answer with one JSON object:
- page_kind: figure.
- language: the ISO 639-1 code of any text shown, or null.
- markdown: describe what is visible: the scene, the people and objects with their colours, positions and \
what they are doing, then any text shown, copied exactly.
- tables: any table shown, else an empty list.
- invoice: null. slide: null.
- other: a short title, a one-sentence summary of the moment and the named entities (organisations, people, \
places, products).
Describe only what is visible; never guess."""

USER_FRAME_ZH = """\
这是视频中的一帧。请用一个JSON对象回答：
- page_kind：figure。
- language：画面中文字的 ISO 639-1 代码，没有文字时为 null。
- markdown：描述画面内容：场景、人物和物体（颜色、位置、正在做什么），然后按原样抄写画面中的文字。
- tables：画面中的表格，没有则为空列表。
- invoice：null。slide：null。
- other：简短标题、一句话概括这一时刻，以及命名实体（机构、人名、地点、产品）。
只描述看得见的内容，不要猜测。"""

HINT_EN = """

Below is text that {source} read from this page. It may contain mistakes, miss text or be in the wrong \
order: use it only to check your reading, and trust the image where they disagree.
<page_text>
{text}
</page_text>"""

HINT_ZH = """

以下是{source}从本页读取的文字，可能有错误、遗漏或顺序不对：仅用于核对，与图像不一致时以图像为准。
<page_text>
{text}
</page_text>"""

_SOURCE_NAMES = {
    "en": {"pdf": "the PDF text layer", "pptx": "the slide file", "ocr": "OCR"},
    "zh": {"pdf": "PDF文字层", "pptx": "幻灯片文件", "ocr": "OCR"},
}

TRUNCATION_MARK = "\n[...]"


def prompt_language(language: str | None) -> PromptLanguage:
    """Chinese prompts for Chinese pages, English for everything else."""
    return "zh" if language == "zh" else "en"


def truncate_hint(text: str, max_chars: int) -> str:
    """``text`` cut at a line break within ``max_chars``, marked when cut."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    if max_chars <= len(TRUNCATION_MARK):
        return ""
    cut = text[: max_chars - len(TRUNCATION_MARK)]
    newline = cut.rfind("\n")
    if newline > len(cut) // 2:
        cut = cut[:newline]
    return cut.rstrip() + TRUNCATION_MARK


def build_prompt(
    language: str | None = None,
    *,
    hint: str | None = None,
    hint_source: str = "pdf",
    hint_chars: int = 4000,
    video_frame: bool = False,
) -> tuple[str, str]:
    """``(system, user)`` prompt texts for one page; the hint is appended to the user text when given.

    ``video_frame`` asks for a description of the scene instead of the page's text.

    >>> "frame of a video" in build_prompt("en", video_frame=True)[1]
    True
    """
    lang = prompt_language(language)
    system, user = (SYSTEM_ZH, USER_ZH) if lang == "zh" else (SYSTEM_EN, USER_EN)
    if video_frame:
        user = USER_FRAME_ZH if lang == "zh" else USER_FRAME_EN
    if hint and hint.strip() and hint_chars > 0:
        text = truncate_hint(hint, hint_chars)
        if text:
            source = _SOURCE_NAMES[lang].get(hint_source, hint_source)
            user += (HINT_ZH if lang == "zh" else HINT_EN).format(source=source, text=text)
    return system, user


def prompt_texts() -> dict[str, str]:
    """Every fixed prompt text, for the prompt-version fingerprint."""
    return {
        "system_en": SYSTEM_EN,
        "system_zh": SYSTEM_ZH,
        "user_en": USER_EN,
        "user_zh": USER_ZH,
        "user_frame_en": USER_FRAME_EN,
        "user_frame_zh": USER_FRAME_ZH,
        "hint_en": HINT_EN,
        "hint_zh": HINT_ZH,
        "sources": repr(sorted((k, sorted(v.items())) for k, v in _SOURCE_NAMES.items())),
    }
