"""/start, /help, /cancel, text outside any flow and stale buttons, against the Telegram emulator and real NATS."""

from __future__ import annotations

import time

import pytest
from nats.js import JetStreamContext

from imagebot_common.nats import subjects
from tests.integration.dispatcher import conversation_harness
from tests.integration.dispatcher.conversation_harness import (
    ChatDriver,
    MakeConversation,
)
from tests.support.nats_server import NatsServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

# Fixtures of the harness, bound here so pytest finds them.
telegram_emulator = conversation_harness.telegram_emulator
make_conversation = conversation_harness.make_conversation


def button_labels(message: dict) -> list[str]:
    return [b["text"] for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


async def test_start_shows_the_russian_main_menu_with_the_model_catalog(make_conversation: MakeConversation):
    conversation, control = await make_conversation()
    chat = ChatDriver(conversation, control)

    await chat.send("/start")

    menu = await chat.last_bot_message()
    assert "Привет" in menu["text"]
    assert button_labels(menu) == ["🖼 Создать картинку", "🧠 Модели", "❓ Помощь"]


async def test_start_speaks_english_to_a_user_whose_language_is_english(make_conversation: MakeConversation):
    conversation, control = await make_conversation()
    chat = ChatDriver(conversation, control, language_code="en-US")

    await chat.send("/start")

    menu = await chat.last_bot_message()
    assert menu["text"].startswith("👋 Hi!")
    assert button_labels(menu) == ["🖼 Create a picture", "🧠 Models", "❓ Help"]


async def test_single_model_only_hides_the_catalog(make_conversation: MakeConversation):
    conversation, control = await make_conversation(single_model_only=True)
    chat = ChatDriver(conversation, control)

    await chat.send("/start")

    assert button_labels(await chat.last_bot_message()) == ["🖼 Создать картинку", "❓ Помощь"]


async def test_the_catalog_lists_z_image_first_and_picking_a_model_asks_for_the_prompt(
    make_conversation: MakeConversation,
):
    conversation, control = await make_conversation()
    chat = ChatDriver(conversation, control)
    await chat.send("/start")

    await chat.press("🧠 Модели")
    catalog = await chat.last_bot_message()
    labels = button_labels(catalog)
    assert labels[0] == "Z-Image Turbo"
    assert len(labels) > 2 and labels[-1] == "◀️ В меню"

    await chat.press(labels[1])
    assert "Опишите картинку" in (await chat.last_bot_message())["text"]


@pytest.mark.parametrize("first_attempt", [True, False], ids=["with its read ahead", "a retry"])
async def test_start_answers_fast_with_the_fallback_menu_while_nats_is_down(
    make_conversation: MakeConversation, nats_server: NatsServer, nc, first_attempt: bool
):
    conversation, control = await make_conversation()
    chat = ChatDriver(conversation, control)
    sent = await control.send_text(chat.user_id, "/start", language_code="ru")
    update = await control.pending_update(sent["update_id"])
    nats_server.stop()
    await wait_until(lambda: not nc.is_connected, timeout=5, message="the client to notice the outage")
    try:
        started = time.monotonic()
        ahead = await conversation.read_ahead(update) if first_attempt else None
        await conversation.handle_update(update, update_id=sent["update_id"], headers={}, read_ahead=ahead)
        elapsed = time.monotonic() - started
    finally:
        nats_server.start()

    menu = await chat.last_bot_message()
    assert elapsed < 0.5
    assert "Привет" in menu["text"] and "перебоями" in menu["text"]
    assert button_labels(menu) == ["🖼 Создать картинку", "❓ Помощь"]


async def test_start_still_answers_when_the_fsm_bucket_is_gone(
    make_conversation: MakeConversation, js: JetStreamContext
):
    conversation, control = await make_conversation()
    chat = ChatDriver(conversation, control)
    await js.delete_key_value(subjects.FSM_BUCKET)

    await chat.send("/start")

    assert "перебоями" in (await chat.last_bot_message())["text"]


async def test_help_explains_the_flow_and_the_limits(make_conversation: MakeConversation):
    conversation, control = await make_conversation(hourly_jobs_per_user=7, support_telegram="@imagebot_help")
    chat = ChatDriver(conversation, control)

    await chat.send("/help")

    text = (await chat.last_bot_message())["text"]
    assert "7 в час" in text and "@imagebot_help" in text and "/cancel" in text


async def test_cancel_ends_the_flow_and_says_so(make_conversation: MakeConversation):
    conversation, control = await make_conversation()
    chat = ChatDriver(conversation, control)
    await chat.send("/start")
    await chat.press("🖼 Создать картинку")

    await chat.send("/cancel")
    assert (await chat.last_bot_message())["text"] == "Отменено."
    await chat.send("/cancel")
    assert (await chat.last_bot_message())["text"] == "Нечего отменять."


async def test_text_outside_any_flow_gets_a_hint_and_the_menu(make_conversation: MakeConversation):
    conversation, control = await make_conversation()
    chat = ChatDriver(conversation, control)

    await chat.send("привет, бот")

    reply = await chat.last_bot_message()
    assert "Создать картинку" in reply["text"]
    assert "🖼 Создать картинку" in button_labels(reply)


async def test_a_stale_button_is_answered_as_outdated(make_conversation: MakeConversation):
    conversation, control = await make_conversation()
    chat = ChatDriver(conversation, control)
    await chat.send("/start")
    menu = await chat.last_bot_message()

    await chat.press_data(menu["message_id"], "zimage:ratio:16:9", check_button=False)  # the original bot's data

    answers = await control.callback_answers()
    assert answers[-1]["text"] == "⚠️ Эта кнопка устарела. Обновите меню: /start"


async def test_commands_are_registered_at_start_up_in_russian_and_english(make_conversation: MakeConversation):
    _, control = await make_conversation()

    calls = await wait_until(lambda: _two_command_sets(control), timeout=5, message="setMyCommands twice")

    names = [c["command"] for c in calls[0]["params"]["commands"]]
    assert names == ["start", "help", "cancel"]
    assert {c["params"].get("language_code") for c in calls} == {None, "en"}


async def _two_command_sets(control) -> list | None:
    calls = [c for c in await control.requests("setMyCommands") if c.get("ok")]
    return calls if len(calls) == 2 else None


async def test_help_answers_while_nats_is_down(make_conversation: MakeConversation, nats_server: NatsServer, nc):
    conversation, control = await make_conversation()
    chat = ChatDriver(conversation, control, language_code="en")
    sent = await control.send_text(chat.user_id, "/help", language_code="en")
    update = await control.pending_update(sent["update_id"])
    nats_server.stop()
    await wait_until(lambda: not nc.is_connected, timeout=5, message="the client to notice the outage")
    try:
        await conversation.handle_update(update, update_id=sent["update_id"], headers={})
    finally:
        nats_server.start()

    assert (await chat.last_bot_message())["text"].startswith("How it works")


async def test_another_replica_continues_the_conversation(make_conversation: MakeConversation):
    """The FSM lives in NATS KV: a second dispatcher process with the same bot picks up where the first left."""
    first, control = await make_conversation()
    await ChatDriver(first, control).send("/start")
    await ChatDriver(first, control).press("🖼 Создать картинку")

    second, _ = await make_conversation(telegram_bot_token=first.bot.token)
    chat = ChatDriver(second, control)
    await chat.send("северное сияние")

    assert (await chat.last_bot_message())["text"] == "📐 Выберите формат:"
