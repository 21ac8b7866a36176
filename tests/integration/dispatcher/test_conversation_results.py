"""Result events in the odd cases: a vanished picture, a blocked user, another bot's result, unknown events;
and a start-up that never waits for Telegram."""

from __future__ import annotations

import time

import pytest
from nats.js import JetStreamContext
from pydantic import ValidationError

from imagebot_common.messages.v1 import IMAGE_RESULT_EVENT, ImageRef
from imagebot_dispatcher.conversation.service import UnknownEventType
from tests.integration.dispatcher import conversation_harness
from tests.integration.dispatcher.conversation_harness import (
    ChatDriver,
    MakeConversation,
    png_bytes,
    provision_imagegen_side,
    published_jobs,
    store_picture,
    success_for,
)
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

telegram_emulator = conversation_harness.telegram_emulator
make_conversation = conversation_harness.make_conversation


async def one_job(make_conversation: MakeConversation, js: JetStreamContext, **settings):
    await provision_imagegen_side(js)
    conversation, control = await make_conversation(**settings)
    chat = ChatDriver(conversation, control)
    await chat.send("/start")
    await chat.press("🖼 Создать картинку")
    await chat.send("маяк на закате")
    await chat.press("Квадрат 1:1")
    [job] = await published_jobs(js)
    return conversation, control, chat, job


async def test_a_picture_missing_from_the_store_becomes_a_failure_with_retry(make_conversation, js):
    conversation, _, chat, job = await one_job(make_conversation, js)
    gone = ImageRef(object_name="expired.png", content_type="image/png", size=10)

    await conversation.handle_event(IMAGE_RESULT_EVENT, success_for(job, gone).to_bytes(), headers={})

    reply = await chat.last_bot_message()
    assert reply["text"] == "❌ Что-то пошло не так. Попробуйте снова."
    assert reply["reply_markup"]["inline_keyboard"][0][0]["text"] == "🔄 Попробовать снова"


async def test_a_result_for_a_user_who_blocked_the_bot_is_dropped_not_retried(make_conversation, js):
    conversation, control, chat, job = await one_job(make_conversation, js)
    await control.block(chat.user_id)
    image = await store_picture(js, "blocked.png", png_bytes())

    await conversation.handle_event(IMAGE_RESULT_EVENT, success_for(job, image).to_bytes(), headers={})
    await conversation.handle_event(IMAGE_RESULT_EVENT, success_for(job, image).to_bytes(), headers={})

    assert [c["status"] for c in await control.requests("sendPhoto")] == [403]  # recorded once, never retried


async def test_a_result_of_another_bot_is_ignored(make_conversation, js):
    conversation, control, _, job = await one_job(make_conversation, js)
    foreign = success_for(job, await store_picture(js, "f.png", png_bytes())).model_copy(update={"bot_id": 1})

    await conversation.handle_event(IMAGE_RESULT_EVENT, foreign.to_bytes(), headers={})

    assert await control.requests("sendPhoto") == []


async def test_unknown_events_and_broken_payloads_raise_for_the_engine_to_dead_letter(make_conversation, js):
    conversation, _ = await make_conversation()
    with pytest.raises(UnknownEventType):
        await conversation.handle_event("image_result.v9", b"{}", headers={})
    with pytest.raises(ValidationError):
        await conversation.handle_event(IMAGE_RESULT_EVENT, b'{"job_id": 1}', headers={})


async def test_start_up_does_not_wait_for_an_unreachable_telegram(make_conversation: MakeConversation):
    started = time.monotonic()
    conversation, _ = await make_conversation(telegram_api_url=f"http://127.0.0.1:{free_port()}")
    assert time.monotonic() - started < 2.0
    assert conversation.bot_id > 0


async def test_a_broken_catalog_leaves_z_image_working(make_conversation, js, tmp_path):
    broken = tmp_path / "catalog.json"
    broken.write_text("[]")
    _, _, chat, job = await one_job(make_conversation, js, catalog_path=str(broken))

    assert job.model == "z-image"
    menu = next(m for m in await chat.bot_messages() if m["text"] and "Привет" in m["text"])
    assert [b["text"] for row in menu["reply_markup"]["inline_keyboard"] for b in row] == [
        "🖼 Создать картинку",
        "❓ Помощь",
    ]


async def test_a_model_from_the_catalog_travels_in_the_job(make_conversation, js):
    await provision_imagegen_side(js)
    conversation, control = await make_conversation()
    chat = ChatDriver(conversation, control)
    await chat.send("/start")
    await chat.press("🧠 Модели")
    await chat.press("Seedream 4.5 β")
    await chat.send("горный пейзаж")
    await chat.press("Портрет 3:4")

    [job] = await published_jobs(js)
    assert (job.model, job.aspect_ratio) == ("seedream/4.5-text-to-image", "3:4")
