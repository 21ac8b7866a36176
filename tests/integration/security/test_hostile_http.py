"""Hostile HTTP against a real gateway process: whatever arrives, no 5xx but the intended 503, no crash, and
nothing stored unless the request proved it comes from Telegram (secret header) or Kie.ai (token + HMAC)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.security.conftest import CALLBACK_TOKEN, SECRET_HEADER, WEBHOOK_SECRET, HostileTarget

pytestmark = pytest.mark.integration

KNOWN_PATHS = ["/webhook", "/callbacks/kie", "/", "/healthz", "/readyz", "/health", "/diag/webhook", "/diag/lock"]
KNOWN_PATHS += ["/metrics", "/schema/openapi.json"]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "PROPFIND"]
CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                 "multipart/form-data; boundary=x", "application/json; charset=latin-1", "application/xml", "*/*",
                 "", "application/json, text/plain"]  # fmt: skip
MIB = 1024 * 1024
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def nested(depth: int, kind: str) -> bytes:
    return (b'{"a":' * depth + b"1" + b"}" * depth) if kind == "object" else (b"[" * depth + b"]" * depth)


@st.composite
def hostile_bodies(draw: st.DrawFn) -> bytes:
    """Random bytes, truncated or valid JSON of any shape, deep nesting, huge numbers, non-UTF-8, big bodies."""
    kind = draw(st.sampled_from(["bytes", "truncated", "json", "update", "deep", "number", "non-utf8", "big"]))
    if kind == "bytes":
        return draw(st.binary(max_size=2048))
    if kind == "truncated":
        text = json.dumps(draw(json_values)).encode()
        return text[: draw(st.integers(0, max(0, len(text) - 1)))]
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "update":
        update = {"update_id": draw(st.integers() | st.floats() | st.text()), "message": draw(json_values)}
        return json.dumps(update).encode()
    if kind == "deep":
        return nested(draw(st.sampled_from([1000, 100_000, 300_000])), draw(st.sampled_from(["object", "array"])))
    if kind == "number":
        digits = draw(st.integers(20, 100_000))
        return b'{"update_id": ' + draw(st.sampled_from([b"", b"-"])) + b"9" * digits + b"}"
    if kind == "non-utf8":
        return b'{"update_id": 1, "message": {"text": "' + draw(st.binary(min_size=1, max_size=64)) + b'\xff\xfe"}}'
    # Within 8 KiB of the limit is left to test_size_limits.py: it needs a gateway of its own.
    return b" " * draw(st.sampled_from([MIB - 8192, MIB + 1, 2 * MIB]))


@st.composite
def task_callbacks(draw: st.DrawFn) -> bytes:
    """Well-formed Kie.ai callbacks (so the signature check is what refuses them)."""
    data = {"taskId": draw(st.text(min_size=1, max_size=128)), "state": draw(st.sampled_from(["success", "fail"]))}
    return json.dumps({"code": 200, "msg": "ok", "data": data}).encode()


# What a client library lets through (RFC 9110 tokens, latin-1 values); malformed HTTP goes over raw sockets.
token_chars = st.sampled_from("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
header_names = st.text(token_chars, min_size=1, max_size=30)
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=200)
random_paths = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="#?"), max_size=80)


@pytest.fixture(scope="module")
def http(hostile_target: HostileTarget) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hostile_target.base_url, timeout=30) as client:
        yield client


def send(http: httpx.Client, method: str, path: str, headers: dict[str, str], body: bytes) -> httpx.Response:
    # h11 refuses surrounding whitespace in values, as HTTP itself strips it.
    raw_headers = [(name.encode("latin-1"), value.strip(" \t").encode("latin-1")) for name, value in headers.items()]
    request = http.build_request(method, path, headers=raw_headers, content=body if body else None)
    return http.send(request)


def acceptable(response: httpx.Response) -> bool:
    """Any answer but a server error; 503 is the one intended (storage unavailable or full: retry later)."""
    return response.status_code < 500 or response.status_code == 503


def test_unauthenticated_requests_of_any_shape_get_no_server_error_and_store_nothing(
    hostile_target: HostileTarget, http: httpx.Client
):
    """Injects: random methods, known and random paths, random query strings and headers (the secret header
    and the callback token left out), every content type, random/truncated/deep/huge/non-UTF-8/oversized bodies.
    Asserts: every answer is < 500 (or the intended 503); no stream of the gateway gained a message."""
    before = hostile_target.stored()

    @FUZZ
    @given(
        method=st.sampled_from(METHODS),
        path=st.sampled_from(KNOWN_PATHS) | random_paths.map(lambda p: "/" + p.lstrip("/")),
        query=st.dictionaries(st.text(max_size=10), st.text(max_size=40), max_size=3),
        headers=st.dictionaries(header_names, header_values, max_size=5),
        content_type=st.sampled_from(CONTENT_TYPES),
        body=hostile_bodies(),
    )
    def each(method, path, query, headers, content_type, body) -> None:
        headers = {k: v for k, v in headers.items() if k.lower() not in {SECRET_HEADER.lower(), "content-length"}}
        query.pop("token", None)
        target = httpx.URL(path, params=query).raw_path.decode()
        response = send(http, method, target, {**headers, "Content-Type": content_type}, body)
        assert acceptable(response), (method, target, response.status_code, response.text[:300])

    each()
    assert hostile_target.stored() == before


def test_authenticated_garbage_on_the_webhook_is_stored_parked_or_refused_never_a_server_error(
    hostile_target: HostileTarget, http: httpx.Client
):
    """Injects: hostile bodies carrying the right secret header (what a compromised or buggy sender could do).
    Asserts: 200 (stored, or parked in DEAD_LETTERS when it is no update), 413 over 1 MiB, or another 4xx;
    never a 5xx but 503; the messages UPDATES and DEAD_LETTERS gained are exactly what the gateway says it
    stored and parked, and never more than the 200s; KIE_CALLBACKS gained nothing."""
    before, claimed_before = hostile_target.stored(), queue_figures(http)
    acknowledged = 0

    @FUZZ
    @given(body=hostile_bodies(), content_type=st.sampled_from(CONTENT_TYPES))
    def each(body, content_type) -> None:
        nonlocal acknowledged
        response = send(http, "POST", "/webhook", {SECRET_HEADER: WEBHOOK_SECRET, "Content-Type": content_type}, body)
        assert acceptable(response), (response.status_code, response.text[:300])
        acknowledged += response.status_code == 200

    each()
    after, claimed = hostile_target.stored(), queue_figures(http)
    grew = after["UPDATES"] - before["UPDATES"] + after["DEAD_LETTERS"] - before["DEAD_LETTERS"]
    said = sum(claimed[k] - claimed_before[k] for k in ("total_published", "total_dead_lettered"))
    assert grew == said  # (a repeated update_id is acknowledged, counted as a duplicate, stored once)
    assert 0 < grew <= acknowledged
    assert after["KIE_CALLBACKS"] == before["KIE_CALLBACKS"]


def test_kie_callbacks_without_a_valid_signature_are_refused_even_with_the_right_token(
    hostile_target: HostileTarget, http: httpx.Client
):
    """Injects: hostile bodies to /callbacks/kie with the right URL token and random (absent, garbage or
    forged) X-Webhook-Timestamp / X-Webhook-Signature headers.
    Asserts: a 4xx (400 not JSON / no taskId, 401 bad signature, 413 too big), never a 5xx; nothing forwarded."""
    before = hostile_target.stored()
    names = st.sampled_from(["X-Webhook-Timestamp", "X-Webhook-Signature", "X-Other"])

    @FUZZ
    @given(body=hostile_bodies() | task_callbacks(), headers=st.dictionaries(names, header_values))
    def each(body, headers) -> None:
        response = send(http, "POST", f"/callbacks/kie?token={CALLBACK_TOKEN}", headers, body)
        assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])

    each()
    assert hostile_target.stored() == before


def test_after_all_that_the_gateway_is_alive_and_ready(hostile_target: HostileTarget, http: httpx.Client):
    """Asserts: the same process (never restarted) still answers /healthz 200 and /readyz 200."""
    assert hostile_target.alive()
    assert http.get("/readyz").status_code == 200


def queue_figures(http: httpx.Client) -> dict[str, int]:
    return http.get("/health").json()["queue"]
