"""One real gateway for the hostile-input tests, on a nats-server and a Telegram emulator of its own.

Package-scoped: the property-based tests send thousands of requests to the same process, which is the point
(a crash or a leak would show in the next request). Its stores are read through nats-server's monitoring
endpoint, so the checks need no NATS client of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.support.emulators import TelegramEmulator
from tests.support.nats_server import NatsServer
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

BOT_TOKEN = "123456789:HOSTILEtoken-gateway-000000000000"
WEBHOOK_SECRET = "hostile-webhook-secret-0123456789"
CALLBACK_TOKEN = "hostile-callback-token-0123456789"
HMAC_KEY = "hostile-hmac-key-0123456789"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
STREAMS = ("UPDATES", "DEAD_LETTERS", "KIE_CALLBACKS")


@dataclass
class HostileTarget:
    process: ServiceProcess
    base_url: str
    nats: NatsServer

    def stored(self) -> dict[str, int]:
        """Messages in each of the gateway's streams, from the server's monitoring endpoint."""
        jsz = httpx.get(f"http://127.0.0.1:{self.nats.monitor_port}/jsz?streams=true", timeout=5).json()
        counts = {name: 0 for name in STREAMS}
        for account in jsz.get("account_details", []):
            for stream in account.get("stream_detail", []):
                if stream["name"] in counts:
                    counts[stream["name"]] = stream["state"]["messages"]
        return counts

    def alive(self) -> bool:
        return self.process.returncode is None and httpx.get(f"{self.base_url}/healthz", timeout=5).status_code == 200


@pytest.fixture(scope="package")
def hostile_target() -> Iterator[HostileTarget]:
    with NatsServer() as nats, TelegramEmulator("--no-set-webhook-rate-limit") as telegram:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = {
            "NATS_URL": nats.url,
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "TELEGRAM_API_URL": telegram.url,
            "BOT_MODE": "webhook",
            "WEBHOOK_BASE_URL": base_url,
            "WEBHOOK_SECRET_TOKEN": WEBHOOK_SECRET,
            "KIE_CALLBACK_TOKEN": CALLBACK_TOKEN,
            "KIE_WEBHOOK_HMAC_KEY": HMAC_KEY,
            "HOST": "127.0.0.1",
            "PORT": str(port),
        }
        with ServiceProcess("imagebot_gateway", env, name="hostile-gateway") as gateway:
            gateway.wait_http_ok(f"{base_url}/readyz", timeout=30)
            yield HostileTarget(gateway, base_url, nats)
