"""Drive the real Conversation with updates the Telegram emulator makes, and read back what the bot did.

Each case gets its own bot token (the emulator creates a bot on first use), so cases never see each other's
chats; one emulator process serves a whole test module.
"""

from __future__ import annotations

import io
import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from PIL import Image

from imagebot_common.messages.v1 import ImageJobV1, ImageRef, ImageResultV1, JobError
from imagebot_common.nats import subjects, topology
from imagebot_dispatcher.conversation.service import Conversation, build_conversation
from imagebot_dispatcher.settings import DispatcherSettings
from tests.support.emulators import TelegramControl, TelegramEmulator

USER_ID = 555000111

# Fast, generous limits so cases do not wait on pacing (pacing has its own unit tests).
FAST_TELEGRAM = {
    "telegram_chat_rate": 1000.0,
    "telegram_chat_burst": 100,
    "telegram_group_per_minute": 10_000,
    "telegram_global_rate": 10_000.0,
    "telegram_backoff_seconds": 0.02,
}


class ConversationControl(TelegramControl):
    """The shared emulator client plus what the conversation tests read."""

    async def pending_update(self, update_id: int) -> dict[str, Any]:
        pending = await self._request("GET", "/updates")
        return next(item["update"] for item in pending if item["update_id"] == update_id)

    async def callback_answers(self) -> list[dict[str, Any]]:
        return await self._request("GET", "/callback_answers")

    async def block(self, user_id: int, blocked: bool = True) -> None:
        await self._request("POST", f"/users/{user_id}/block", json={"blocked": blocked})

    async def file_bytes(self, file_id: str) -> bytes:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"{self._base}/files/{file_id}")
            response.raise_for_status()
            return response.content


@dataclass
class ChatDriver:
    """One user in a private chat with the bot: send text, press buttons, read the bot's messages."""

    conversation: Conversation
    control: ConversationControl
    user_id: int = USER_ID
    language_code: str = "ru"

    async def feed(self, update_id: int) -> dict[str, Any]:
        """As the engine feeds an update's first attempt: read ahead, then handled with what was read."""
        update = await self.control.pending_update(update_id)
        ahead = await self.conversation.read_ahead(update)
        await self.conversation.handle_update(update, update_id=update_id, headers={}, read_ahead=ahead)
        return update

    async def send(self, text: str) -> dict[str, Any]:
        sent = await self.control.send_text(self.user_id, text, language_code=self.language_code)
        return await self.feed(sent["update_id"])

    async def bot_messages(self) -> list[dict[str, Any]]:
        return [m for m in await self.control.transcript(self.user_id) if m["sender"] == "bot" and not m["deleted"]]

    async def last_bot_message(self) -> dict[str, Any]:
        return (await self.bot_messages())[-1]

    async def find_button(self, label: str) -> tuple[int, str]:
        """The newest bot message with a button labelled `label`: (message id, callback data)."""
        for message in reversed(await self.bot_messages()):
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if button["text"] == label:
                        return message["message_id"], button["callback_data"]
        raise AssertionError(f"no button {label!r} in the chat")

    async def press(self, label: str) -> dict[str, Any]:
        message_id, data = await self.find_button(label)
        return await self.press_data(message_id, data)

    async def press_data(self, message_id: int, data: str, *, check_button: bool = True) -> dict[str, Any]:
        pressed = await self.control.press(
            self.user_id, message_id, data, language_code=self.language_code, check_button=check_button
        )
        return await self.feed(pressed["update_id"])


@pytest.fixture(scope="module")
def telegram_emulator() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        yield emulator


def new_token() -> str:
    return f"{random.randint(10**8, 10**9 - 1)}:{secrets.token_urlsafe(24)}"


MakeConversation = Callable[..., Awaitable[tuple[Conversation, ConversationControl]]]


@pytest.fixture
async def make_conversation(
    nc: Client, js: JetStreamContext, nats_url: str, telegram_emulator: TelegramEmulator
) -> AsyncIterator[MakeConversation]:
    """Build and start a Conversation for a fresh bot; keyword arguments override settings."""
    started: list[Conversation] = []

    async def make(**overrides: Any) -> tuple[Conversation, ConversationControl]:
        token = overrides.pop("telegram_bot_token", None) or new_token()
        values = {"telegram_api_url": telegram_emulator.url, "nats_url": nats_url, **FAST_TELEGRAM, **overrides}
        settings = DispatcherSettings(_env_file=None, telegram_bot_token=token, **values)
        conversation = build_conversation(settings, nc, js)
        await conversation.start()
        started.append(conversation)
        return conversation, ConversationControl(telegram_emulator.url, token)

    yield make
    for conversation in started:
        await conversation.close()


async def provision_imagegen_side(js: JetStreamContext) -> None:
    """What imagegen owns and would have created: the job stream and the picture store."""
    await topology.ensure_stream(js, topology.image_jobs_stream())
    await topology.ensure_object_store(js, topology.images_object_store())


async def published_jobs(js: JetStreamContext) -> list[ImageJobV1]:
    info = await js.stream_info(subjects.IMAGE_JOBS_STREAM)
    jobs = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        if info.state.messages == 0:
            break
        message = await js.get_msg(subjects.IMAGE_JOBS_STREAM, seq)
        jobs.append(ImageJobV1.model_validate_json(message.data))
    return jobs


def png_bytes(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 40, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


async def store_picture(js: JetStreamContext, name: str, data: bytes) -> ImageRef:
    store = await js.object_store(subjects.IMAGES_OBJECT_STORE)
    await store.put(name, data)
    return ImageRef(object_name=name, content_type="image/png", size=len(data))


def success_for(job: ImageJobV1, image: ImageRef) -> ImageResultV1:
    return ImageResultV1(
        job_id=job.job_id,
        bot_id=job.bot_id,
        chat_id=job.chat_id,
        user_id=job.user_id,
        outcome="succeeded",
        image=image,
        prompt=job.prompt,
        aspect_ratio=job.aspect_ratio,
        model=job.model,
        language=job.language,
        status_message_id=job.status_message_id,
    )


def failure_for(job: ImageJobV1, kind: str) -> ImageResultV1:
    return ImageResultV1(
        job_id=job.job_id,
        bot_id=job.bot_id,
        chat_id=job.chat_id,
        user_id=job.user_id,
        outcome="failed",
        error=JobError(kind=kind, message="scripted"),  # type: ignore[arg-type]
        prompt=job.prompt,
        aspect_ratio=job.aspect_ratio,
        model=job.model,
        language=job.language,
        status_message_id=job.status_message_id,
    )
