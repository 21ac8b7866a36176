"""The Telegram emulator behaves like api.telegram.org for a real aiogram Bot and for raw HTTP clients."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import BotCommand, BufferedInputFile, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.types import Message as TgMessage
from aiohttp import web
from PIL import Image

from imagebot_emulators.telegram import EmulatorConfig, create_app
from tests.support.emulators import TelegramEmulator
from tests.support.ports import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

TOKEN = "123456:TEST-emulator-token-0000000000"
BOT_ID = 123456
USER = 4242
KEYBOARD = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Again", callback_data="again")]])
FAST = {"retry_base_delay": 0.1, "retry_max_delay": 0.4, "webhook_timeout": 2.0, "set_webhook_rate_limit": False}


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 90)).save(out, format="PNG")
    return out.getvalue()


async def close_bot(bot: Bot) -> None:
    """AiohttpSession.close() sleeps 250 ms for TLS shutdown; there is no TLS here, so skip the wait."""
    session = bot.session
    assert isinstance(session, AiohttpSession)
    if session._session is not None:
        await session._session.close()


def raw_message(chat_id: int, text: str, age: int = 0) -> dict[str, Any]:
    """A raw message update as Telegram would send it, `age` seconds old."""
    chat = {"id": chat_id, "type": "private", "first_name": "Raw"}
    return {"message": {"message_id": 1, "date": int(time.time()) - age, "chat": chat, "text": text}}


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@dataclass
class Emulator:
    url: str
    http: httpx.AsyncClient

    async def control(self, method: str, path: str, body: Any = None, token: str = TOKEN) -> Any:
        response = await self.http.request(method, f"{self.url}/control/bots/{token}{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    async def say(self, text: str, user: int = USER, **fields: Any) -> dict[str, Any]:
        return await self.control("POST", f"/users/{user}/messages", {"text": text, **fields})

    async def press(self, message_id: int, data: str, user: int = USER) -> dict[str, Any]:
        return await self.control("POST", f"/users/{user}/callbacks", {"message_id": message_id, "data": data})

    async def raw(self, method: str, body: dict[str, Any] | None = None, token: str = TOKEN) -> httpx.Response:
        return await self.http.post(f"{self.url}/bot{token}/{method}", json=body or {})

    def bot(self, token: str = TOKEN, timeout: float = 10.0) -> Bot:
        session = AiohttpSession(api=TelegramAPIServer.from_base(self.url), timeout=timeout)
        return Bot(token, session=session)


@pytest.fixture
async def make_emulator() -> AsyncIterator[Callable[..., Awaitable[Emulator]]]:
    runners: list[web.AppRunner] = []
    async with httpx.AsyncClient(timeout=10) as http:

        async def make(**config: Any) -> Emulator:
            runner, url = await serve(create_app(EmulatorConfig(**{**FAST, **config})))
            runners.append(runner)
            return Emulator(url, http)

        yield make
        for runner in runners:
            await runner.cleanup()


@pytest.fixture
async def emulator(make_emulator: Callable[..., Awaitable[Emulator]]) -> Emulator:
    return await make_emulator()


@pytest.fixture
async def bot(emulator: Emulator) -> AsyncIterator[Bot]:
    bot = emulator.bot()
    yield bot
    await close_bot(bot)


@dataclass
class Receiver:
    """A webhook endpoint: records each delivery; `respond` decides the answer."""

    url: str = ""
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    respond: Callable[[dict[str, Any]], Awaitable[web.StreamResponse]] | None = None
    in_flight: dict[int, int] = field(default_factory=dict)  # chat/user id → concurrent requests
    max_in_flight: dict[int, int] = field(default_factory=dict)
    peak_total: int = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        update = await request.json()
        body = update.get("message") or update.get("callback_query") or {}
        key = (body.get("chat") or body.get("from") or {}).get("id", 0)
        self.deliveries.append({"update": update, "headers": dict(request.headers), "at": time.monotonic()})
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        self.max_in_flight[key] = max(self.max_in_flight.get(key, 0), self.in_flight[key])
        self.peak_total = max(self.peak_total, sum(self.in_flight.values()))
        try:
            return await self.respond(update) if self.respond else web.Response()
        finally:
            self.in_flight[key] -= 1

    def ids(self) -> list[int]:
        return [d["update"]["update_id"] for d in self.deliveries]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver()
    app = web.Application()
    app.router.add_post("/hook", recv.handle)
    runner, url = await serve(app)
    recv.url = f"{url}/hook"
    yield recv
    await runner.cleanup()


# --- Bot API basics -----------------------------------------------------------------------------------


async def test_settle_freezes_what_the_emulator_holds_out_of_the_garbage_collector() -> None:
    """Benchmarks time replies by their arrival here, so before a timed run nothing recorded earlier may cost a
    long full collection inside it. (A process of its own: freezing this test process's heap would move the cost
    of a full collection into whichever test runs next.)"""
    with TelegramEmulator() as emulator:
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(f"{emulator.url}/control/settle")
    assert answer.status_code == 200 and answer.json()["ok"] is True
    assert answer.json()["frozen_objects"] > 0


async def test_get_me_parses_in_aiogram_as_a_bot_whose_id_is_the_token_prefix(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == BOT_ID
    assert me.is_bot is True
    assert me.username and me.username.endswith("_bot")
    assert me.can_join_groups is True and me.supports_inline_queries is False


async def test_a_malformed_token_is_401_and_an_unknown_method_is_404(emulator: Emulator) -> None:
    response = await emulator.raw("getMe", token="42:TEST")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    bad = emulator.bot(token="42:short")
    with pytest.raises(TelegramUnauthorizedError):
        await bad.get_me()
    await close_bot(bad)
    response = await emulator.raw("sendTelepathy")
    assert response.status_code == 404
    assert response.json()["description"] == "Not Found: method not found"
    assert (await emulator.raw("GETME")).json()["result"]["id"] == BOT_ID  # method names ignore case


async def test_send_message_with_an_inline_keyboard_is_recorded_and_appears_in_the_transcript(
    emulator: Emulator, bot: Bot
) -> None:
    said = await emulator.say("/start now", first_name="Ann", username="ann")
    sent = await bot.send_message(USER, "Pick one", reply_markup=KEYBOARD)

    assert sent.message_id == said["message_id"] + 1
    assert sent.from_user and sent.from_user.id == BOT_ID and sent.chat.type == "private"
    assert sent.reply_markup and sent.reply_markup.inline_keyboard[0][0].callback_data == "again"
    assert abs(sent.date.timestamp() - time.time()) < 5
    (call,) = await emulator.control("GET", "/requests?method=sendMessage")
    assert call["status"] == 200
    assert call["params"]["reply_markup"] == {"inline_keyboard": [[{"text": "Again", "callback_data": "again"}]]}
    user_msg, bot_msg = await emulator.control("GET", f"/chats/{USER}/messages")
    assert (user_msg["sender"], user_msg["text"]) == ("user", "/start now")
    assert user_msg["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert user_msg["message"]["from"] == {
        "id": USER,
        "is_bot": False,
        "first_name": "Ann",
        "username": "ann",
        "language_code": "en",
    }
    assert (bot_msg["sender"], bot_msg["text"], bot_msg["deleted"]) == ("bot", "Pick one", False)
    assert bot_msg["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "again"


async def test_send_message_fails_like_telegram_for_unknown_chats_empty_text_and_blocked_users(
    emulator: Emulator, bot: Bot
) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(999, "hello?")
    await emulator.say("hi")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(USER, "   ")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "x" * 4097)
    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="d" * 65)]])
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "too much data", reply_markup=markup)
    await emulator.control("POST", f"/users/{USER}/block", {"blocked": True})
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(USER, "still there?")


async def test_html_parse_mode_gives_entities_and_unescaped_markup_is_rejected(emulator: Emulator, bot: Bot) -> None:
    await emulator.say("hi")
    sent = await bot.send_message(USER, "<b>Done</b> &lt;3 <a href='https://x.org'>link</a>", parse_mode="HTML")
    assert sent.text == "Done <3 link"
    assert [(e.type, e.offset, e.length) for e in sent.entities or []] == [("bold", 0, 4), ("text_link", 8, 4)]
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(USER, "a <prompt> with brackets", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match=r"Character '\.' is reserved"):
        await bot.send_message(USER, "Ready.", parse_mode="MarkdownV2")


async def test_form_encoded_json_and_query_parameters_are_all_understood(emulator: Emulator) -> None:
    await emulator.say("hi")
    markup = json.dumps({"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]})
    form = await emulator.http.post(
        f"{emulator.url}/bot{TOKEN}/sendMessage", data={"chat_id": str(USER), "text": "form", "reply_markup": markup}
    )
    assert form.json()["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Go"
    as_json = await emulator.raw("sendMessage", {"chat_id": USER, "text": "json"})
    assert as_json.json()["result"]["text"] == "json"
    query = await emulator.http.get(f"{emulator.url}/bot{TOKEN}/sendMessage", params={"chat_id": USER, "text": "q"})
    assert query.json()["result"]["message_id"] == as_json.json()["result"]["message_id"] + 1


# --- photos -------------------------------------------------------------------------------------------


async def test_send_photo_upload_keeps_the_bytes_and_gives_photo_sizes(emulator: Emulator, bot: Bot) -> None:
    await emulator.say("draw a cat")
    image = png(1000, 600)
    sent = await bot.send_photo(USER, BufferedInputFile(image, "cat.png"), caption="Your cat", reply_markup=KEYBOARD)

    sizes = sent.photo or []
    assert [(s.width, s.height) for s in sizes] == [(90, 54), (320, 192), (800, 480), (1000, 600)]
    assert sizes[-1].file_size == len(image) and sent.caption == "Your cat"
    fetched = await emulator.http.get(f"{emulator.url}/control/bots/{TOKEN}/files/{sizes[-1].file_id}")
    assert fetched.content == image and fetched.headers["content-type"] == "image/png"
    file = await bot.get_file(sizes[-1].file_id)
    assert file.file_path
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == image
    (call,) = await emulator.control("GET", "/requests?method=sendPhoto")
    upload = next(v for v in call["params"].values() if isinstance(v, dict) and "upload" in v)
    assert upload["size"] == len(image)
    entry = (await emulator.control("GET", f"/chats/{USER}/messages"))[-1]
    assert entry["photo"] == [s.file_id for s in sizes] and entry["caption"] == "Your cat"


async def test_send_photo_rejects_non_images_and_resends_by_file_id(emulator: Emulator, bot: Bot) -> None:
    await emulator.say("hi")
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(USER, BufferedInputFile(b"<html>not an image</html>", "x.png"))
    with pytest.raises(TelegramBadRequest, match="wrong file identifier/HTTP URL specified"):
        await bot.send_photo(USER, "AgACAgIAAxkBAAIBfakeFileId")
    first = await bot.send_photo(USER, BufferedInputFile(png(64, 64), "a.png"))
    again = await bot.send_photo(USER, (first.photo or [])[-1].file_id, caption="once more")
    assert again.photo == first.photo and again.message_id == first.message_id + 1
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(USER, (first.photo or [])[-1].file_id, caption="c" * 1025)


async def test_send_photo_by_url_is_downloaded_and_an_unreachable_url_fails(
    emulator: Emulator, bot: Bot, receiver: Receiver
) -> None:
    await emulator.say("hi")
    image = png(300, 200)
    app = web.Application()

    async def serve_image(_: web.Request) -> web.Response:
        return web.Response(body=image, content_type="image/png")

    app.router.add_get("/img.png", serve_image)
    runner, url = await serve(app)
    try:
        sent = await bot.send_photo(USER, f"{url}/img.png")
    finally:
        await runner.cleanup()
    assert [(s.width, s.height) for s in sent.photo or []] == [(90, 60), (300, 200)]
    with pytest.raises(TelegramBadRequest, match="wrong file identifier/HTTP URL specified"):
        await bot.send_photo(USER, f"http://127.0.0.1:{free_port()}/gone.png")


async def test_an_upload_over_ten_megabytes_is_request_entity_too_large(emulator: Emulator) -> None:
    await emulator.say("hi")
    big = b"\xff\xd8" + b"0" * (10 * 1024 * 1024 + 10)
    response = await emulator.http.post(
        f"{emulator.url}/bot{TOKEN}/sendPhoto", data={"chat_id": str(USER)}, files={"photo": ("big.jpg", big)}
    )
    assert response.status_code == 413
    assert response.json()["description"] == "Request Entity Too Large"


# --- edits, deletes, callbacks ------------------------------------------------------------------------


async def test_edit_message_text_of_identical_content_is_not_modified(emulator: Emulator, bot: Bot) -> None:
    await emulator.say("hi")
    sent = await bot.send_message(USER, "Working…", reply_markup=KEYBOARD)
    with pytest.raises(TelegramBadRequest, match="message is not modified: specified new message content"):
        await bot.edit_message_text("Working…", chat_id=USER, message_id=sent.message_id, reply_markup=KEYBOARD)
    edited = await bot.edit_message_text("Done", chat_id=USER, message_id=sent.message_id)
    assert isinstance(edited, TgMessage) and edited.text == "Done" and edited.edit_date is not None
    assert edited.reply_markup is None  # an edit without reply_markup removes the keyboard
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=9999)
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("x", chat_id=USER, message_id=sent.message_id - 1)
    again = await bot.edit_message_reply_markup(chat_id=USER, message_id=sent.message_id, reply_markup=KEYBOARD)
    assert isinstance(again, TgMessage) and again.reply_markup is not None
    entry = (await emulator.control("GET", f"/chats/{USER}/messages"))[-1]
    assert entry["text"] == "Done" and entry["edit_date"] is not None and entry["reply_markup"] is not None


async def test_edit_message_caption_and_delete_message_update_the_transcript(emulator: Emulator, bot: Bot) -> None:
    await emulator.say("hi")
    photo = await bot.send_photo(USER, BufferedInputFile(png(32, 32), "p.png"), caption="old")
    edited = await bot.edit_message_caption(chat_id=USER, message_id=photo.message_id, caption="new")
    assert isinstance(edited, TgMessage) and edited.caption == "new"
    with pytest.raises(TelegramBadRequest, match="there is no text in the message to edit"):
        await bot.edit_message_text("t", chat_id=USER, message_id=photo.message_id)
    assert await bot.delete_message(USER, photo.message_id) is True
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(USER, photo.message_id)
    entries = await emulator.control("GET", f"/chats/{USER}/messages")
    assert [(e["sender"], e["deleted"]) for e in entries] == [("user", False), ("bot", True)]


async def test_answer_callback_query_twice_fails_and_the_first_answer_is_recorded(emulator: Emulator, bot: Bot) -> None:
    await emulator.say("hi")
    sent = await bot.send_message(USER, "Pick", reply_markup=KEYBOARD)
    pressed = await emulator.press(sent.message_id, "again")
    assert await bot.answer_callback_query(pressed["callback_query_id"], text="On it") is True
    with pytest.raises(
        TelegramBadRequest, match="query is too old and response timeout expired or query ID is invalid"
    ):
        await bot.answer_callback_query(pressed["callback_query_id"])
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("12345")
    (answer,) = await emulator.control("GET", "/callback_answers")
    assert answer["callback_query_id"] == pressed["callback_query_id"]
    assert (answer["text"], answer["user_id"]) == ("On it", USER)
    nope = await emulator.http.post(
        f"{emulator.url}/control/bots/{TOKEN}/users/{USER}/callbacks", json={"message_id": sent.message_id, "data": "x"}
    )
    assert nope.status_code == 400  # users can only press buttons that exist


async def test_a_callback_query_answered_after_the_window_is_too_old(make_emulator: Callable[..., Any]) -> None:
    emulator = await make_emulator(callback_answer_window=0.2)
    bot = emulator.bot()
    try:
        await emulator.say("hi")
        sent = await bot.send_message(USER, "Pick", reply_markup=KEYBOARD)
        pressed = await emulator.press(sent.message_id, "again")
        await asyncio.sleep(0.3)
        with pytest.raises(TelegramBadRequest, match="query is too old"):
            await bot.answer_callback_query(pressed["callback_query_id"])
    finally:
        await close_bot(bot)


async def test_chat_actions_and_commands_are_kept(emulator: Emulator, bot: Bot) -> None:
    await emulator.say("hi")
    assert await bot.send_chat_action(USER, "upload_photo") is True
    with pytest.raises(TelegramBadRequest, match="wrong parameter action"):
        await bot.send_chat_action(USER, "dancing")  # type: ignore[arg-type]
    (action,) = await emulator.control("GET", "/chat_actions")
    assert (action["chat_id"], action["action"]) == (USER, "upload_photo")
    commands = [BotCommand(command="start", description="Begin"), BotCommand(command="help", description="Help")]
    assert await bot.set_my_commands(commands) is True
    assert [c.model_dump() for c in await bot.get_my_commands()] == [c.model_dump() for c in commands]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])
    assert await bot.delete_my_commands() is True
    assert await bot.get_my_commands() == []


# --- faults -------------------------------------------------------------------------------------------


async def test_a_429_fault_raises_telegram_retry_after_with_the_given_retry_after(emulator: Emulator, bot: Bot) -> None:
    await emulator.say("hi")
    await emulator.control("POST", "/faults", {"method": "sendMessage", "status": 429, "count": 1, "retry_after": 7})
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(USER, "hello")
    assert caught.value.retry_after == 7
    raw = await emulator.raw("sendMessage", {"chat_id": USER, "text": "ok now"})
    assert raw.status_code == 200  # the fault was used up
    await emulator.control("POST", "/faults", {"method": "*", "status": 429, "count": 1, "retry_after": 3})
    limited = await emulator.raw("getMe")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    assert limited.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    statuses = [r["status"] for r in await emulator.control("GET", "/requests")]
    assert statuses == [429, 200, 429]


async def test_timeout_and_disconnect_faults_fail_the_call_and_can_still_perform_it(emulator: Emulator) -> None:
    await emulator.say("hi")
    impatient = emulator.bot(timeout=0.5)
    try:
        await emulator.control("POST", "/faults", {"method": "sendMessage", "status": "timeout", "delay": 1.5})
        with pytest.raises(TelegramNetworkError, match="Request timeout error"):
            await impatient.send_message(USER, "lost in the void")
        fault = {"method": "sendMessage", "status": "disconnect", "execute": True}
        await emulator.control("POST", "/faults", fault)
        with pytest.raises(TelegramNetworkError):
            await impatient.send_message(USER, "sent, answer lost")
    finally:
        await close_bot(impatient)
    texts = [e["text"] for e in await emulator.control("GET", f"/chats/{USER}/messages")]
    assert texts == ["hi", "sent, answer lost"]
    calls = await emulator.control("GET", "/requests?method=sendMessage")
    assert [(c["status"], c["executed"]) for c in calls] == [("timeout", False), ("disconnect", True)]


async def test_faults_are_listed_and_cleared(emulator: Emulator) -> None:
    await emulator.control("POST", "/faults", {"method": "getMe", "status": 500, "count": 3})
    assert [f["count"] for f in await emulator.control("GET", "/faults")] == [3]
    await emulator.control("DELETE", "/faults")
    assert (await emulator.raw("getMe")).status_code == 200
    bad = await emulator.http.post(f"{emulator.url}/control/bots/{TOKEN}/faults", json={"method": "x", "status": 200})
    assert bad.status_code == 400


# --- webhook ------------------------------------------------------------------------------------------


async def test_webhook_delivery_carries_the_secret_header_and_full_update_objects(
    emulator: Emulator, bot: Bot, receiver: Receiver
) -> None:
    assert await bot.set_webhook(receiver.url, secret_token="s3cret_-X", max_connections=5) is True
    said = await emulator.say("hello")
    await wait_until(lambda: len(receiver.deliveries) == 1, timeout=5)
    sent = await bot.send_message(USER, "Pick", reply_markup=KEYBOARD)
    pressed = await emulator.press(sent.message_id, "again")
    await wait_until(lambda: len(receiver.deliveries) == 2, timeout=5)

    first, second = receiver.deliveries
    assert first["headers"]["X-Telegram-Bot-Api-Secret-Token"] == "s3cret_-X"
    assert first["update"]["update_id"] == said["update_id"]
    assert first["update"]["message"]["chat"] == {"id": USER, "type": "private", "first_name": f"User {USER}"}
    callback = second["update"]["callback_query"]
    assert second["update"]["update_id"] == pressed["update_id"] == said["update_id"] + 1
    assert callback["id"] == pressed["callback_query_id"] and callback["data"] == "again"
    assert callback["chat_instance"] and callback["message"]["message_id"] == sent.message_id
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count, info.max_connections) == (receiver.url, 0, 5)
    stats = await emulator.control("GET", "/webhook")
    assert stats["delivered_count"] == 2 and stats["failed_attempts"] == 0


async def test_webhook_retries_a_503_honouring_retry_after_until_2xx(
    emulator: Emulator, bot: Bot, receiver: Receiver
) -> None:
    answers = [web.Response(status=503, headers={"Retry-After": "1"}), web.Response(status=503), web.Response()]

    async def respond(_: dict[str, Any]) -> web.StreamResponse:
        return answers.pop(0)

    receiver.respond = respond
    await bot.set_webhook(receiver.url)
    said = await emulator.say("retry me")
    await wait_until(lambda: len(receiver.deliveries) == 3, timeout=5)

    times = [d["at"] for d in receiver.deliveries]
    assert receiver.ids() == [said["update_id"]] * 3
    assert times[1] - times[0] >= 0.9  # Retry-After: 1 replaced the immediate first retry
    assert times[2] - times[1] < 0.9  # no Retry-After on the 2nd failure: the schedule's next step (0.1 s)
    stats = await wait_until(lambda: emulator.control("GET", "/webhook"), timeout=2)
    assert stats["delivered"][0]["attempts"] == 3 and stats["failed_attempts"] == 2
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 503 Service Unavailable"
    assert info.last_error_date is not None and info.pending_update_count == 0


async def test_webhook_is_one_in_flight_per_chat_and_keeps_the_chats_order(
    emulator: Emulator, bot: Bot, receiver: Receiver
) -> None:
    async def slow(_: dict[str, Any]) -> web.StreamResponse:
        await asyncio.sleep(0.15)
        return web.Response()

    receiver.respond = slow
    await bot.set_webhook(receiver.url)
    sent = [await emulator.say(f"m{i}") for i in range(4)]
    await wait_until(lambda: len(receiver.deliveries) == 4, timeout=5)
    assert receiver.ids() == [s["update_id"] for s in sent]
    assert receiver.max_in_flight[USER] == 1


async def test_updates_of_two_chats_are_delivered_concurrently_while_one_chats_head_is_failing(
    emulator: Emulator, bot: Bot, receiver: Receiver
) -> None:
    stuck, free = 1001, 2002
    free_arrived: list[int] = []
    all_free_in_flight = asyncio.Event()

    async def respond(update: dict[str, Any]) -> web.StreamResponse:
        if update["message"]["chat"]["id"] == stuck:
            return web.Response(status=500)
        # Hold every free chat's delivery until all three are in flight: serial delivery would stall here.
        free_arrived.append(update["update_id"])
        if len(free_arrived) == 3:
            all_free_in_flight.set()
        await asyncio.wait_for(all_free_in_flight.wait(), timeout=3)
        return web.Response()

    receiver.respond = respond
    await bot.set_webhook(receiver.url, max_connections=10)
    head = await emulator.say("blocked head", user=stuck)
    behind = await emulator.say("waits behind it", user=stuck)
    others = [await emulator.say(f"free {i}", user=free + i) for i in range(3)]
    other_ids = {o["update_id"] for o in others}
    await wait_until(lambda: other_ids <= set(receiver.ids()), timeout=5)
    await wait_until(lambda: receiver.ids().count(head["update_id"]) >= 3, timeout=5)

    assert behind["update_id"] not in receiver.ids()  # head-of-line blocking within the chat only
    assert all_free_in_flight.is_set() and receiver.peak_total >= 3  # the free chats were in flight together
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 2
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"


async def test_a_refused_webhook_connection_is_reported_and_the_update_waits(
    emulator: Emulator, bot: Bot, receiver: Receiver
) -> None:
    await bot.set_webhook(receiver.url)
    port = free_port()
    await emulator.control("POST", "/updates", raw_message(5, "x"))
    await wait_until(lambda: len(receiver.deliveries) == 1, timeout=5)
    # Point the webhook at a port that closes right after verification: deliveries are refused.
    listener = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", port)
    await bot.set_webhook(f"http://127.0.0.1:{port}/hook")
    listener.close()
    await listener.wait_closed()
    await emulator.say("nobody home")

    async def refused() -> bool:
        return (await bot.get_webhook_info()).last_error_message == "Connection refused"

    await wait_until(refused, timeout=5)
    assert (await bot.get_webhook_info()).pending_update_count == 1


async def test_a_slow_webhook_times_out_as_read_timeout_expired_and_is_retried(
    make_emulator: Callable[..., Any], receiver: Receiver
) -> None:
    emulator = await make_emulator(webhook_timeout=0.3)
    bot = emulator.bot()

    async def slow_then_fast(_: dict[str, Any]) -> web.StreamResponse:
        if len(receiver.deliveries) == 1:
            await asyncio.sleep(1)
        return web.Response()

    receiver.respond = slow_then_fast
    try:
        await bot.set_webhook(receiver.url)
        said = await emulator.say("take your time")
        await wait_until(lambda: len(receiver.deliveries) == 2, timeout=5)
        assert receiver.ids() == [said["update_id"]] * 2
        info = await bot.get_webhook_info()
        assert info.last_error_message == "Read timeout expired" and info.pending_update_count == 0
    finally:
        await close_bot(bot)


async def test_an_undeliverable_message_update_is_dropped_once_it_is_a_day_old(
    emulator: Emulator, bot: Bot, receiver: Receiver
) -> None:
    async def refuse(_: dict[str, Any]) -> web.StreamResponse:
        return web.Response(status=502)

    receiver.respond = refuse
    await bot.set_webhook(receiver.url)
    # 3 s short of a day: the first attempt must come before the day is up even on a loaded machine (the date
    # is whole seconds, so 1 s of margin could be almost none), and the retries every ≤ 0.4 s carry it over.
    queued = await emulator.control("POST", "/updates", raw_message(31, "yesterday", age=86400 - 3))

    async def dropped() -> list[dict[str, Any]]:
        return (await emulator.control("GET", "/webhook"))["dropped"]

    (drop,) = await wait_until(dropped, timeout=10)
    assert drop["update_id"] == queued["update_id"] and drop["attempts"] >= 2
    assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_the_webhook_answer_can_carry_a_method_which_telegram_executes(
    emulator: Emulator, bot: Bot, receiver: Receiver
) -> None:
    async def reply(update: dict[str, Any]) -> web.StreamResponse:
        chat_id = update["message"]["chat"]["id"]
        return web.json_response({"method": "sendMessage", "chat_id": chat_id, "text": "inline reply"})

    receiver.respond = reply
    await bot.set_webhook(receiver.url)
    await emulator.say("hi")

    async def replied() -> bool:
        return [e["text"] for e in await emulator.control("GET", f"/chats/{USER}/messages")] == ["hi", "inline reply"]

    await wait_until(replied, timeout=5)
    (call,) = await emulator.control("GET", "/requests?method=sendMessage")
    assert call["via"] == "webhook_reply"


async def test_set_webhook_to_a_closed_port_or_unknown_host_fails_with_bad_webhook(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="bad webhook: Connection refused"):
        await bot.set_webhook(f"http://127.0.0.1:{free_port()}/hook")
    with pytest.raises(TelegramBadRequest, match="bad webhook: Failed to resolve host"):
        await bot.set_webhook("https://no-such-host.invalid/hook")
    assert (await bot.get_webhook_info()).url == ""


async def test_set_webhook_checks_the_secret_and_is_rate_limited_to_one_call_per_second(
    make_emulator: Callable[..., Any], receiver: Receiver
) -> None:
    emulator = await make_emulator(set_webhook_rate_limit=True)
    bot = emulator.bot()
    try:
        with pytest.raises(TelegramBadRequest, match="secret token contains unallowed characters"):
            await bot.set_webhook(receiver.url, secret_token="not allowed!")
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.set_webhook(receiver.url)  # the failed call above still counted
        assert caught.value.retry_after == 1
        assert await bot.delete_webhook() is True  # deleteWebhook is not limited
    finally:
        await close_bot(bot)


async def test_set_webhook_with_the_same_parameters_says_already_set(emulator: Emulator, receiver: Receiver) -> None:
    first = await emulator.raw("setWebhook", {"url": receiver.url, "max_connections": 500})
    assert first.json() == {"ok": True, "result": True, "description": "Webhook was set"}
    second = await emulator.raw("setWebhook", {"url": receiver.url, "max_connections": 100})  # 500 was clamped
    assert second.json() == {"ok": True, "result": True, "description": "Webhook is already set"}
    assert (await emulator.raw("deleteWebhook")).json()["description"] == "Webhook was deleted"
    assert (await emulator.raw("deleteWebhook")).json()["description"] == "Webhook is already deleted"


# --- polling ------------------------------------------------------------------------------------------


async def test_get_updates_long_poll_returns_an_update_sent_meanwhile_and_confirms_by_offset(
    emulator: Emulator, bot: Bot
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    said = await emulator.say("/start")
    (update,) = await asyncio.wait_for(poll, timeout=3)
    assert time.monotonic() - started < 4  # answered when the update arrived, not at the 5 s timeout
    assert update.update_id == said["update_id"] and update.message and update.message.text == "/start"
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [said["update_id"]]  # not confirmed yet
    assert await bot.get_updates(offset=said["update_id"] + 1, timeout=0) == []
    assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_get_updates_is_409_while_a_webhook_is_set_and_a_second_poller_terminates_the_first(
    emulator: Emulator, bot: Bot, receiver: Receiver
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    second = asyncio.create_task(bot.get_updates(timeout=1))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, timeout=3)
    assert await second == []
    await bot.set_webhook(receiver.url)
    with pytest.raises(TelegramConflictError, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == []


async def test_allowed_updates_filter_updates_and_raw_updates_are_enqueued_as_is(emulator: Emulator, bot: Bot) -> None:
    await bot.get_updates(allowed_updates=["callback_query"], timeout=0)
    filtered = await emulator.say("ignored")
    assert filtered["update_id"] is None
    await bot.get_updates(allowed_updates=[], timeout=0)  # back to the default set
    chosen = {"result_id": "r1", "from": {"id": 5, "is_bot": False, "first_name": "Q"}, "query": "cats"}
    raw = {"update_id": 777, "chosen_inline_result": chosen}
    for _ in range(2):  # the same update twice, as a webhook retry would
        assert (await emulator.control("POST", "/updates", raw))["update_id"] == 777
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [777, 777] and updates[0].chosen_inline_result is not None
    generated = await emulator.control("POST", "/updates", raw_message(9, "hey"))
    assert isinstance(generated["update_id"], int) and generated["queued"] is True
    assert (await bot.send_message(9, "a reply to a raw update's chat")).chat.id == 9


async def test_an_aiogram_dispatcher_polls_answers_a_button_press_and_edits_the_message(
    emulator: Emulator, bot: Bot
) -> None:
    dp = Dispatcher()

    @dp.message(F.text == "/start")
    async def start(message: TgMessage) -> None:
        await message.answer("Pick", reply_markup=KEYBOARD)

    @dp.callback_query(F.data == "again")
    async def again(query: CallbackQuery) -> None:
        await query.answer("OK")
        assert isinstance(query.message, TgMessage)
        await query.message.edit_text("Picked")

    polling = asyncio.create_task(
        dp.start_polling(bot, polling_timeout=1, handle_signals=False, close_bot_session=False)
    )
    try:
        await emulator.say("/start")

        async def keyboard_message() -> list[dict[str, Any]]:
            return [e for e in await emulator.control("GET", f"/chats/{USER}/messages") if e["sender"] == "bot"]

        (menu,) = await wait_until(keyboard_message, timeout=5)
        await emulator.press(menu["message_id"], "again")

        async def edited() -> bool:
            return (await keyboard_message())[0]["text"] == "Picked"

        await wait_until(edited, timeout=5)
        assert [a["text"] for a in await emulator.control("GET", "/callback_answers")] == ["OK"]
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, timeout=5)


async def test_reset_forgets_every_bot_and_health_is_ok(emulator: Emulator, bot: Bot) -> None:
    await emulator.say("hi")
    assert (await emulator.http.get(f"{emulator.url}/control/health")).status_code == 200
    assert (await emulator.http.post(f"{emulator.url}/control/reset")).status_code == 200
    assert await emulator.control("GET", f"/chats/{USER}/messages") == []
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(USER, "anyone?")


async def test_group_messages_carry_the_group_chat_and_the_sender(emulator: Emulator, bot: Bot) -> None:
    said = await emulator.say("/start@emulated_123456_bot", chat_id=-1001234567890)
    sent = await bot.send_message(-1001234567890, "Hello group")
    assert sent.chat.type == "supergroup" and sent.message_id == said["message_id"] + 1
    (user_msg, _) = await emulator.control("GET", "/chats/-1001234567890/messages")
    assert user_msg["message"]["from"]["id"] == USER
    assert user_msg["entities"] == [{"type": "bot_command", "offset": 0, "length": 26}]


async def test_the_command_line_server_serves_the_bot_api_and_the_control_api(telegram_emulator: Any) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        me = (await http.get(f"{telegram_emulator.url}/bot{TOKEN}/getMe")).json()
        assert me["ok"] is True and me["result"]["id"] == BOT_ID
        control = telegram_emulator.control(TOKEN)
        await control.send_text(USER, "over the wire")
        assert [e["text"] for e in await control.transcript(USER)] == ["over the wire"]
    assert telegram_emulator.terminate() == 0
