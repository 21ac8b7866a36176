"""A newcomer's first picture: the whole sandbox stack as processes, driven from the chat page in a browser.

nats-server, the Telegram and Kie.ai emulators, gateway, dispatcher and imagegen run as `make run` starts them
(webhook mode on the emulator); the test only clicks and types in the page.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import OpenPage
from tests.support.emulators import TelegramEmulator
from tests.support.kie import start_emulator_process
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SANDBOX_TOKEN = "123456789:SANDBOX-not-a-real-token-000000"  # the token `make run` uses with the emulator


@dataclass
class Stack:
    telegram_url: str
    processes: list[ServiceProcess]

    def logs(self) -> str:
        return "\n".join(f"----- {p.name} -----\n{p.logs()[-3000:]}" for p in self.processes)


def delete_all_streams(nats_url: str) -> None:
    """What the services created on the session's nats-server must not leak into later tests (as `js` does)."""

    async def delete() -> None:
        client = await nats.connect(nats_url)
        try:
            jetstream = client.jetstream()
            for info in await jetstream.streams_info():
                await jetstream.purge_stream(info.config.name)
                await jetstream.delete_stream(info.config.name)
        finally:
            await client.close()

    # Its own thread: this sync test must not share an event loop with Playwright's.
    worker = threading.Thread(target=asyncio.run, args=(delete(),))
    worker.start()
    worker.join(timeout=30)


@pytest.fixture
def stack(nats_url: str) -> Iterator[Stack]:
    """The sandbox stack; its logs are printed when the test fails (pytest shows captured output)."""
    with ExitStack() as running:
        running.callback(delete_all_streams, nats_url)  # runs last, once every service has stopped
        telegram = running.enter_context(TelegramEmulator())
        kie, kie_url = start_emulator_process(generation_seconds="0.5")
        running.callback(kie.terminate)
        gateway_port, dispatcher_port, imagegen_port = free_port(), free_port(), free_port()
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        common = {"NATS_URL": nats_url, "LOG_LEVEL": "INFO"}
        telegram_env = {**common, "TELEGRAM_BOT_TOKEN": SANDBOX_TOKEN, "TELEGRAM_API_URL": telegram.url}
        services = [
            (
                "imagebot_gateway",
                {
                    **telegram_env,
                    "BOT_MODE": "webhook",
                    "WEBHOOK_BASE_URL": gateway_url,
                    "HOST": "127.0.0.1",
                    "PORT": str(gateway_port),
                },
                f"{gateway_url}/readyz",
            ),
            (
                "imagebot_dispatcher",
                {**telegram_env, "HEALTH_HOST": "127.0.0.1", "HEALTH_PORT": str(dispatcher_port)},
                f"http://127.0.0.1:{dispatcher_port}/readyz",
            ),
            (
                "imagebot_imagegen",
                {
                    **common,
                    "KIE_API_KEY": "sandbox-kie-key",
                    "KIE_API_URL": kie_url,
                    "KIE_CALLBACK_BASE_URL": gateway_url,
                    "HEALTH_HOST": "127.0.0.1",
                    "HEALTH_PORT": str(imagegen_port),
                },
                f"http://127.0.0.1:{imagegen_port}/readyz",
            ),
        ]
        processes: list[ServiceProcess] = [telegram, kie]
        for module, env, _ in services:
            processes.append(running.enter_context(ServiceProcess(module, env, name=module.removeprefix("imagebot_"))))
        stack = Stack(telegram.url, processes)
        for process, (_, _, ready_url) in zip(processes[2:], services, strict=True):
            process.wait_http_ok(ready_url, timeout=30)
        yield stack
        print(stack.logs())


def test_a_newcomer_makes_a_picture_from_the_chat_page(stack: Stack, open_page: OpenPage, tmp_path: Path) -> None:
    page = open_page(f"{stack.telegram_url}/?user=1001")  # Ann, language ru
    expect(page.locator("#composer")).not_to_have_class(re.compile("disabled"))  # the bot has connected

    page.locator("#input").fill("/start")
    page.locator("#input").press("Enter")
    page.get_by_role("button", name="🖼 Создать картинку").last.click()
    expect(page.locator(".row.in", has_text="Опишите картинку")).to_be_visible()

    page.locator("#input").fill("рыжий кот в шляпе, акварель")
    page.locator("#input").press("Enter")
    page.get_by_role("button", name=re.compile("1:1")).last.click()

    photo = page.locator(".row.in img.photo")
    expect(photo).to_have_count(1, timeout=30_000)
    expect(photo).to_have_js_property("complete", True)
    assert photo.evaluate("img => img.naturalWidth") > 0
    page.screenshot(path=str(tmp_path / "picture.png"))
