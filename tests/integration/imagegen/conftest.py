"""Fixtures for imagegen's integration tests: the Kie emulator process, the results reader, the callback relay."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext

from tests.integration.imagegen.support import CallbackRelay, Results
from tests.support.kie import kie, kie_emulator_url  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration


@pytest.fixture
async def results(js: JetStreamContext) -> Results:
    return await Results(js).start()


@pytest.fixture
async def relay(js: JetStreamContext) -> AsyncIterator[CallbackRelay]:
    gateway = await CallbackRelay(js).start()
    yield gateway
    await gateway.stop()
