"""Malformed HTTP no client library would send, written to the gateway's socket byte for byte: a 4xx or a closed
connection, never a 5xx, never a crash, and nothing stored (smuggled requests included)."""

from __future__ import annotations

import contextlib
import socket

import pytest

from tests.integration.security.conftest import SECRET_HEADER, WEBHOOK_SECRET, HostileTarget
from tests.support.proc_stats import MIB, memory_of

pytestmark = pytest.mark.integration

UPDATE = b'{"update_id": 424242, "message": {"message_id": 1, "chat": {"id": 5, "type": "private"}, "text": "hi"}}'
CRLF = b"\r\n"
AUTH = f"{SECRET_HEADER}: {WEBHOOK_SECRET}\r\n".encode()


def post_head(extra: bytes = b"", secret: bool = False) -> bytes:
    head = b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    return head + (AUTH if secret else b"") + extra


MALFORMED: dict[str, bytes] = {
    "garbage-request-line": b"\x00\x01\x02\xff GARBAGE\r\n\r\n",
    "unknown-http-version": b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
    "no-version": b"GET /healthz\r\n\r\n",
    "nul-in-header": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "illegal-header-name": b"GET /healthz HTTP/1.1\r\nHost: x\r\n(): y\r\n\r\n",
    "header-without-colon": b"GET /healthz HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n",
    "obs-fold": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
    "bare-lf": b"GET /healthz HTTP/1.1\nHost: x\n\n",
    "huge-header": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 200_000 + b"\r\n\r\n",
    "many-headers": b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(5000)) + CRLF,
    "huge-path": b"GET /" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "negative-length": post_head(b"Content-Length: -1\r\n\r\n") + UPDATE,
    "two-lengths": post_head(b"Content-Length: 10\r\nContent-Length: 20\r\n\r\n") + UPDATE,
    "length-not-a-number": post_head(b"Content-Length: 1e3\r\n\r\n") + UPDATE,
    "declared-10-gb": post_head(b"Content-Length: 10000000000\r\n\r\n") + UPDATE,
    "bad-chunk-size": post_head(b"Transfer-Encoding: chunked\r\n\r\nzz\r\n" + UPDATE + b"\r\n0\r\n\r\n"),
    "unknown-transfer-coding": post_head(b"Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    "truncated-body": post_head(b"Content-Length: 500\r\n\r\n") + UPDATE[:20],
    "chunked-without-end": post_head(b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
    # The same framing faults past the secret check, where the body is actually read:
    "authed-declared-10-gb": post_head(b"Content-Length: 10000000000\r\n\r\n", secret=True) + UPDATE,
    "authed-truncated-body": post_head(b"Content-Length: 500\r\n\r\n", secret=True) + UPDATE[:20],
    "authed-chunked-without-end": post_head(b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", secret=True),
    "authed-chunked-over-1-mib": post_head(b"Transfer-Encoding: chunked\r\n\r\n", secret=True)
    + b"".join(b"10000\r\n" + b" " * 0x10000 + b"\r\n" for _ in range(20))
    + b"0\r\n\r\n",
}

SMUGGLED = post_head(b"Content-Length: %d\r\n\r\n" % len(UPDATE), secret=True) + UPDATE
# Authenticated carriers trying to slip a second request (or update) past the framing: CL.TE, TE.CL, TE.TE.
SMUGGLING: dict[str, bytes] = {
    "cl-te": post_head(b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n", secret=True)
    + b"0\r\n\r\n"
    + SMUGGLED,
    "te-cl": post_head(b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", secret=True)
    + b"%x\r\n" % len(UPDATE)
    + UPDATE
    + b"\r\n0\r\n\r\n",
    "te-te": post_head(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", secret=True)
    + b"0\r\n\r\n"
    + SMUGGLED,
}


def exchange(base_url: str, raw: bytes, timeout: float = 5.0) -> bytes:
    """Write `raw`, half-close, and read whatever comes back until the server closes (or the timeout)."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            return b""  # the server closed on us mid-request: a refusal too
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return received


def statuses(answer: bytes) -> list[int]:
    """The status code of every response on the connection."""
    found = []
    for line in answer.split(b"\r\n"):
        if line.startswith(b"HTTP/1.") and len(line) >= 12 and line[9:12].isdigit():
            found.append(int(line[9:12]))
    return found


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_http_gets_a_4xx_or_a_closed_connection(hostile_target: HostileTarget, raw: bytes):
    """Injects: one malformed HTTP request (see MALFORMED), unauthenticated.
    Asserts: every response on the connection is < 500 (or none at all); nothing is stored; the gateway lives."""
    before = hostile_target.stored()
    answer = exchange(hostile_target.base_url, raw)

    assert all(status < 500 for status in statuses(answer)), answer[:300]
    assert hostile_target.stored() == before
    assert hostile_target.alive()


@pytest.mark.parametrize("raw", SMUGGLING.values(), ids=SMUGGLING.keys())
def test_request_smuggling_behind_an_authenticated_request_stores_nothing_unauthenticated(
    hostile_target: HostileTarget, raw: bytes
):
    """Injects: an authenticated POST /webhook with conflicting framing (Content-Length and Transfer-Encoding)
    carrying a second, unauthenticated POST /webhook with a valid update.
    Asserts: no 5xx; the smuggled update (id 424242) is never stored: UPDATES gains nothing."""
    before = hostile_target.stored()
    answer = exchange(hostile_target.base_url, raw)

    assert all(status < 500 for status in statuses(answer)), answer[:300]
    after = hostile_target.stored()
    assert after["UPDATES"] == before["UPDATES"]
    assert hostile_target.alive()


def test_an_endless_request_header_is_cut_off_before_it_costs_the_gateway_memory(hostile_target: HostileTarget):
    """Injects: 4 unauthenticated connections, each sending `GET /healthz` with one header value of 16 MiB and
    no end of headers.
    Asserts: the gateway's resident memory grows by less than 16 MiB in all: its 64 KiB bound on a request head
    (http_protocol.py) cuts each connection off (without it: 83 MiB; with it: no measurable growth)."""
    before = memory_of(hostile_target.process.pid)["VmRSS"]
    host, port = hostile_target.base_url.removeprefix("http://").split(":")
    connections = []
    try:
        for _ in range(4):
            sock = socket.create_connection((host, int(port)), timeout=5)
            connections.append(sock)
            with contextlib.suppress(OSError):  # a server that enforces a limit closes the connection on us
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Endless: ")
                for _ in range(16):
                    sock.sendall(b"a" * MIB)
        grown = memory_of(hostile_target.process.pid)["VmRSS"] - before
    finally:
        for sock in connections:
            sock.close()
    assert hostile_target.alive()
    assert grown < 16 * MIB, f"the gateway grew by {grown / MIB:.0f} MiB"


def test_a_client_hanging_up_mid_body_is_no_error_in_the_gateway_log(hostile_target: HostileTarget):
    """Injects: three authenticated requests whose clients hang up before the body ends (truncated, endless chunked,
    a declared 10 GB).
    Asserts: the gateway logs no traceback for them (an abandoned request is ordinary, not a server error)."""
    for name in ("authed-truncated-body", "authed-chunked-without-end", "authed-declared-10-gb"):
        exchange(hostile_target.base_url, MALFORMED[name])
    assert hostile_target.alive()

    log = hostile_target.process.logs()
    assert "Traceback" not in log and "Exception in ASGI application" not in log
