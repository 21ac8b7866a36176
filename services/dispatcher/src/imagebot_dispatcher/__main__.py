"""`python -m imagebot_dispatcher`: the dispatcher with the real conversation (aiogram) behind the engine."""

from __future__ import annotations

import sys

from pydantic import ValidationError

from imagebot_common.event_loop import run_service
from imagebot_common.logs import setup_logging
from imagebot_common.settings_errors import explain_settings_error
from imagebot_dispatcher.settings import DispatcherSettings


def load_settings() -> DispatcherSettings:
    try:
        return DispatcherSettings()  # type: ignore[call-arg]  # required values come from the environment
    except ValidationError as exc:
        print(explain_settings_error("dispatcher", exc), file=sys.stderr)
        raise SystemExit(2) from None


def main() -> None:
    settings = load_settings()
    setup_logging(settings.log_level, settings.log_format)
    from imagebot_dispatcher.app import run_dispatcher  # after logging: imports may log
    from imagebot_dispatcher.conversation.service import build_conversation

    sys.exit(run_service(run_dispatcher(settings, build_conversation)))


if __name__ == "__main__":
    main()
