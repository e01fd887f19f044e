"""The Qwen2.5-VL workflows users know, built on the one chat-model seam of :mod:`qwenvl_agents.vlm`.

Each workflow takes any LangChain chat model (a :class:`~qwenvl_agents.vlm.VLMClient`'s ``ChatOpenAI``,
or a local backend) and works on batches where one bad item never stops the rest: every result carries
its own status and error.
"""
