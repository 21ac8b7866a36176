"""Fixtures that run the real gateway as a process against the session's nats-server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

BOT_TOKEN = "123456789:TESTtoken-gateway-0000000000000000"
BOT_ID = 123456789


class Gateway(ServiceProcess):
    def __init__(self, env: dict[str, str]):
        super().__init__("imagebot_gateway", env, name="gateway")
        self.port = int(env["PORT"])
        self.base_url = f"http://127.0.0.1:{self.port}"


@pytest.fixture
def start_gateway(nats_url: str) -> Iterator[Callable[..., Gateway]]:
    """Start a gateway process; keyword arguments become environment variables (upper-cased)."""
    started: list[Gateway] = []

    def start(**overrides: str) -> Gateway:
        port = overrides.pop("port", None) or str(free_port())
        env = {
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "TELEGRAM_API_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens unless a test says so
            "BOT_MODE": "webhook",
            "WEBHOOK_BASE_URL": f"http://127.0.0.1:{port}",
            "WEBHOOK_SECRET_TOKEN": "test-secret-0123456789",
            "WEBHOOK_REGISTER_BACKOFF": "0.1",
            "NATS_URL": nats_url,
            "PORT": port,
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "INFO",
        }
        env.update({key.upper(): value for key, value in overrides.items()})
        gateway = Gateway(env)
        started.append(gateway)
        gateway.start()
        gateway.wait_http_ok(f"{gateway.base_url}/healthz")
        return gateway

    yield start
    for gateway in started:
        gateway.__exit__(None, None, None)
