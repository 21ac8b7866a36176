"""Delivering `ImageResultV1`: the picture (bytes from the object store `images`) or a failure message, once.

Order: skip if already delivered → send → update the status message → record delivery → free the user's slot.
A crash between sending and recording can repeat a delivery (at least once); recording first could lose it.
"""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.object_store import ObjectStore

from imagebot_common.messages.v1 import ImageRef, ImageResultV1
from imagebot_common.nats import subjects
from imagebot_dispatcher.conversation import keyboards, metrics
from imagebot_dispatcher.conversation.deliveries import DeliveryLog, DeliveryRecord
from imagebot_dispatcher.conversation.jobs import update_id_of
from imagebot_dispatcher.conversation.quotas import QuotaBook
from imagebot_dispatcher.conversation.texts import Texts, texts_for

log = logging.getLogger("imagebot.dispatcher.results")

CAPTION_LIMIT = 1024  # UTF-16 code units, as Telegram counts
REFUNDED_FAILURES = frozenset({"insufficient_credits", "provider_unavailable", "internal"})  # not the user's doing
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


def caption_for(prompt: str, limit: int = CAPTION_LIMIT) -> str:
    """The prompt, cut to Telegram's caption limit (an ellipsis marks the cut)."""
    if len(prompt.encode("utf-16-le")) // 2 <= limit:
        return prompt
    cut, units = [], 0
    for char in prompt:
        width = len(char.encode("utf-16-le")) // 2
        if units + width > limit - 1:
            break
        cut.append(char)
        units += width
    return "".join(cut) + "…"


class ResultDelivery:
    def __init__(
        self, bot: Bot, js: JetStreamContext, deliveries: DeliveryLog, quotas: QuotaBook, *, fetch_timeout: float
    ) -> None:
        self._bot = bot
        self._js = js
        self._deliveries = deliveries
        self._quotas = quotas
        self._fetch_timeout = fetch_timeout
        self._images: ObjectStore | None = None

    async def deliver(self, result: ImageResultV1) -> None:
        if result.bot_id != self._bot.id:
            log.warning("result %s is for bot %s, not this one; ignored", result.job_id, result.bot_id)
            return
        if await self._deliveries.get(result.job_id) is not None:
            metrics.RESULTS_DELIVERED.labels(outcome="duplicate").inc()
            log.info("result %s was delivered already; skipped", result.job_id)
            # A retry after a failed release lands here: free the slot (idempotent) so it is not held to its TTL.
            await self._quotas.release(result.bot_id, result.user_id, result.job_id)
            return
        texts = texts_for(result.language)
        job_ref = update_id_of(result.job_id) or 0
        error_kind = result.error.kind if result.error else "internal"
        try:
            picture = await self._picture(result.image) if result.outcome == "succeeded" and result.image else None
            if picture is not None:
                await self._send_picture(result, picture, texts, job_ref)
                outcome = "succeeded"
            else:
                if result.outcome == "succeeded":
                    error_kind = "internal"  # the picture is gone from the store (expired or never written)
                await self._send_failure(result, texts.failure(error_kind), keyboards.after_failure(texts, job=job_ref))
                outcome = "failed"
        except TelegramForbiddenError:
            log.info("chat %s blocked the bot; result %s not delivered", result.chat_id, result.job_id)
            outcome = "undeliverable"
        await self._deliveries.record(
            DeliveryRecord(
                job_id=result.job_id,
                outcome=outcome,
                prompt=result.prompt,
                aspect_ratio=result.aspect_ratio,
                model=result.model,
                language=result.language,
            )
        )
        metrics.RESULTS_DELIVERED.labels(outcome=outcome).inc()
        refund = outcome == "failed" and error_kind in REFUNDED_FAILURES
        await self._quotas.release(result.bot_id, result.user_id, result.job_id, refund=refund)

    async def _store(self) -> ObjectStore:
        if self._images is None:
            self._images = await self._js.object_store(subjects.IMAGES_OBJECT_STORE)
        return self._images

    async def _picture(self, image: ImageRef) -> bytes | None:
        store = await self._store()
        try:
            found = await asyncio.wait_for(store.get(image.object_name), self._fetch_timeout)
        except NotFoundError:
            log.warning("picture %s is not in the object store", image.object_name)
            return None
        return found.data or None

    async def _send_picture(self, result: ImageResultV1, picture: bytes, texts: Texts, job_ref: int) -> None:
        name = f"picture.{_EXTENSIONS.get(self._content_type(result), 'png')}"
        await self._bot.send_photo(
            chat_id=result.chat_id,
            photo=BufferedInputFile(picture, filename=name),
            caption=caption_for(result.prompt),
            parse_mode=None,  # the caption is the user's own text, not HTML
            reply_markup=keyboards.after_picture(texts, job=job_ref),
        )
        if result.status_message_id:
            await self._edit_status(result, texts.done, None)

    @staticmethod
    def _content_type(result: ImageResultV1) -> str:
        return result.image.content_type if result.image else ""

    async def _send_failure(self, result: ImageResultV1, text: str, markup: InlineKeyboardMarkup) -> None:
        """Turn the status message into the failure (one message, not two); send a new one if that fails."""
        if result.status_message_id and await self._edit_status(result, text, markup):
            return
        await self._bot.send_message(chat_id=result.chat_id, text=text, reply_markup=markup)

    async def _edit_status(self, result: ImageResultV1, text: str, markup: InlineKeyboardMarkup | None) -> bool:
        try:
            await self._bot.edit_message_text(
                chat_id=result.chat_id, message_id=result.status_message_id, text=text, reply_markup=markup
            )
        except TelegramBadRequest as exc:  # deleted by the user, too old, or unchanged
            log.info("status message of %s not edited: %s", result.job_id, exc.message)
            return False
        return True
