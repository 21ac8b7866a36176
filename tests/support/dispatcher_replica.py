"""`python -m tests.support.dispatcher_replica`: the dispatcher's real composition root (`run_dispatcher`) with the
scripted conversation, for process-level tests (SIGKILL, SIGTERM) of the consumption engine.

Every handler start and finish is published to JetStream (`test.started.<chat>`, `test.handled.<chat>`, awaited
before the handler returns), so a test reads back what ran, where and in which order even after a SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from nats.aio.client import Client
from nats.js import JetStreamContext

from imagebot_common.logs import setup_logging
from imagebot_dispatcher.app import run_dispatcher
from imagebot_dispatcher.settings import DispatcherSettings
from tests.support.conversation_double import ScriptedConversation

RECORDS_STREAM = "TEST_RECORDS"
RECORDS_SUBJECTS = "test.>"


def build(settings: DispatcherSettings, nc: Client, js: JetStreamContext) -> ScriptedConversation:
    replica = os.environ.get("TEST_REPLICA", settings.instance_id)

    def recorder(kind: str):
        async def record(chat: int, message_id: int, update_id: int) -> None:
            body = {"chat": chat, "message_id": message_id, "update_id": update_id, "replica": replica}
            body["at"] = time.time()
            await js.publish(f"test.{kind}.{chat}", json.dumps(body).encode(), stream=RECORDS_STREAM)

        return record

    return ScriptedConversation(on_started=recorder("started"), on_handled=recorder("handled"))


def main() -> None:
    settings = DispatcherSettings()  # type: ignore[call-arg]
    setup_logging(settings.log_level, settings.log_format)
    sys.exit(asyncio.run(run_dispatcher(settings, build)))


if __name__ == "__main__":
    main()
