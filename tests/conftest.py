"""Shared fixtures: a real nats-server per test session, a JetStream context wiped after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from tests.support.emulators import TelegramEmulator
from tests.support.nats_server import NatsServer


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """One nats-server -js for the session, on a random port with a temporary store."""
    with NatsServer() as server:
        yield server


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    if not nats_server.running:  # a test that stopped it must not break the next one
        nats_server.start()
    return nats_server.url


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


@pytest.fixture
async def js(nc: Client, nats_server: NatsServer) -> AsyncIterator[JetStreamContext]:
    """JetStream on the session server; every stream (KV buckets and object stores included) is deleted after
    the test, so tests never see each other's data."""
    jetstream = nc.jetstream()
    yield jetstream
    if not nats_server.running:
        nats_server.start()
    cleaner = await nats.connect(nats_server.url)
    try:
        cjs = cleaner.jetstream()
        for info in await cjs.streams_info():
            # Purge first: nats-server 2.15 can bring a just-deleted file-store stream back with its old
            # messages when the next test re-creates it at once (seen for KV buckets, ~1 in 2 in a tight loop).
            await cjs.purge_stream(info.config.name)
            await cjs.delete_stream(info.config.name)
    finally:
        await cleaner.close()


@pytest.fixture
def telegram_emulator() -> Iterator[TelegramEmulator]:
    """A fresh Telegram Bot API emulator process per test."""
    with TelegramEmulator() as emulator:
        yield emulator
