"""The chat page's event streams: one event per change of what the page shows, never a bot created by watching."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from aiohttp import web

from imagebot_emulators.telegram import EmulatorConfig, create_app
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

TOKEN = "777:chat-events-test-token-000000000"
USER = 1001


@pytest.fixture
async def emulator() -> AsyncIterator[str]:
    runner = web.AppRunner(create_app(EmulatorConfig(set_webhook_rate_limit=False)))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


class Events:
    """Reads `data:` events of one stream."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self._lines = lines

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            async for line in self._lines:
                if line.startswith("data: "):
                    return json.loads(line.removeprefix("data: "))
        raise AssertionError("the stream ended")


@asynccontextmanager
async def stream(url: str) -> AsyncIterator[Events]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=30)) as http, http.stream("GET", url) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Events(response.aiter_lines())


async def bot_call(emulator: str, method: str, **params: Any) -> Any:
    async with httpx.AsyncClient() as http:
        body = (await http.post(f"{emulator}/bot{TOKEN}/{method}", json=params)).json()
    assert body["ok"], body
    return body["result"]


async def user_says(url: str, text: str) -> None:
    async with httpx.AsyncClient() as http:
        body = {"text": text, "first_name": "Ann", "language_code": "ru"}
        (await http.post(f"{url}/control/bots/{TOKEN}/users/{USER}/messages", json=body)).raise_for_status()


async def test_watching_a_chat_waits_for_the_bot_without_creating_it(emulator: str) -> None:
    async with stream(f"{emulator}/control/bots/{TOKEN}/chats/{USER}/events") as events:
        assert await events.next() == {"bot": None}
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{emulator}/control/bots")).json() == []
        await bot_call(emulator, "getMe")
        view = await events.next()
    assert view["bot"]["id"] == 777
    assert view["messages"] == []


async def test_the_bot_list_stream_reports_a_bot_once_it_calls_the_api(emulator: str) -> None:
    async with stream(f"{emulator}/control/events") as events:
        assert await events.next() == {"bots": []}
        await bot_call(emulator, "getMe")
        bots = (await events.next())["bots"]
    assert [(b["token"], b["me"]["username"]) for b in bots] == [(TOKEN, "emulated_777_bot")]


async def test_messages_edits_actions_and_deletions_each_produce_an_event(emulator: str) -> None:
    await bot_call(emulator, "getMe")
    async with stream(f"{emulator}/control/bots/{TOKEN}/chats/{USER}/events") as events:
        await events.next()
        await user_says(emulator, "/start")
        view = await events.next()
        assert [(m["sender"], m["text"]) for m in view["messages"]] == [("user", "/start")]
        assert view["users"] == [{"id": USER, "first_name": "Ann", "language_code": "ru"}]

        await bot_call(emulator, "sendChatAction", chat_id=USER, action="typing")
        assert (await events.next())["action"] == "typing"
        sent = await bot_call(emulator, "sendMessage", chat_id=USER, text="<b>Hi</b>", parse_mode="HTML")
        view = await events.next()
        assert view["action"] is None  # a message ends the chat action, as in Telegram
        assert view["messages"][-1]["entities"] == [{"type": "bold", "offset": 0, "length": 2}]

        await bot_call(emulator, "editMessageText", chat_id=USER, message_id=sent["message_id"], text="Hello")
        view = await events.next()
        assert (view["messages"][-1]["text"], view["messages"][-1]["edited"]) == ("Hello", True)

        await bot_call(emulator, "deleteMessage", chat_id=USER, message_id=sent["message_id"])
        assert [m["text"] for m in (await events.next())["messages"]] == ["/start"]


async def test_a_method_in_a_webhook_answer_shows_in_the_chat(emulator: str) -> None:
    async def answer_in_the_response(request: web.Request) -> web.Response:
        update = await request.json()
        chat_id = update["message"]["chat"]["id"]
        return web.json_response({"method": "sendMessage", "chat_id": chat_id, "text": "answered in the response"})

    receiver = web.Application()
    receiver.router.add_post("/hook", answer_in_the_response)
    runner = web.AppRunner(receiver)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await bot_call(emulator, "setWebhook", url=f"http://127.0.0.1:{port}/hook")
        async with stream(f"{emulator}/control/bots/{TOKEN}/chats/{USER}/events") as events:
            await events.next()
            await user_says(emulator, "hello")
            texts: list[str] = []
            while "answered in the response" not in texts:
                texts = [m["text"] for m in (await events.next())["messages"]]
    finally:
        await runner.cleanup()
    assert texts == ["hello", "answered in the response"]


async def test_open_streams_do_not_delay_the_emulator_shutdown() -> None:
    runner = web.AppRunner(create_app(), shutdown_timeout=5.0)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    async with stream(f"{url}/control/bots/{TOKEN}/chats/{USER}/events") as events:
        await events.next()
        started = time.monotonic()
        await runner.cleanup()
        assert time.monotonic() - started < 1.0
