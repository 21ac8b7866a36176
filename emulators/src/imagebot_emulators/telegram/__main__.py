"""`telegram-emulator` / `python -m imagebot_emulators.telegram`: serve the emulator."""

from __future__ import annotations

import argparse
import gc
import logging
import os

import uvloop
from aiohttp import web

from .app import create_app
from .config import EmulatorConfig

_DEFAULTS = EmulatorConfig()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="telegram-emulator", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("TELEGRAM_EMULATOR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("TELEGRAM_EMULATOR_PORT", "8081")))
    parser.add_argument("--retry-base-delay", type=float, default=_DEFAULTS.retry_base_delay,
                        help="seconds before the second webhook retry; doubles after each failure")  # fmt: skip
    parser.add_argument("--retry-max-delay", type=float, default=_DEFAULTS.retry_max_delay,
                        help="cap of the webhook retry delay")  # fmt: skip
    parser.add_argument("--webhook-timeout", type=float, default=_DEFAULTS.webhook_timeout,
                        help="seconds to wait for a webhook answer before 'Read timeout expired'")  # fmt: skip
    parser.add_argument("--no-set-webhook-rate-limit", action="store_true",
                        help="allow more than one setWebhook per second per bot")  # fmt: skip
    parser.add_argument("--no-error-slowdown", action="store_true",
                        help="keep max_connections even while the webhook keeps failing")  # fmt: skip
    parser.add_argument("--callback-answer-window", type=float, default=_DEFAULTS.callback_answer_window,
                        help="seconds during which answerCallbackQuery is accepted")  # fmt: skip
    parser.add_argument("--max-poll-timeout", type=float, default=_DEFAULTS.max_poll_timeout,
                        help="cap of the getUpdates long-poll timeout")  # fmt: skip
    parser.add_argument("--log-level", default=os.environ.get("TELEGRAM_EMULATOR_LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        retry_base_delay=args.retry_base_delay,
        retry_max_delay=args.retry_max_delay,
        webhook_timeout=args.webhook_timeout,
        set_webhook_rate_limit=not args.no_set_webhook_rate_limit,
        error_slowdown=not args.no_error_slowdown,
        callback_answer_window=args.callback_answer_window,
        max_poll_timeout=args.max_poll_timeout,
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # The benchmarks time replies by their arrival here: a full collection walking the start-up heap (~100 ms)
    # would show up in every design's p99, so it is frozen out of the collector (gc.freeze) before serving.
    gc.collect()
    gc.freeze()
    # No access log: the request log is in the control API, and tokens would end up in the output. uvloop, as
    # every server the benchmarks time: the emulator's own loop is part of each reply's measured arrival.
    web.run_app(
        create_app(config_from(args)), host=args.host, port=args.port, access_log=None, shutdown_timeout=2.0,
        loop=uvloop.new_event_loop(),
    )  # fmt: skip


if __name__ == "__main__":
    main()
