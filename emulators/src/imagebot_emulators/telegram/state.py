"""Per-token bot state: chats and messages, the update queue, webhook settings and the call records."""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from .config import EmulatorConfig
from .faults import FaultPlan
from .files import FileStore
from .messages import Chat, chat_type_of, user_object
from .updates import PendingUpdate, UpdateStore, allowed

if TYPE_CHECKING:
    from aiohttp import web

    from .params import Params
    from .webhook import WebhookDelivery

# "<bot id>:<secret>"; real secrets are 35 characters, anything of 20+ URL-safe characters is accepted.
TOKEN_RE = re.compile(r"(\d{1,20}):[A-Za-z0-9_-]{20,}")
MAX_RECORDED_REQUESTS = 20000


@dataclass
class WebhookConfig:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None = None
    has_custom_certificate: bool = False


@dataclass
class CallbackRecord:
    id: str
    created: float  # monotonic
    user_id: int
    answered: bool = False


@dataclass
class DeliveryStats:
    """What the webhook sender did, kept across webhook changes so a test sees the whole history."""

    delivered: list[dict[str, Any]] = field(default_factory=list)
    failed_attempts: int = 0
    errors: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))
    dropped: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class BotState:
    token: str
    bot_id: int
    first_name: str
    username: str
    updates: UpdateStore = field(default_factory=UpdateStore)
    chats: dict[int, Chat] = field(default_factory=dict)
    files: FileStore = field(default_factory=FileStore)
    faults: FaultPlan = field(default_factory=FaultPlan)
    webhook: WebhookConfig | None = None
    # None means "never set": Telegram keeps the last value given to setWebhook or getUpdates.
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    next_set_webhook_at: float = 0.0
    # Bumped by each getUpdates and by setWebhook; a waiting poll whose number is stale is terminated.
    poll_generation: int = 0
    poll_terminated_reason: str = ""
    callbacks: dict[str, CallbackRecord] = field(default_factory=dict)
    callback_answers: list[dict[str, Any]] = field(default_factory=list)
    chat_actions: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    request_seq: int = 0
    commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    blocked_users: set[int] = field(default_factory=set)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)  # User objects, by id
    delivery: WebhookDelivery | None = None
    stats: DeliveryStats = field(default_factory=DeliveryStats)

    def enqueue(self, payload: dict[str, Any]) -> PendingUpdate | None:
        """Queue an update unless allowed_updates excludes its type (Telegram filters on arrival)."""
        kind = next((key for key in payload if key != "update_id"), "unknown")
        if not allowed(kind, self.allowed_updates):
            return None
        return self.updates.add(payload)

    def me(self) -> dict[str, Any]:
        user = user_object(self.bot_id, self.first_name, username=self.username, is_bot=True)
        return {
            **user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def sender(self) -> dict[str, Any]:
        return user_object(self.bot_id, self.first_name, username=self.username, is_bot=True)

    def chat_for_user(self, user_id: int, chat_id: int | None, first_name: str, username: str | None) -> Chat:
        chat_id = user_id if chat_id is None else chat_id
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = Chat(chat_id, chat_type_of(chat_id))
            self.chats[chat_id] = chat
        if chat.type == "private":
            chat.first_name, chat.username = first_name, username
        return chat

    def record(self, method: str, params: dict[str, Any], via: str = "http") -> dict[str, Any]:
        self.request_seq += 1
        entry = {"seq": self.request_seq, "time": time.time(), "method": method, "params": params, "via": via}
        self.requests.append(entry)
        if len(self.requests) > MAX_RECORDED_REQUESTS:  # a long `make run` session must not grow forever
            del self.requests[: len(self.requests) - MAX_RECORDED_REQUESTS]
        return entry


class Registry:
    """All bots, created on first use of a well-formed token, exactly as any token "exists" here."""

    def __init__(self) -> None:
        self.bots: dict[str, BotState] = {}

    def get(self, token: str) -> BotState | None:
        match = TOKEN_RE.fullmatch(token)
        if match is None:
            return None
        bot = self.bots.get(token)
        if bot is None:
            bot_id = int(match.group(1))
            bot = BotState(token, bot_id, first_name="Emulated Bot", username=f"emulated_{bot_id}_bot")
            self.bots[token] = bot
        return bot


@dataclass
class Services:
    """What method handlers and the control API share: settings, all bots, one outbound HTTP client."""

    config: EmulatorConfig
    registry: Registry = field(default_factory=Registry)
    http: aiohttp.ClientSession | None = None
    # Runs one Bot API method (bot, method, params, via); the webhook sender uses it for methods a
    # receiver puts in its 2xx answer. It is bot_api.perform, injected to keep the imports acyclic.
    perform: Callable[[BotState, str, Params, str], Awaitable[web.Response]] | None = None

    def client(self) -> aiohttp.ClientSession:
        assert self.http is not None, "the app's startup hook creates the client session"
        return self.http
