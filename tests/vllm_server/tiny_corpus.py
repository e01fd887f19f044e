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
Every employee must complete the safety training before the end of the month and upload the certificate.
The research paper compares three methods for document retrieval and reports precision, recall and speed.
In the appendix you will find the raw measurements, the questionnaire and the list of abbreviations.
Shipping is free for orders above fifty euros; returns are accepted within thirty days of purchase.
The architect proposed a building with large windows, a green roof and a courtyard for bicycles.
Photosynthesis converts light energy into chemical energy that plants store as sugar and starch.
The museum opens at nine in the morning and closes at six in the evening, except on public holidays.
Rivers, mountains, forests and lakes shape the landscape of the northern provinces.
Please confirm your attendance by replying to this message before Friday afternoon.
Version two introduces streaming responses, structured outputs, tool calling and better error messages.
A receipt shows the store, the purchased items, their prices, the payment method and the change given.
The patient should take one tablet twice a day after meals and drink plenty of water.
Children learn languages quickly when they hear them often and have friends who speak them.
The committee approved the budget, postponed the vote on the new logo and thanked the volunteers.
Traffic was heavy on the motorway because of construction work near the airport exit.
Bananas, apples, oranges, grapes, strawberries, lemons, cherries, peaches, pears and melons.
Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday; spring, summer, autumn, winter.
Important: keep this document in a safe place and show it when you collect your parcel.
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
所有员工必须在月底前完成安全培训，并上传培训证书。
这篇研究论文比较了三种文档检索方法，并报告了准确率、召回率和速度。
附录中包含原始测量数据、调查问卷以及缩略语列表。
订单金额超过五十欧元免运费；购买后三十天内可以退货。
建筑师设计了一座拥有大窗户、绿色屋顶和自行车庭院的建筑。
光合作用把光能转化为化学能，植物以糖和淀粉的形式储存能量。
博物馆早上九点开门，晚上六点关门，法定节假日除外。
河流、山脉、森林和湖泊塑造了北方省份的地貌。
请在星期五下午之前回复此消息，确认您是否出席。
第二版引入了流式响应、结构化输出、工具调用以及更清晰的错误信息。
收据上显示了商店名称、所购商品、价格、付款方式和找零金额。
病人应每天饭后服用一片药，每天两次，并多喝水。
孩子们经常听到一种语言并且有说这种语言的朋友时，学得很快。
委员会批准了预算，推迟了新标志的投票，并感谢了志愿者。
由于机场出口附近正在施工，高速公路上交通十分拥堵。
香蕉、苹果、橙子、葡萄、草莓、柠檬、樱桃、桃子、梨和西瓜。
星期一、星期二、星期三、星期四、星期五、星期六、星期日；春天、夏天、秋天、冬天。
重要提示：请妥善保管本文件，领取包裹时请出示。
人工智能正在改变我们处理文档、搜索信息和做出决策的方式。
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
