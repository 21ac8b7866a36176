"""Pure pieces of imagegen: rate limiter, poll schedule, error mapping, settings, catalog, ledger keys."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import ValidationError

from imagebot_common.catalog import default_catalog
from imagebot_imagegen.job_store import job_key, task_key
from imagebot_imagegen.kie.errors import (
    KieAuthError,
    KieBadRequest,
    KieInsufficientCredits,
    KieProtocolError,
    KieRateLimited,
    KieTransportError,
    KieValidationError,
)
from imagebot_imagegen.kie.models import TaskRecord
from imagebot_imagegen.outcomes import error_for_failed_task, error_for_kie
from imagebot_imagegen.polling import poll_interval
from imagebot_imagegen.rate_limit import SlidingWindowLimiter
from imagebot_imagegen.settings import ImagegenSettings

pytestmark = pytest.mark.unit


async def test_the_limiter_lets_n_calls_through_per_window_and_makes_the_next_wait():
    limiter = SlidingWindowLimiter(3, 0.2, margin=0)
    started = time.monotonic()
    for _ in range(3):
        await limiter.acquire()
    assert time.monotonic() - started < 0.05
    await limiter.acquire()
    assert time.monotonic() - started >= 0.19


async def test_the_limiter_serves_waiters_in_arrival_order():
    limiter = SlidingWindowLimiter(1, 0.05, margin=0)
    order: list[int] = []

    async def take(i: int) -> None:
        await limiter.acquire()
        order.append(i)

    await asyncio.gather(*(take(i) for i in range(5)))
    assert order == [0, 1, 2, 3, 4]


def test_polling_follows_kies_schedule_and_stretches_to_stay_within_the_read_budget():
    assert poll_interval(5, initial=2, in_flight=1, reads_per_second=10) == 2
    assert poll_interval(60, initial=2, in_flight=1, reads_per_second=10) == 5
    assert poll_interval(300, initial=2, in_flight=1, reads_per_second=10) == 15
    assert poll_interval(5, initial=2, in_flight=1000, reads_per_second=10) == pytest.approx(125)
    assert poll_interval(5, initial=2, in_flight=1, reads_per_second=10, callbacks_on=True) == 6


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (KieInsufficientCredits("no money"), "insufficient_credits"),
        (KieValidationError("bad prompt"), "content_rejected"),
        (KieBadRequest("?"), "invalid_request"),
        (KieAuthError("key"), "provider_unavailable"),
        (KieRateLimited("slow down"), "provider_unavailable"),
        (KieTransportError("timeout", request_sent=True), "provider_unavailable"),
        (KieProtocolError("garbage"), "provider_unavailable"),
    ],
)
def test_kie_errors_map_to_the_job_error_kind_the_user_sees(error, kind):
    assert error_for_kie(error).kind == kind


def test_an_ambiguous_create_failure_says_it_was_not_repeated():
    assert "not repeated" in error_for_kie(KieTransportError("ReadTimeout", request_sent=True)).message


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        ("500", "Internal server error", "generation_failed"),
        ("422", "whatever", "content_rejected"),
        ("400", "prompt contains prohibited content", "content_rejected"),
        ("", "", "generation_failed"),
    ],
)
def test_a_failed_task_is_content_rejected_only_for_refusals(code, message, kind):
    task = TaskRecord.model_validate({"taskId": "t", "state": "fail", "failCode": code, "failMsg": message})
    assert error_for_failed_task(task).kind == kind


def test_settings_need_the_kie_key_and_name_it_when_missing(monkeypatch):
    monkeypatch.delenv("KIE_API_KEY", raising=False)
    with pytest.raises(ValidationError) as missing:
        ImagegenSettings(_env_file=None)
    assert "kie_api_key" in str(missing.value)


def test_the_callback_url_joins_base_path_and_token_and_is_absent_without_a_public_url():
    base = {"kie_api_key": "k" * 10, "_env_file": None}
    assert ImagegenSettings(**base).callback_url() is None
    with_token = ImagegenSettings(**base, webhook_base_url="https://bot.example.com/", kie_callback_token="tok-123456")
    assert with_token.callback_url() == "https://bot.example.com/callbacks/kie?token=tok-123456"
    override = ImagegenSettings(
        **base,
        webhook_base_url="https://a.example",
        kie_callback_base_url="https://b.example",
        kie_callback_path="/x/y/",
    )
    assert override.callback_url() == "https://b.example/x/y"


def test_secrets_are_listed_for_redaction_and_hidden_from_repr():
    settings = ImagegenSettings(kie_api_key="secret-key-abcdef", kie_callback_token="secret-token-xyz", _env_file=None)
    assert set(settings.secrets()) == {"secret-key-abcdef", "secret-token-xyz"}
    assert "secret-key-abcdef" not in repr(settings) and "secret-token-xyz" not in repr(settings)


def test_the_catalog_puts_z_image_first_and_single_model_mode_offers_only_it():
    catalog = default_catalog()
    assert catalog.default.id == "z-image" and catalog.default.verified
    assert [m.id for m in catalog.offered(single_model_only=True)] == ["z-image"]
    assert len(catalog.offered(single_model_only=False)) > 1
    assert catalog.default.task_input("a cat", "9:16") == {"prompt": "a cat", "aspect_ratio": "9:16"}
    with pytest.raises(ValueError, match="aspect ratio"):
        catalog.default.task_input("a cat", "auto")


def test_ledger_keys_are_valid_kv_keys_for_any_job_or_task_id():
    assert job_key("abc_123-x") == "job.r.abc_123-x"
    odd = job_key("12345:67/89 ü")
    assert odd.startswith("job.b.") and all(c.isalnum() or c in "._-" for c in odd)
    assert job_key("a:b") != job_key("a_b")
    assert task_key("21518c08ce0db8c8413fb9aa2cc279bb") == "task.r.21518c08ce0db8c8413fb9aa2cc279bb"
