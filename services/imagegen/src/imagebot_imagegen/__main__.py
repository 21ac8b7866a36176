"""`python -m imagebot_imagegen`: settings -> logging -> tracing -> the service; SIGTERM/SIGINT drain and exit 0."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from pydantic import ValidationError

from imagebot_common.event_loop import run_service
from imagebot_common.logs import setup_logging
from imagebot_common.redaction import redactor
from imagebot_common.telemetry.setup import describe_export, setup_tracing, shutdown_tracing
from imagebot_imagegen.service import ImagegenService
from imagebot_imagegen.settings import ImagegenSettings

log = logging.getLogger("imagebot.imagegen")


def load_settings() -> ImagegenSettings:
    try:
        return ImagegenSettings()  # type: ignore[call-arg]  # required values come from the environment
    except ValidationError as exc:
        # Name the variables, never their values.
        names = ", ".join(sorted({str(err["loc"][0]).upper() for err in exc.errors() if err.get("loc")}))
        print(f"imagegen: invalid or missing settings: {names}", file=sys.stderr)
        raise SystemExit(2) from None


async def run(settings: ImagegenSettings) -> None:
    stop = asyncio.Event()
    service = ImagegenService(settings, on_nats_lost=stop.set)  # NATS lost for good: stop, to be started again
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Starting can wait on NATS for ever; a stop signal must still end the process.
    starting = asyncio.create_task(service.start())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # a start-up failure ends the process with its error
            await stopping
        else:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
        log.info("stop signal received; draining")
    finally:
        stopping.cancel()
        await service.stop()


def main() -> None:
    settings = load_settings()
    redactor.register(*settings.secrets())
    setup_logging(settings.log_level, settings.log_format)
    provider = setup_tracing("imagegen", settings.instance_id)
    log.info("tracing: %s", describe_export())
    try:
        run_service(run(settings))
    finally:
        shutdown_tracing(provider)


if __name__ == "__main__":
    main()
