"""The emulator's aiohttp application, runnable in-process (tests) or as `python -m imagebot_emulators.kie`."""

from __future__ import annotations

from aiohttp import web

from imagebot_emulators.kie.api import KieApi
from imagebot_emulators.kie.callbacks import CallbackSender
from imagebot_emulators.kie.config import EmulatorConfig
from imagebot_emulators.kie.control import Control
from imagebot_emulators.kie.state import EmulatorState

API_KEY = web.AppKey("kie_api", KieApi)


def create_app(config: EmulatorConfig) -> web.Application:
    state = EmulatorState(credits=config.credits)
    sender = CallbackSender()
    api = KieApi(config, state, sender)
    control = Control(api, config, state)
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app[API_KEY] = api
    app.add_routes(api.routes())
    app.add_routes(control.routes())

    async def lifecycle(_: web.Application):  # type: ignore[no-untyped-def]
        await sender.start()
        yield
        await sender.close()

    app.cleanup_ctx.append(lifecycle)
    return app


class KieEmulator:
    """Start and stop the emulator inside the caller's event loop."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.config.port}"

    async def start(self) -> KieEmulator:
        self._runner = web.AppRunner(create_app(self.config), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.config.host, self.config.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
