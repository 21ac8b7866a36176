"""A nats-server that can be told to shed connections: the reliable way to get a client nats-py closes for good.

nats-py closes the client permanently on any server `-ERR` but a stale connection or a permissions violation.
A config reload (SIGHUP) lowering `max_connections` below the connections open makes the server send
`-ERR 'maximum connections exceeded'` to connections it picks at random, and close them. The server also
requires a password, given in the URL, which must never reach a log line.
"""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client

from tests.support.nats_server import NatsServer
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_until

USER, PASSWORD = "imagebot", "nats-pw-Zq81-never-logged"
SHED = "maximum connections exceeded"


class SheddingNats:
    """A nats-server with a config file (so SIGHUP reloads it) that can be told to shed connections."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="nats-shed-"))
        self.conf = self.dir / "nats.conf"
        self.pid_file = self.dir / "nats.pid"
        self._write(max_connections=100)
        self.server = NatsServer(extra_args=["-c", str(self.conf), "-P", str(self.pid_file)])

    @property
    def url(self) -> str:
        return f"nats://{USER}:{PASSWORD}@127.0.0.1:{self.server.port}"

    def _write(self, *, max_connections: int) -> None:
        self.conf.write_text(
            f'authorization {{ user: "{USER}", password: "{PASSWORD}" }}\nmax_connections: {max_connections}\n'
        )

    async def connections(self) -> int:
        return int((await self._monitor("/connz"))["num_connections"])

    async def shed_to(self, max_connections: int) -> None:
        """Reload with a new `max_connections`; return once the server has applied it."""
        loaded_before = (await self._monitor("/varz"))["config_load_time"]
        self._write(max_connections=max_connections)
        os.kill(int(self.pid_file.read_text()), signal.SIGHUP)
        await wait_until(partial(self._reloaded, loaded_before), message=f"max_connections {max_connections} loaded")

    async def _reloaded(self, loaded_before: str) -> bool:
        return (await self._monitor("/varz"))["config_load_time"] != loaded_before

    async def _monitor(self, endpoint: str) -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            reply = await http.get(f"http://127.0.0.1:{self.server.monitor_port}{endpoint}")
        return dict(reply.json())


@pytest.fixture(name="shedding_nats")
def shedding_nats_fixture() -> Iterator[SheddingNats]:
    nats = SheddingNats()
    with nats.server:
        yield nats


def _either_gone(decoy: Client, process: ServiceProcess) -> bool:
    return decoy.is_closed or process.returncode is not None


async def shed_until_gone(nats: SheddingNats, process: ServiceProcess, *, rounds: int = 12) -> int:
    """Shed one connection at a time until the server picks the process's: it picks at random among all, so a
    decoy client of ours is connected beside it each round and absorbs the other picks. The rounds it took
    (a process that never goes fails the test after `rounds`, a chance of 1 in 4,096 for a fair pick).

    Every reload also drops the connections it does not shed (measured on nats-server 2.15: the accounts are
    rebuilt; the clients see EOF and reconnect), so each round starts once the process is connected again;
    counting the decoy against an empty slot would shed the decoy alone."""
    for round_ in range(1, rounds + 1):
        await wait_until(partial(_connected, nats), timeout=30, message=f"{process.name} connected to NATS")
        decoy = Client()
        await decoy.connect(nats.url, name="decoy", max_reconnect_attempts=0)
        await nats.shed_to(await nats.connections() - 1)
        await wait_until(partial(_either_gone, decoy, process), timeout=30, message=f"the decoy or {process.name} shed")
        if process.returncode is not None:
            await decoy.close()
            return round_
        await nats.shed_to(100)
    raise AssertionError(f"{process.name} was never the one shed in {rounds} rounds")


async def _connected(nats: SheddingNats) -> bool:
    return await nats.connections() > 0
