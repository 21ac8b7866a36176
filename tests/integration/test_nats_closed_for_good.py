"""A NATS client that nats-py closed for good makes its service neither alive nor ready, and a service process
stops so that it is started again (real nats-server).

nats-py closes the client permanently on any server `-ERR` but a stale connection or a permissions violation.
The reliable way to get one here: two services connected, then a config reload (SIGHUP) lowering
`max_connections` to 1. The server sends `-ERR 'maximum connections exceeded'` to one of the two, chosen at
random, and closes it; so every test asserts about "the one that was shed" and "the one that was kept".
The server also requires a password, given in the URL, which must never reach a log line.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from nats.aio.client import Client
from prometheus_client import CollectorRegistry

from imagebot_common.health_server import HealthServer
from imagebot_common.nats.connection import close, closed_for_good, connect
from tests.integration.gateway.conftest import BOT_TOKEN, Gateway
from tests.support.ports import free_port
from tests.support.shedding_nats import PASSWORD, SHED, SheddingNats, shedding_nats_fixture  # noqa: F401 - the `shedding_nats` fixture
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


async def probe(base: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:  # async: the in-process health servers share this event loop
        return await http.get(f"{base}{path}", timeout=2)


@dataclass
class Service:
    """What a service gives the shared health server: its client, and its own checks (always fine here)."""

    nc: Client
    health: HealthServer
    base: str


@pytest.fixture
async def two_services(shedding_nats: SheddingNats) -> AsyncIterator[list[Service]]:
    services: list[Service] = []
    for i in range(2):
        nc = Client()
        await connect(nc, [shedding_nats.url], name=f"service-{i}")
        port = free_port()

        async def always_ready() -> bool:
            return True

        async def no_details() -> dict[str, object]:
            return {}

        health = HealthServer(
            "127.0.0.1",
            port,
            service="test",
            instance_id=f"service-{i}",
            is_alive=lambda: True,
            is_ready=always_ready,
            details=no_details,
            nats=nc,
            registry=CollectorRegistry(),
        )
        await health.start()
        services.append(Service(nc, health, f"http://127.0.0.1:{port}"))
    yield services
    for service in services:
        await service.health.stop()
        await close(service.nc)


def nats_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "imagebot.nats" and r.levelno >= logging.ERROR]


async def test_the_health_server_of_a_service_whose_client_nats_py_closed_answers_not_alive_and_not_ready(
    shedding_nats: SheddingNats, two_services: list[Service], caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="imagebot.nats")
    assert await shedding_nats.connections() == 2  # one connection per service, nothing else
    for service in two_services:
        assert (await probe(service.base, "/healthz")).status_code == 200

    await shedding_nats.shed_to(1)
    (shed,) = await wait_until(
        lambda: [s for s in two_services if closed_for_good(s.nc)], message="nats-py closed one client"
    )
    (kept,) = [s for s in two_services if s is not shed]

    alive = await probe(shed.base, "/healthz")
    assert alive.status_code == 503
    assert alive.json()["status"] == "failing"
    assert SHED in alive.json()["nats_closed"]
    assert (await probe(shed.base, "/readyz")).status_code == 503  # although the service's own check says ready
    assert SHED in (await probe(shed.base, "/health")).json()["nats_closed"]
    assert (await probe(kept.base, "/healthz")).status_code == 200
    assert (await probe(kept.base, "/readyz")).status_code == 200

    (line,) = nats_errors(caplog)  # one clear line, and only for the client that was lost
    assert "closed for good" in line and SHED in line
    assert f"127.0.0.1:{shedding_nats.server.port}" in line
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)


async def test_our_own_close_is_not_a_lost_connection(shedding_nats: SheddingNats, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="imagebot.nats")
    nc = Client()
    await connect(nc, [shedding_nats.url], name="closing")
    await close(nc)
    assert nc.is_closed
    assert closed_for_good(nc) is None
    assert nats_errors(caplog) == []


@pytest.fixture
def two_gateways(shedding_nats: SheddingNats) -> Iterator[list[Gateway]]:
    gateways: list[Gateway] = []
    try:
        for _ in range(2):
            port = str(free_port())
            env = {
                "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
                "TELEGRAM_API_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: registration retries
                "BOT_MODE": "webhook",
                "WEBHOOK_BASE_URL": f"http://127.0.0.1:{port}",
                "WEBHOOK_SECRET_TOKEN": "test-secret-0123456789",
                "NATS_URL": shedding_nats.url,
                "PORT": port,
                "HOST": "127.0.0.1",
                "LOG_LEVEL": "INFO",
            }
            gateway = Gateway(env)
            gateways.append(gateway)
            gateway.start()
        for gateway in gateways:
            gateway.wait_http_ok(f"{gateway.base_url}/readyz")
        yield gateways
    finally:
        for gateway in gateways:
            gateway.__exit__(None, None, None)


async def test_a_gateway_whose_client_nats_py_closed_stops_so_that_it_is_started_again(
    shedding_nats: SheddingNats, two_gateways: list[Gateway]
):
    """Compose restarts a service only when it exits (health does not count), Kubernetes on either: so a gateway
    whose NATS client is gone for good logs why and stops, like on SIGTERM, instead of lingering unready."""
    assert await shedding_nats.connections() == 2  # one NATS connection per gateway, nothing else

    await shedding_nats.shed_to(1)

    def stopped() -> list[Gateway]:
        return [g for g in two_gateways if g.returncode is not None]

    (shed,) = await wait_until(stopped, timeout=15, message="the shed gateway to stop")
    (kept,) = [g for g in two_gateways if g is not shed]
    assert shed.returncode == 0  # a drain like SIGTERM's

    # With an authorization block every reload also reloads users and accounts, which can drop a JetStream API
    # request in flight (seen 4 times in 20 without the gateway, never without the block): the kept gateway's
    # readiness probe (a stream_info) may time out once right after the reload, and then answers again.
    async def kept_ready() -> bool:
        return (await probe(kept.base_url, "/readyz")).status_code == 200

    await wait_until(kept_ready, timeout=10, interval=0.2, message="the kept gateway ready")
    assert kept.returncode is None

    errors = [line for line in shed.logs().splitlines() if "[ERROR] imagebot.nats" in line]
    assert len(errors) == 1 and "closed for good" in errors[0] and SHED in errors[0] and "stopping" in errors[0]
    assert "gateway stopped" in shed.logs()
    assert "closed for good" not in kept.logs()
    assert all(PASSWORD not in g.logs() for g in two_gateways)
