"""``VLMClient.close()``/``aclose()`` close both HTTP clients the chat models use, sync and async."""

from __future__ import annotations

import asyncio

import pytest

from qwenvl_agents.vlm import VLMClient

DEAD = ["http://127.0.0.1:9/v1"]  # never contacted: closing needs no server


def _clients(client: VLMClient) -> tuple:
    chat = client.chat_model()
    return chat.http_client, chat.http_async_client  # type: ignore[attr-defined]


def test_close_closes_the_sync_and_the_async_client() -> None:
    client = VLMClient(DEAD, "m")
    sync, async_ = _clients(client)
    assert not sync.is_closed and not async_.is_closed
    client.close()
    assert sync.is_closed and async_.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(async_.get("http://127.0.0.1:9/"))
    client.close()  # twice is fine


def test_close_leaves_the_threads_event_loop_alone() -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        VLMClient(DEAD, "m").close()
        assert asyncio.get_event_loop_policy().get_event_loop() is loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_aclose_from_async_code_closes_both() -> None:
    async def main() -> tuple:
        client = VLMClient(DEAD, "m")
        clients = _clients(client)
        await client.aclose()
        return clients

    sync, async_ = asyncio.run(main())
    assert sync.is_closed and async_.is_closed


def test_close_inside_a_running_loop_finishes_on_that_loop() -> None:
    async def main() -> tuple:
        with VLMClient(DEAD, "m") as client:  # a sync `with` in a coroutine
            clients = _clients(client)
        await asyncio.sleep(0)  # the close runs as soon as the loop gets control
        return clients

    sync, async_ = asyncio.run(main())
    assert sync.is_closed and async_.is_closed
