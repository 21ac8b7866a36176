"""aiogram's per-method `Response[T]` models are built once per process, not once per Bot API call."""

from __future__ import annotations

import gc
import weakref

from aiogram import Bot
from aiogram.methods import Response, SendMessage
from aiogram.types import Message

from imagebot_dispatcher.conversation.response_models import PinResponseModels


async def test_the_response_model_of_a_called_method_survives_garbage_collection() -> None:
    pin = PinResponseModels()
    bot = Bot("123456789:TEST-token-for-response-models")

    async def answer(_bot: Bot, _method: SendMessage) -> str:
        return "answered"

    assert await pin(answer, bot, SendMessage(chat_id=1, text="hi")) == "answered"
    model = weakref.ref(Response[Message])
    gc.collect()
    assert model() is not None
    assert Response[Message] is model()
    await bot.session.close()
