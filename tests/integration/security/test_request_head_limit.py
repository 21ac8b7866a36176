"""The gateway's bound on a request's head (request line and headers, 64 KiB): a head over it gets 431 or a closed
connection, and nothing else changes: bodies up to the body limit (Content-Length or chunked), and keep-alive
connections carrying many requests whose heads add up to far more than the bound, are served as before."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from imagebot_gateway.http_protocol import MAX_HEAD_BYTES
from tests.integration.security.conftest import SECRET_HEADER, WEBHOOK_SECRET, HostileTarget
from tests.integration.security.test_malformed_http import statuses

pytestmark = pytest.mark.integration

KIB = 1024
AUTH = {SECRET_HEADER: WEBHOOK_SECRET, "Content-Type": "application/json"}
# Far from the ids hypothesis draws in test_hostile_http.py, so that no update here is a duplicate of one there.
FIRST_UPDATE_ID = 9_431_000_000


def update_of_size(update_id: int, size: int) -> bytes:
    """A well-formed message update whose JSON is exactly `size` bytes (the text pads it)."""
    update = {"update_id": update_id, "message": {"message_id": 1, "chat": {"id": 7, "type": "private"}, "text": ""}}
    empty = len(json.dumps(update).encode())
    update["message"]["text"] = "x" * (size - empty)
    return json.dumps(update).encode()


def padded_head(request_line: bytes, size: int, *headers: bytes) -> bytes:
    """A head of exactly `size` bytes: `request_line`, Host, `headers`, and an X-Pad header making up the rest."""
    head = request_line + b"\r\nHost: x\r\n" + b"".join(h + b"\r\n" for h in headers)
    pad = size - len(head) - len(b"X-Pad: \r\n\r\n")
    return head + b"X-Pad: " + b"p" * pad + b"\r\n\r\n"


def webhook_post(size: int, body: bytes, *, chunked: bool = False, close: bool = False) -> bytes:
    """An authenticated POST /webhook with a head of `size` bytes, its body framed by length or in 4 KiB chunks."""
    headers = [b"Content-Type: application/json", f"{SECRET_HEADER}: {WEBHOOK_SECRET}".encode()]
    headers.append(b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % len(body))
    if close:
        headers.append(b"Connection: close")
    head = padded_head(b"POST /webhook HTTP/1.1", size, *headers)
    if not chunked:
        return head + body
    pieces = [body[i : i + 4 * KIB] for i in range(0, len(body), 4 * KIB)]
    return head + b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def connect(target: HostileTarget) -> socket.socket:
    host, port = target.base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def converse(target: HostileTarget, raw: bytes) -> bytes:
    """Write `raw` (its last request saying Connection: close) and read until the gateway closes. Unlike
    `exchange`, no half-close: uvicorn drops a connection at EOF, answered or not."""
    with connect(target) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def read_response(sock: socket.socket, pending: bytes) -> tuple[int, bytes]:
    """One response (with Content-Length, as all the gateway's are) off `sock`: its status and what follows it."""
    while b"\r\n\r\n" not in pending:
        chunk = sock.recv(65536)
        assert chunk, "the gateway closed the connection without answering"
        pending += chunk
    head, _, rest = pending.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "the gateway closed the connection mid-response"
        rest += chunk
    return int(head[9:12]), rest[length:]


def test_a_head_just_under_the_bound_is_served_and_one_over_it_gets_431(hostile_target: HostileTarget):
    """Injects: `GET /healthz` with a complete head of 64 KiB - 1 byte, then one of 80 KiB, unauthenticated.
    Asserts: 200 for the first; 431 and a closed connection for the second; the gateway lives."""
    under = converse(hostile_target, padded_head(b"GET /healthz HTTP/1.1", MAX_HEAD_BYTES - 1, b"Connection: close"))
    over = converse(hostile_target, padded_head(b"GET /healthz HTTP/1.1", 80 * KIB))

    assert statuses(under) == [200], under[:300]
    assert statuses(over) == [431], over[:300]
    assert b"connection: close" in over.lower()
    assert hostile_target.alive()


def test_an_endless_head_is_cut_off_with_431_or_a_closed_connection(hostile_target: HostileTarget):
    """Injects: `GET /healthz` and then 1 MiB of one header value in 16 KiB writes, never ending the headers.
    Asserts: within 10 s the gateway answers 431 or closes the connection (it does not wait for more)."""
    received = b""
    with connect(hostile_target) as sock:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Endless: ")
            for _ in range(64):
                sock.sendall(b"e" * 16 * KIB)
        except OSError:
            pass  # closed on us mid-header: the cut-off
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass  # the cut-off too (the kernel resets a connection closed with unread data)
        except TimeoutError:
            pytest.fail("the gateway kept waiting for the end of a 1 MiB head")

    assert statuses(received) in ([431], []), received[:300]
    assert hostile_target.alive()


def test_large_bodies_by_length_and_chunked_are_stored_and_over_the_limit_get_413(hostile_target: HostileTarget):
    """Injects: authenticated updates of 900 KiB sent with Content-Length and sent chunked (64 KiB chunks), then
    a body of 2 MiB, from an ordinary HTTP client.
    Asserts: 200, 200 and 413 (never 431); UPDATES gains exactly the two updates."""
    before = hostile_target.stored()["UPDATES"]
    chunked_update = update_of_size(FIRST_UPDATE_ID + 1, 900 * KIB)
    chunks = (chunked_update[i : i + 64 * KIB] for i in range(0, len(chunked_update), 64 * KIB))
    url = f"{hostile_target.base_url}/webhook"
    with httpx.Client(timeout=30, headers=AUTH) as http:
        by_length = http.post(url, content=update_of_size(FIRST_UPDATE_ID, 900 * KIB))
        chunked = http.post(url, content=chunks)  # an iterator: httpx sends it chunked
        too_large = http.post(url, content=b" " * (2 * 1024 * KIB))

    assert chunked.request.headers["transfer-encoding"] == "chunked"
    assert (by_length.status_code, chunked.status_code, too_large.status_code) == (200, 200, 413)
    assert hostile_target.stored()["UPDATES"] == before + 2


def test_pipelined_requests_whose_heads_add_up_past_the_bound_are_all_served(hostile_target: HostileTarget):
    """Injects: on one connection, in one write: an update with a 300 KiB body, a chunked update, and
    `GET /healthz` with Connection: close, each with a 40 KiB head (120 KiB of heads in all).
    Asserts: three 200s in order; UPDATES gains both updates."""
    before = hostile_target.stored()["UPDATES"]
    pipelined = (
        webhook_post(40 * KIB, update_of_size(FIRST_UPDATE_ID + 10, 300 * KIB))
        + webhook_post(40 * KIB, update_of_size(FIRST_UPDATE_ID + 11, 200), chunked=True)
        + padded_head(b"GET /healthz HTTP/1.1", 40 * KIB, b"Connection: close")
    )

    answer = converse(hostile_target, pipelined)

    assert statuses(answer) == [200, 200, 200], answer[:300]
    assert hostile_target.stored()["UPDATES"] == before + 2


def test_a_keep_alive_connection_counts_each_head_afresh(hostile_target: HostileTarget):
    """Injects: on one connection, five authenticated updates one after another (each answered before the next
    is sent), each with a 48 KiB head written in three parts 50 ms apart, so that the gateway reads most of each
    head while it is incomplete (the part it counts).
    Asserts: five 200s (240 KiB of heads on one connection, none over the bound); UPDATES gains all five."""
    before = hostile_target.stored()["UPDATES"]
    found = []
    with connect(hostile_target) as sock:
        pending = b""
        for n in range(5):
            raw = webhook_post(48 * KIB, update_of_size(FIRST_UPDATE_ID + 20 + n, 200))
            for start, end in ((0, 8 * KIB), (8 * KIB, 44 * KIB), (44 * KIB, len(raw))):
                sock.sendall(raw[start:end])
                time.sleep(0.05)
            status, pending = read_response(sock, pending)
            found.append(status)

    assert found == [200] * 5
    assert hostile_target.stored()["UPDATES"] == before + 5


def test_a_head_read_together_with_the_end_of_a_large_body_is_not_charged_for_the_body(
    hostile_target: HostileTarget,
):
    """Injects: on one connection, an update with a 600 KiB body and the first 8 KiB of a second update's head
    in one write; 50 ms later the rest of that head (48 KiB in all) and its body.
    Asserts: two 200s (the gateway's read holding the body's end and the head's start, ~100 KiB, is not counted
    as head); UPDATES gains both updates."""
    before = hostile_target.stored()["UPDATES"]
    first = webhook_post(300, update_of_size(FIRST_UPDATE_ID + 30, 600 * KIB))
    second = webhook_post(48 * KIB, update_of_size(FIRST_UPDATE_ID + 31, 200))
    with connect(hostile_target) as sock:
        sock.sendall(first + second[: 8 * KIB])
        time.sleep(0.05)
        sock.sendall(second[8 * KIB :])
        status_first, pending = read_response(sock, b"")
        status_second, _ = read_response(sock, pending)

    assert (status_first, status_second) == (200, 200)
    assert hostile_target.stored()["UPDATES"] == before + 2
