"""A local Telegram Bot API server: the services talk to it exactly as to api.telegram.org.

`create_app(EmulatorConfig(...))` gives the aiohttp application; `python -m imagebot_emulators.telegram`
(or `telegram-emulator`) serves it. The control API under /control/ plays the users and shows what the
bot did.
"""

from __future__ import annotations

from .app import create_app
from .config import EmulatorConfig

__all__ = ["EmulatorConfig", "create_app"]
