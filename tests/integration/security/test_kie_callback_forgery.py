"""Forged Kie.ai callbacks the gateway's own tests do not cover (tests/integration/gateway/test_kie_callbacks.py
has: no token, wrong token, unsigned, bad signature, a timestamp an hour old): each is refused and nothing is
forwarded to imagegen."""

from __future__ import annotations

import time

import httpx
import pytest

from imagebot_gateway.kie_auth import sign
from tests.integration.security.conftest import CALLBACK_TOKEN, HMAC_KEY, HostileTarget

pytestmark = pytest.mark.integration


def callback(task_id: str) -> dict:
    return {
        "code": 200,
        "msg": "Playground task completed successfully.",
        "data": {"taskId": task_id, "state": "success"},
    }


def signed(task_id: str, stamp: str, key: str = HMAC_KEY) -> dict[str, str]:
    return {"X-Webhook-Timestamp": stamp, "X-Webhook-Signature": sign(key, task_id, stamp)}


def now() -> str:
    return str(int(time.time()))


FORGERIES = {
    "timestamp-an-hour-ahead": ("?token=" + CALLBACK_TOKEN, lambda t: signed(t, str(int(time.time()) + 3600))),
    "timestamp-not-a-number": ("?token=" + CALLBACK_TOKEN, lambda t: signed(t, "yesterday")),
    "timestamp-infinite": ("?token=" + CALLBACK_TOKEN, lambda t: signed(t, "inf")),
    "timestamp-overflowing": ("?token=" + CALLBACK_TOKEN, lambda t: signed(t, "1e309")),
    "signature-of-another-task": ("?token=" + CALLBACK_TOKEN, lambda t: signed("someone-elses-task", now())),
    "signature-with-another-key": ("?token=" + CALLBACK_TOKEN, lambda t: signed(t, now(), key="guessed-key")),
    "signature-not-base64": (
        "?token=" + CALLBACK_TOKEN,
        lambda t: {"X-Webhook-Timestamp": now(), "X-Webhook-Signature": b"\xe9\xff not base64"},
    ),
    "token-in-a-header": ("", lambda t: {**signed(t, now()), "Authorization": f"Bearer {CALLBACK_TOKEN}"}),
    "token-prefix": ("?token=" + CALLBACK_TOKEN[:-1], lambda t: signed(t, now())),
    "token-with-suffix": ("?token=" + CALLBACK_TOKEN + "x", lambda t: signed(t, now())),
    "token-upper-case": ("?token=" + CALLBACK_TOKEN.upper(), lambda t: signed(t, now())),
}


@pytest.mark.parametrize(("query", "headers"), FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_callback_is_refused_with_401_and_nothing_reaches_imagegen(
    hostile_target: HostileTarget, query, headers
):
    """Injects: a well-formed callback for a fresh task id, forged as named in the id.
    Asserts: 401 with a reason; KIE_CALLBACKS gains nothing."""
    task_id = f"forged-{time.monotonic_ns()}"
    before = hostile_target.stored()["KIE_CALLBACKS"]
    response = httpx.post(
        f"{hostile_target.base_url}/callbacks/kie{query}", json=callback(task_id), headers=headers(task_id)
    )

    assert response.status_code == 401, response.text
    assert response.json()["msg"]
    assert hostile_target.stored()["KIE_CALLBACKS"] == before


def test_a_signed_callback_whose_timestamp_is_nan_is_refused_as_not_fresh(hostile_target: HostileTarget):
    """Injects: a callback correctly signed over the timestamp 'nan'.
    Asserts: 401 (a timestamp that is no point in time cannot be fresh); nothing forwarded."""
    task_id = f"nan-{time.monotonic_ns()}"
    before = hostile_target.stored()["KIE_CALLBACKS"]
    url = f"{hostile_target.base_url}/callbacks/kie?token={CALLBACK_TOKEN}"
    response = httpx.post(url, json=callback(task_id), headers=signed(task_id, "nan"))

    assert response.status_code == 401, response.text
    assert hostile_target.stored()["KIE_CALLBACKS"] == before


def test_a_correctly_signed_fresh_callback_is_forwarded_once(hostile_target: HostileTarget):
    """The control: the same gateway forwards a genuine callback (so the refusals above are not a broken route).
    Injects: one callback with the right token and a fresh valid signature. Asserts: 200; KIE_CALLBACKS + 1."""
    task_id = f"genuine-{time.monotonic_ns()}"
    before = hostile_target.stored()["KIE_CALLBACKS"]
    url = f"{hostile_target.base_url}/callbacks/kie?token={CALLBACK_TOKEN}"
    response = httpx.post(url, json=callback(task_id), headers=signed(task_id, now()))

    assert response.status_code == 200, response.text
    assert hostile_target.stored()["KIE_CALLBACKS"] == before + 1
