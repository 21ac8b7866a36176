"""The picture flow end to end on the dispatcher's side: prompt → format → job on IMAGE_JOBS → result → photo.

Real nats-server (jobs stream, KV buckets, object store) and the Telegram emulator; no imagegen: the tests
play it by reading the job and publishing the result event.
"""

from __future__ import annotations

import pytest
from nats.js import JetStreamContext

from imagebot_common.messages.v1 import IMAGE_RESULT_EVENT, ImageJobV1
from imagebot_common.nats import subjects
from imagebot_dispatcher.conversation.service import Conversation
from tests.integration.dispatcher import conversation_harness
from tests.integration.dispatcher.conversation_harness import (
    ChatDriver,
    ConversationControl,
    MakeConversation,
    failure_for,
    png_bytes,
    provision_imagegen_side,
    published_jobs,
    store_picture,
    success_for,
)

pytestmark = pytest.mark.integration

# Fixtures of the harness, bound here so pytest finds them.
telegram_emulator = conversation_harness.telegram_emulator
make_conversation = conversation_harness.make_conversation

PROMPT = "кот-космонавт в открытом космосе, акварель"


def button_labels(message: dict) -> list[str]:
    return [b["text"] for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


async def ask_for_picture(chat: ChatDriver, prompt: str = PROMPT, ratio_label: str = "Широкий 16:9") -> dict:
    """/start → "🖼 Создать картинку" → prompt → format; returns the format press update."""
    await chat.send("/start")
    await chat.press("🖼 Создать картинку")
    await chat.send(prompt)
    return await chat.press(ratio_label)


@pytest.fixture
async def flow(make_conversation: MakeConversation, js: JetStreamContext) -> tuple[Conversation, ConversationControl]:
    await provision_imagegen_side(js)
    return await make_conversation()


async def test_the_whole_flow_publishes_one_job_derived_from_the_format_press(flow, js: JetStreamContext):
    conversation, control = flow
    chat = ChatDriver(conversation, control)
    await chat.send("/start")
    await chat.press("🖼 Создать картинку")
    assert "Опишите картинку" in (await chat.last_bot_message())["text"]

    await chat.send(PROMPT)
    formats = await chat.last_bot_message()
    assert button_labels(formats)[:5] == [
        "Квадрат 1:1",
        "Широкий 16:9",
        "Вертикальный 9:16",
        "Классический 4:3",
        "Портрет 3:4",
    ]

    press = await chat.press("Широкий 16:9")

    status = await chat.last_bot_message()
    assert status["text"].startswith("⏳ Генерирую…")
    [job] = await published_jobs(js)
    assert job.job_id == f"{conversation.bot_id}:{press['update_id']}"
    assert (job.prompt, job.aspect_ratio, job.model, job.language) == (PROMPT, "16:9", "z-image", "ru")
    assert (job.chat_id, job.user_id, job.status_message_id) == (chat.user_id, chat.user_id, status["message_id"])
    stored = await js.get_last_msg(subjects.IMAGE_JOBS_STREAM, subjects.IMAGE_JOBS_SUBJECT)
    assert stored.headers[subjects.MSG_ID_HEADER] == job.job_id


async def test_the_format_press_is_answered_before_anything_else(flow):
    conversation, control = flow
    chat = ChatDriver(conversation, control)
    press = await ask_for_picture(chat)

    query_id = press["callback_query"]["id"]
    calls = await control.requests()
    answer = next(
        c for c in calls if c["method"] == "answerCallbackQuery" and c["params"]["callback_query_id"] == query_id
    )
    status = next(c for c in calls if c["method"] == "sendMessage" and c["params"]["text"].startswith("⏳"))
    assert answer["seq"] < status["seq"]


async def test_a_redelivered_format_press_creates_no_second_job(flow, js: JetStreamContext):
    conversation, control = flow
    chat = ChatDriver(conversation, control)
    press = await ask_for_picture(chat)

    await conversation.handle_update(press, update_id=press["update_id"], headers={})

    assert len(await published_jobs(js)) == 1


async def test_a_result_is_sent_as_a_photo_of_the_stored_bytes_with_the_prompt_and_buttons(flow, js: JetStreamContext):
    conversation, control = flow
    chat = ChatDriver(conversation, control)
    await ask_for_picture(chat)
    [job] = await published_jobs(js)
    picture = png_bytes()
    image = await store_picture(js, f"{job.job_id}.png", picture)

    await conversation.handle_event(IMAGE_RESULT_EVENT, success_for(job, image).to_bytes(), headers={})

    messages = await chat.bot_messages()
    photo = messages[-1]
    assert photo["photo"] and photo["caption"] == PROMPT
    assert button_labels(photo) == ["🖼 Создать ещё", "◀️ В меню"]
    assert await control.file_bytes(photo["photo"][-1]) == picture  # uploaded bytes, not a provider URL
    status = next(m for m in messages if m["message_id"] == job.status_message_id)
    assert status["text"] == "✅ Готово"


async def test_a_result_that_arrives_twice_is_delivered_once(flow, js: JetStreamContext):
    conversation, control = flow
    chat = ChatDriver(conversation, control)
    await ask_for_picture(chat)
    [job] = await published_jobs(js)
    result = success_for(job, await store_picture(js, "twice.png", png_bytes()))

    await conversation.handle_event(IMAGE_RESULT_EVENT, result.to_bytes(), headers={})
    await conversation.handle_event(IMAGE_RESULT_EVENT, result.to_bytes(), headers={})

    assert len([m for m in await chat.bot_messages() if m["photo"]]) == 1
    assert len(await control.requests("sendPhoto")) == 1


async def test_a_long_prompt_is_cut_to_the_caption_limit(flow, js: JetStreamContext):
    conversation, control = flow
    chat = ChatDriver(conversation, control)
    long_prompt = "🐱" * 600  # 600 characters, 1200 UTF-16 units: over the 1024 caption limit
    await ask_for_picture(chat, prompt=long_prompt)
    [job] = await published_jobs(js)

    result = success_for(job, await store_picture(js, "long.png", png_bytes()))
    await conversation.handle_event(IMAGE_RESULT_EVENT, result.to_bytes(), headers={})

    caption = (await chat.last_bot_message())["caption"]
    assert caption.endswith("…") and len(caption.encode("utf-16-le")) // 2 <= 1024


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("insufficient_credits", "закончились кредиты"),
        ("content_rejected", "не прошло проверку"),
        ("generation_failed", "Не получилось создать картинку"),
        ("provider_unavailable", "Сервис генерации сейчас недоступен"),
        ("timeout", "слишком много времени"),
    ],
)
async def test_each_failure_kind_gets_its_own_message_and_a_retry_button(flow, js: JetStreamContext, kind, expected):
    conversation, control = flow
    chat = ChatDriver(conversation, control)
    await ask_for_picture(chat)
    [job] = await published_jobs(js)

    await conversation.handle_event(IMAGE_RESULT_EVENT, failure_for(job, kind).to_bytes(), headers={})

    failure = await chat.last_bot_message()
    assert expected in failure["text"]
    assert failure["message_id"] == job.status_message_id  # the status message became the failure
    assert button_labels(failure) == ["🔄 Попробовать снова", "◀️ В меню"]


async def test_try_again_asks_for_the_format_of_the_same_prompt(flow, js: JetStreamContext):
    conversation, control = flow
    chat = ChatDriver(conversation, control)
    await ask_for_picture(chat)
    [first] = await published_jobs(js)
    await js.purge_stream(subjects.IMAGE_JOBS_STREAM)  # imagegen took it
    await conversation.handle_event(IMAGE_RESULT_EVENT, failure_for(first, "timeout").to_bytes(), headers={})

    await chat.press("🔄 Попробовать снова")
    assert (await chat.last_bot_message())["text"] == "📐 Выберите формат:"
    await chat.press("Квадрат 1:1")

    [second] = await published_jobs(js)
    assert (second.prompt, second.aspect_ratio) == (PROMPT, "1:1")
    assert second.job_id != first.job_id


async def test_create_another_asks_for_a_new_prompt(flow, js: JetStreamContext):
    conversation, control = flow
    chat = ChatDriver(conversation, control)
    await ask_for_picture(chat)
    [job] = await published_jobs(js)
    result = success_for(job, await store_picture(js, "more.png", png_bytes()))
    await conversation.handle_event(IMAGE_RESULT_EVENT, result.to_bytes(), headers={})

    await chat.press("🖼 Создать ещё")

    assert "Опишите картинку" in (await chat.last_bot_message())["text"]


async def test_an_english_user_gets_english_texts_and_the_job_says_en(make_conversation, js: JetStreamContext):
    await provision_imagegen_side(js)
    conversation, control = await make_conversation()
    chat = ChatDriver(conversation, control, language_code="en")
    await chat.send("/start")
    await chat.press("🖼 Create a picture")
    await chat.send("a red bicycle")
    await chat.press("Square 1:1")

    [job] = await published_jobs(js)
    assert job.language == "en"
    await conversation.handle_event(IMAGE_RESULT_EVENT, failure_for(job, "timeout").to_bytes(), headers={})
    assert "took too long" in (await chat.last_bot_message())["text"]


async def test_a_too_long_prompt_is_refused_with_the_limit_and_a_shorter_one_is_taken(flow, js: JetStreamContext):
    conversation, control = flow
    chat = ChatDriver(conversation, control)
    await chat.send("/start")
    await chat.press("🖼 Создать картинку")

    await chat.send("ж" * 1001)
    refusal = (await chat.last_bot_message())["text"]
    assert "1001" in refusal and "1000" in refusal

    await chat.send("ж" * 1000)
    assert (await chat.last_bot_message())["text"] == "📐 Выберите формат:"


async def test_a_picture_or_file_instead_of_a_prompt_asks_for_text(flow):
    conversation, control = flow
    chat = ChatDriver(conversation, control)
    await chat.send("/start")
    await chat.press("🖼 Создать картинку")
    sticker = await control.inject_update(
        {
            "message": {
                "message_id": 10_000,
                "date": 1_700_000_000,
                "chat": {"id": chat.user_id, "type": "private", "first_name": "U"},
                "from": {"id": chat.user_id, "is_bot": False, "first_name": "U", "language_code": "ru"},
                "sticker": {
                    "file_id": "s1",
                    "file_unique_id": "s1u",
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                },
            }
        }
    )
    await chat.feed(sticker["update_id"])

    assert (await chat.last_bot_message())["text"] == "Пришлите описание текстом."


async def test_a_format_button_of_an_earlier_prompt_is_stale(flow, js: JetStreamContext):
    conversation, control = flow
    chat = ChatDriver(conversation, control)
    await chat.send("/start")
    await chat.press("🖼 Создать картинку")
    await chat.send("первый вариант")
    old_message_id, old_data = await chat.find_button("Широкий 16:9")
    await chat.send("второй вариант")  # a new prompt replaces the first

    await chat.press_data(old_message_id, old_data)

    assert (await chat.last_bot_message())["text"] == "⚠️ Эта кнопка устарела. Обновите меню: /start"
    assert await published_jobs(js) == []


async def test_a_missing_jobs_stream_tells_the_user_the_service_is_busy(make_conversation, js: JetStreamContext):
    conversation, control = await make_conversation()  # imagegen's stream was never created
    chat = ChatDriver(conversation, control)

    await ask_for_picture(chat)

    assert "перегружен" in (await chat.last_bot_message())["text"]


async def test_a_full_jobs_stream_tells_the_user_the_service_is_busy(make_conversation, js: JetStreamContext):
    from imagebot_common.nats import topology

    await topology.ensure_stream(js, topology.image_jobs_stream(max_msgs=1))
    await js.publish(
        subjects.IMAGE_JOBS_SUBJECT, ImageJobV1(job_id="x", bot_id=1, chat_id=1, user_id=1, prompt="p").to_bytes()
    )
    conversation, control = await make_conversation()
    chat = ChatDriver(conversation, control)

    await ask_for_picture(chat)

    assert "перегружен" in (await chat.last_bot_message())["text"]
    assert len(await published_jobs(js)) == 1
