"""The Kie.ai emulator as a real process for tests, and a small client of its control API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

TEST_API_KEY = "kie-test-key-0123456789"


class KieEmulatorControl:
    """Drives `/control/...` of a running emulator (async)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.AsyncClient(base_url=self.url, timeout=10)

    async def reset(self) -> None:
        (await self.http.post("/control/reset")).raise_for_status()

    async def configure(self, **settings: Any) -> dict[str, Any]:
        response = await self.http.post("/control/config", json=settings)
        response.raise_for_status()
        return response.json()

    async def fault(self, endpoint: str = "createTask", **fault: Any) -> None:
        (await self.http.post("/control/faults", json={"endpoint": endpoint, **fault})).raise_for_status()

    async def calls(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        params = {"endpoint": endpoint} if endpoint else {}
        response = await self.http.get("/control/calls", params=params)
        response.raise_for_status()
        return response.json()

    async def tasks(self) -> list[dict[str, Any]]:
        return (await self.http.get("/control/tasks")).json()

    async def callbacks(self, task_id: str | None = None) -> list[dict[str, Any]]:
        params = {"task_id": task_id} if task_id else {}
        return (await self.http.get("/control/callbacks", params=params)).json()

    async def resend_callback(self, task_id: str, delay: float = 0.0, copies: int = 1) -> None:
        response = await self.http.post(f"/control/tasks/{task_id}/callback", json={"delay": delay, "copies": copies})
        response.raise_for_status()

    async def successful_creates(self) -> list[dict[str, Any]]:
        return [c for c in await self.calls("createTask") if c.get("code") == 200]

    async def aclose(self) -> None:
        await self.http.aclose()


def start_emulator_process(**settings: str) -> tuple[ServiceProcess, str]:
    port = free_port()
    args = ["--host", "127.0.0.1", "--port", str(port)]
    for name, value in settings.items():
        args += [f"--{name.replace('_', '-')}", value]
    process = ServiceProcess("imagebot_emulators.kie", {}, args=args, name="kie-emulator").start()
    url = f"http://127.0.0.1:{port}"
    process.wait_http_ok(f"{url}/control/health")
    return process, url


@pytest.fixture(scope="session")
def kie_emulator_url() -> Iterator[str]:
    """One emulator process for the session; each test resets it through `kie`."""
    process, url = start_emulator_process()
    try:
        yield url
    finally:
        process.terminate()


@pytest.fixture
async def kie(kie_emulator_url: str) -> Any:
    control = KieEmulatorControl(kie_emulator_url)
    await control.reset()
    yield control
    await control.reset()
    await control.aclose()
