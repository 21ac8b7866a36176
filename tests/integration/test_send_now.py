"""send_now hands queued commands to the socket at once; without it they wait for nats-py's flusher task,
which runs only when the event loop gets round to it."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError

from imagebot_common.nats.requests import RequestMux
from imagebot_common.nats.send_now import send_now

pytestmark = pytest.mark.integration


@pytest.fixture
def raw_subscriber(nats_url: str) -> Iterator[socket.socket]:
    """A subscriber on `probe` speaking the NATS protocol over a plain socket: it reads without an event loop."""
    address = urlsplit(nats_url)
    sock = socket.create_connection((address.hostname, address.port), timeout=5)
    sock.recv(4096)  # INFO
    sock.sendall(b'CONNECT {"verbose":false}\r\nSUB probe 1\r\nPING\r\n')
    assert b"PONG" in _read_until(sock, b"PONG")
    sock.setblocking(False)
    yield sock
    sock.close()


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        data += sock.recv(4096)
    return data


def _arrived_while_the_loop_was_held(sock: socket.socket) -> bytes:
    """What reached the subscriber while this thread (and with it the event loop) was held."""
    time.sleep(0.3)  # blocks the loop: no flusher task can run
    try:
        return sock.recv(4096)
    except BlockingIOError:
        return b""


async def test_a_command_sent_now_reaches_the_server_before_the_loop_runs_again(nc: Client, raw_subscriber):
    await nc.publish("probe", b"now")
    send_now(nc)

    assert b"MSG probe 1 3\r\nnow" in _arrived_while_the_loop_was_held(raw_subscriber)


async def test_without_it_a_command_waits_for_the_flusher_task(nc: Client, raw_subscriber):
    await nc.publish("probe", b"later")

    assert _arrived_while_the_loop_was_held(raw_subscriber) == b""
    await nc.flush()  # the flusher's turn
    raw_subscriber.setblocking(True)
    assert b"later" in _read_until(raw_subscriber, b"later")


async def test_commands_keep_their_order_and_nothing_is_written_twice(nc: Client, raw_subscriber):
    for n in range(3):
        await nc.publish("probe", str(n).encode())
    send_now(nc)
    await nc.flush()

    raw_subscriber.setblocking(True)
    data = _read_until(raw_subscriber, b"2\r\n")
    await nc.flush()
    time.sleep(0.1)
    raw_subscriber.setblocking(False)
    with pytest.raises(BlockingIOError):
        data += raw_subscriber.recv(4096)
    assert [line for line in data.split(b"\r\n") if line in (b"0", b"1", b"2")] == [b"0", b"1", b"2"]


async def test_a_request_is_on_the_wire_before_the_flusher_tasks_turn(nc: Client, raw_subscriber):
    requests = RequestMux(nc)
    request = asyncio.create_task(requests.request("probe", b"asked", timeout=0.5))
    await asyncio.sleep(0)  # the request runs up to its wait for the answer; the flusher's turn would come after ours
    assert requests.waiting == 1

    assert b"asked" in _arrived_while_the_loop_was_held(raw_subscriber)
    with pytest.raises(NatsTimeoutError):
        await request  # nobody answers the raw subscriber's message
