"""Built-in training text for the tiny model's byte-level BPE tokenizer.

Why built in: the test server must be built offline and byte-identically everywhere, so the tokenizer is
trained on text that ships with the repository. It mixes English and Chinese prose about documents, JSON
and tool-call snippets, and numbers, so that typical test prompts tokenize into a realistic number of
tokens and JSON punctuation gets its own merged tokens (``"}``, ``":``, ``",`` ...). The words mean
nothing to the random model; they only shape the vocabulary.
"""

from __future__ import annotations

import itertools
import json

ENGLISH = """
The quarterly report summarises revenue, costs and the outlook for the next year. Revenue grew by
twelve percent compared with the same quarter last year, while operating costs remained stable.
Please read the attached invoice and tell me the total amount, the due date and the name of the vendor.
The table on page three lists every product with its unit price, the quantity ordered and the subtotal.
A document may contain scanned pages, photographs, charts, handwritten notes and printed text.
Answer the question using only the information that appears on the page, and cite the page number.
If the answer cannot be found, say that the document does not contain it instead of guessing.
The meeting minutes record who attended, which decisions were taken and which tasks remain open.
Our contract starts on the first of March and ends after twenty four months unless renewed in writing.
The slide deck explains the architecture: a retriever finds relevant pages, a vision language model
reads them, and a grader checks that every claim in the answer is supported by the evidence.
Describe this image. What is written in the title? How many rows does the table have?
Extract the fields as JSON. Return a list of items with name, price and quantity.
The weather today is sunny with a light breeze; tomorrow it will rain in the afternoon.
Customers asked for faster delivery, clearer labels and better support on weekends.
You are a helpful assistant. You may call one or more functions to assist with the user query.
The function returns the current temperature for a city. Call it with the city name and the unit.
Hello, how are you? I am fine, thank you. Could you summarise the second chapter in three sentences?
Section 4.2 defines the terms used in the agreement; section 7 covers liability and termination.
The chart shows a steady increase from January to June followed by a small decline in July.
Signature, date, address, telephone, email, account number, reference, total, tax, discount.
"""

CHINESE = """
这份季度报告总结了收入、成本以及明年的展望。与去年同期相比，收入增长了百分之十二，运营成本保持稳定。
请阅读附件中的发票，并告诉我总金额、到期日期和供应商的名称。
第三页的表格列出了每种产品的单价、订购数量和小计。
文档可能包含扫描页面、照片、图表、手写笔记和印刷文字。
请仅根据页面上出现的信息回答问题，并注明页码。如果找不到答案，请说明文档中没有相关内容，不要猜测。
会议纪要记录了出席人员、做出的决定以及仍未完成的任务。
合同从三月一日开始，为期二十四个月，除非书面续签。
幻灯片介绍了系统架构：检索器找到相关页面，视觉语言模型阅读页面，评分器检查答案中的每个结论是否有证据支持。
描述这张图片。标题写的是什么？表格有多少行？请以JSON格式提取字段。
今天天气晴朗，微风习习；明天下午会下雨。客户希望更快的配送、更清晰的标签和周末更好的支持。
你是一个乐于助人的助手。你可以调用一个或多个函数来帮助回答用户的问题。
你好，你好吗？我很好，谢谢。你能用三句话总结第二章吗？
签名、日期、地址、电话、电子邮件、账号、参考号、总计、税额、折扣。
北京、上海、广州、深圳、杭州、南京、成都、武汉、西安、重庆。
"""

_KEYS = ("name", "price", "quantity", "total", "date", "page", "answer", "city", "unit", "items", "title")
_VALUES = ("invoice", "report", "Berlin", "celsius", "发票", "报告", "north", "yes", "no", "")


def _json_lines() -> list[str]:
    """Deterministic JSON and tool-call snippets so JSON punctuation forms merged tokens."""
    lines: list[str] = []
    for key, value in itertools.product(_KEYS, _VALUES):
        lines.append(json.dumps({key: value}, ensure_ascii=False))
        lines.append(json.dumps({key: value, "page": len(value)}, ensure_ascii=False, indent=2))
    for number in range(0, 2000, 7):
        lines.append(json.dumps({"id": number, "score": number / 100, "ok": number % 2 == 0}))
    for key in _KEYS:
        call = {"name": f"get_{key}", "arguments": {key: "value", "limit": 3}}
        lines.append("<tool_call>\n" + json.dumps(call) + "\n</tool_call>")
    return lines


def corpus() -> list[str]:
    """The training texts, in a fixed order (the BPE trainer's result depends only on this input)."""
    texts = [line for line in (ENGLISH + CHINESE).splitlines() if line.strip()]
    texts += _json_lines()
    texts += [f"{n} {n * 3 + 1} {n / 8:.3f} 2024-{n % 12 + 1:02d}-{n % 28 + 1:02d}" for n in range(500)]
    return texts
