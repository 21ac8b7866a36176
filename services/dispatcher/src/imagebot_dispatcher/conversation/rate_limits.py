"""Token buckets for outbound Telegram traffic: one per chat (plus a per-minute one per group) and one overall.

A caller *reserves* a token and is told how long to wait for it, then sleeps on its own: no lock is held while
waiting, so a chat that is throttled (or paused by a 429) never delays another chat. Pauses from 429
`retry_after` are per chat, or global for calls that belong to no chat.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

ChatRef = int | str

MAX_TRACKED_CHATS = 50_000


@dataclass(frozen=True)
class TelegramLimits:
    chat_rate: float = 1.0  # messages per second into one chat
    chat_burst: int = 2  # Telegram tolerates short bursts inside a chat
    group_per_minute: int = 20
    global_rate: float = 30.0  # messages per second overall


class TokenBucket:
    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now
        self.paused_until = 0.0

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def reserve(self, now: float) -> float:
        """Take one token (possibly going into debt) and return the seconds until it may be used."""
        self._refill(now)
        self.tokens -= 1
        token_wait = -self.tokens / self.rate if self.tokens < 0 else 0.0
        return max(token_wait, self.paused_until - now, 0.0)

    def pause(self, now: float, seconds: float) -> None:
        self.paused_until = max(self.paused_until, now + seconds)

    def pause_remaining(self, now: float) -> float:
        return max(self.paused_until - now, 0.0)


def window_safe_bucket(limit: float, window: float, now: float) -> TokenBucket:
    """A bucket that lets at most `limit` through in any `window`: a burst of a quarter of the limit plus a
    refill of the rest (a limit-sized bucket refilled at limit/window would allow twice the limit at first)."""
    burst = max(1.0, float(int(limit // 4)))
    return TokenBucket(rate=max(limit - burst, 1.0) / window, capacity=burst, now=now)


def is_group(chat: ChatRef) -> bool:
    """Groups, supergroups and channels have negative ids (or an @username for channels)."""
    return isinstance(chat, str) or chat < 0


class OutboundLimiter:
    def __init__(self, limits: TelegramLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._global = window_safe_bucket(limits.global_rate, 1.0, clock())
        self._chats: OrderedDict[ChatRef, TokenBucket] = OrderedDict()
        self._groups: OrderedDict[ChatRef, TokenBucket] = OrderedDict()

    def _bucket(
        self, table: OrderedDict[ChatRef, TokenBucket], chat: ChatRef, make: Callable[[float], TokenBucket]
    ) -> TokenBucket:
        bucket = table.get(chat)
        if bucket is None:
            bucket = table[chat] = make(self._clock())
            if len(table) > MAX_TRACKED_CHATS:
                table.popitem(last=False)  # the least recently used chat; its bucket would be full by now
        else:
            table.move_to_end(chat)
        return bucket

    def _chat_bucket(self, chat: ChatRef) -> TokenBucket:
        rate, burst = self.limits.chat_rate, self.limits.chat_burst
        return self._bucket(self._chats, chat, lambda now: TokenBucket(rate, burst, now))

    def reserve_chat(self, chat: ChatRef) -> float:
        now = self._clock()
        wait = self._chat_bucket(chat).reserve(now)
        if is_group(chat):
            per_minute = self.limits.group_per_minute
            group = self._bucket(self._groups, chat, lambda t: window_safe_bucket(per_minute, 60.0, t))
            wait = max(wait, group.reserve(now))
        return wait

    def reserve_global(self) -> float:
        return self._global.reserve(self._clock())

    def pause_remaining(self, chat: ChatRef | None) -> float:
        """How long a call that takes no token (answerCallbackQuery…) must still wait because of a 429 pause."""
        now = self._clock()
        chat_wait = self._chat_bucket(chat).pause_remaining(now) if chat is not None else 0.0
        return max(chat_wait, self._global.pause_remaining(now))

    def pause(self, chat: ChatRef | None, seconds: float) -> None:
        """Honour a 429: only that chat waits, or everyone when the call belonged to no chat."""
        now = self._clock()
        if chat is None:
            self._global.pause(now, seconds)
        else:
            self._chat_bucket(chat).pause(now, seconds)
