"""`python -m imagebot_emulators.kie --host 127.0.0.1 --port 8082` (also the `kie-emulator` script)."""

from __future__ import annotations

import logging
import sys

from aiohttp import web

from imagebot_emulators.kie.app import create_app
from imagebot_emulators.kie.config import from_cli


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(levelname)s] %(name)s: %(message)s")
    config = from_cli(argv if argv is not None else sys.argv[1:])
    logging.getLogger("kie_emulator").info(
        "Kie.ai emulator on http://%s:%d (result files at %s/files/, control API at /control/, "
        "generation %.1fs, callbacks %s, HMAC %s)",
        config.host,
        config.port,
        config.base_url(),
        config.generation_seconds,
        "on" if config.callbacks_enabled else "off",
        "on" if config.hmac_key else "off",
    )
    web.run_app(create_app(config), host=config.host, port=config.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
