"""Warnings about updates the gateway could not store, at most one line per interval.

Under a flood with the stream full (or NATS down) every refused update would log its own WARNING: measured at
~15% of the gateway's CPU in the flood test, and a log nobody can read. The first refusal after a quiet spell is
logged at once; later ones are counted and summed up in one line per interval, with the last reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

SUMMARY_INTERVAL = 10.0  # seconds


class RefusalLog:
    def __init__(
        self,
        logger: logging.Logger,
        interval: float = SUMMARY_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log, self._interval, self._clock = logger, interval, clock
        self._last_line = -float("inf")
        self._unreported = 0
        self._last_reason = ""

    def refused(self, what: str, reason: str) -> None:
        now = self._clock()
        if now - self._last_line < self._interval:
            self._unreported += 1
            self._last_reason = reason
            return
        if self._unreported:
            self._log.warning(
                "%d more updates not stored in the last %.0fs (last reason: %s); now %s not stored: %s",
                self._unreported, now - self._last_line, self._last_reason, what, reason,
            )  # fmt: skip
        else:
            self._log.warning("%s not stored: %s", what, reason)
        self._last_line, self._unreported = now, 0
