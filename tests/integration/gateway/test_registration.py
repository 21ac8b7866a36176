"""Webhook registration and polling against the Telegram emulator (real gateway processes, real NATS)."""

from __future__ import annotations

import httpx
import pytest
from nats.js import JetStreamContext

from imagebot_common.nats import subjects
from imagebot_gateway.webhook_secret import derive_webhook_secret
from tests.integration.gateway.conftest import BOT_TOKEN
from tests.integration.gateway.test_webhook_intake import stored_updates
from tests.support.nats_server import NatsServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


async def set_webhook_calls(control) -> list[dict]:
    return [r for r in await control.requests("setWebhook") if r.get("status", 200) == 200]


async def test_the_webhook_is_registered_with_a_derived_secret_explicit_updates_and_max_connections(
    start_gateway, telegram_emulator, js
):
    control = telegram_emulator.control(BOT_TOKEN)
    gateway = start_gateway(telegram_api_url=telegram_emulator.url, webhook_secret_token="")

    await wait_until(lambda: "Webhook registered successfully" in gateway.logs(), timeout=15)
    (call,) = await set_webhook_calls(control)
    params = call["params"]
    assert params["url"] == f"{gateway.base_url}/webhook"
    assert params["secret_token"] == derive_webhook_secret(BOT_TOKEN)
    assert params["allowed_updates"] == ["message", "callback_query", "my_chat_member"]
    assert int(params["max_connections"]) == 40
    assert BOT_TOKEN not in gateway.logs()
    assert derive_webhook_secret(BOT_TOKEN) not in gateway.logs()


async def test_a_user_message_travels_from_the_emulator_through_the_webhook_into_the_stream(
    start_gateway, telegram_emulator, js: JetStreamContext
):
    control = telegram_emulator.control(BOT_TOKEN)
    gateway = start_gateway(telegram_api_url=telegram_emulator.url)
    await wait_until(lambda: "Webhook registered successfully" in gateway.logs(), timeout=15)

    sent = await control.send_text(4242, "hello")

    async def stored() -> list:
        return await stored_updates(js)

    (subject, _headers, body) = (await wait_until(stored, timeout=10))[0]
    assert body["update_id"] == sent["update_id"]
    assert subject.endswith(".upd.4242")


async def test_a_gateway_restart_does_not_register_again_when_the_webhook_already_matches(
    start_gateway, telegram_emulator, js
):
    control = telegram_emulator.control(BOT_TOKEN)
    first = start_gateway(telegram_api_url=telegram_emulator.url)
    await wait_until(lambda: "Webhook registered successfully" in first.logs(), timeout=15)
    assert first.terminate() == 0

    second = start_gateway(telegram_api_url=telegram_emulator.url, port=str(first.port))
    await wait_until(lambda: "nothing to do" in second.logs(), timeout=15)
    assert len(await set_webhook_calls(control)) == 1


async def test_registration_retries_with_backoff_then_succeeds(start_gateway, telegram_emulator, js):
    control = telegram_emulator.control(BOT_TOKEN)
    await control.fault("setWebhook", 500, count=2)

    gateway = start_gateway(telegram_api_url=telegram_emulator.url, webhook_register_attempts="3")

    await wait_until(lambda: "Webhook registered successfully" in gateway.logs(), timeout=15)
    logs = gateway.logs()
    assert "attempt 1/3 failed" in logs
    assert "attempt 2/3 failed" in logs


async def test_when_every_attempt_fails_the_gateway_logs_an_error_and_keeps_serving(
    start_gateway, telegram_emulator, js
):
    control = telegram_emulator.control(BOT_TOKEN)
    await control.fault("setWebhook", 500, count=10)

    gateway = start_gateway(telegram_api_url=telegram_emulator.url, webhook_register_attempts="2")

    await wait_until(lambda: "registration failed after 2 attempts" in gateway.logs(), timeout=15)
    assert httpx.get(f"{gateway.base_url}/healthz").status_code == 200
    assert gateway.returncode is None


async def test_of_two_gateways_exactly_one_registers_and_the_other_sees_the_holder(
    start_gateway, telegram_emulator, js
):
    control = telegram_emulator.control(BOT_TOKEN)
    first = start_gateway(telegram_api_url=telegram_emulator.url)
    second = start_gateway(telegram_api_url=telegram_emulator.url)

    await wait_until(lambda: "Webhook registered successfully" in first.logs() + second.logs(), timeout=15)
    locks = [httpx.get(f"{g.base_url}/diag/lock").json() for g in (first, second)]
    assert sorted(lock["lock_acquired"] for lock in locks) == [False, True]
    holder = next(lock["holder"] for lock in locks if lock["lock_acquired"])
    assert all(lock["holder"] == holder for lock in locks)
    assert all(lock["should_process"] for lock in locks)  # both take webhook deliveries
    assert len(await set_webhook_calls(control)) == 1


async def test_diag_webhook_shows_telegrams_view_with_the_url_masked(start_gateway, telegram_emulator, js):
    gateway = start_gateway(telegram_api_url=telegram_emulator.url, webhook_path="/webhook/secret-path-segment-123456")
    await wait_until(lambda: "Webhook registered successfully" in gateway.logs(), timeout=15)

    info = httpx.get(f"{gateway.base_url}/diag/webhook").json()

    assert info["url"] == f"{gateway.base_url}/webhook/***"
    assert "secret-path-segment" not in gateway.logs()
    assert info["pending_update_count"] == 0


async def test_with_nats_down_telegrams_retry_lands_the_update_once_nats_is_back(
    start_gateway, telegram_emulator, js, nats_server: NatsServer
):
    control = telegram_emulator.control(BOT_TOKEN)
    gateway = start_gateway(telegram_api_url=telegram_emulator.url, retry_after_seconds="1")
    await wait_until(lambda: "Webhook registered successfully" in gateway.logs(), timeout=15)

    nats_server.stop()
    try:
        sent = await control.send_text(77, "while NATS is down")

        async def refused() -> bool:
            return "503" in str((await control.webhook()).get("last_error_message", ""))

        await wait_until(refused, timeout=10, message="the emulator saw a 503")
    finally:
        nats_server.start()

    async def stored() -> list:
        return await stored_updates(js)

    stored_now = await wait_until(stored, timeout=20, interval=0.2, message="the retried update is stored")
    assert [body["update_id"] for _, _, body in stored_now] == [sent["update_id"]]


async def test_polling_mode_publishes_updates_exactly_like_the_webhook(start_gateway, telegram_emulator, js):
    control = telegram_emulator.control(BOT_TOKEN)
    gateway = start_gateway(telegram_api_url=telegram_emulator.url, bot_mode="polling", polling_timeout="1")
    await wait_until(lambda: "long-polling getUpdates" in gateway.logs(), timeout=15)

    sent = [await control.send_text(500 + i, f"m{i}") for i in range(3)]

    async def all_stored() -> list:
        found = await stored_updates(js)
        return found if len(found) == 3 else []

    stored_now = await wait_until(all_stored, timeout=10)
    assert sorted(b["update_id"] for _, _, b in stored_now) == sorted(s["update_id"] for s in sent)
    assert all(h[subjects.MSG_ID_HEADER].startswith("123456789:") for _, h, _ in stored_now)


async def test_polling_loses_nothing_when_the_gateway_is_killed_between_get_updates_and_publish(
    start_gateway, telegram_emulator, js, nats_server: NatsServer
):
    control = telegram_emulator.control(BOT_TOKEN)
    first = start_gateway(telegram_api_url=telegram_emulator.url, bot_mode="polling", polling_timeout="1")
    await wait_until(lambda: "long-polling getUpdates" in first.logs(), timeout=15)

    nats_server.stop()  # getUpdates still works, publishing cannot
    try:
        sent = [await control.send_text(600 + i, f"m{i}") for i in range(3)]
        await wait_until(lambda: "not stored" in first.logs(), timeout=10, message="a publish failed")
        first.kill()  # SIGKILL: fetched from Telegram, never stored
    finally:
        nats_server.start()

    start_gateway(telegram_api_url=telegram_emulator.url, bot_mode="polling", polling_timeout="1")

    async def all_stored() -> list:
        found = await stored_updates(js)
        return found if len(found) >= 3 else []

    stored_now = await wait_until(all_stored, timeout=20)
    assert sorted(b["update_id"] for _, _, b in stored_now) == sorted(s["update_id"] for s in sent)


async def test_a_409_conflict_while_polling_is_logged_clearly_and_retried_until_it_clears(
    start_gateway, telegram_emulator, js
):
    control = telegram_emulator.control(BOT_TOKEN)
    await control.fault("getUpdates", 409, count=2, description="Conflict: terminated by other getUpdates request")
    gateway = start_gateway(telegram_api_url=telegram_emulator.url, bot_mode="polling", polling_timeout="1")

    sent = await control.send_text(901, "after the conflict")

    async def stored() -> list:
        return await stored_updates(js)

    stored_now = await wait_until(stored, timeout=20, message="polling resumed after the conflict")
    assert [b["update_id"] for _, _, b in stored_now] == [sent["update_id"]]
    assert "getUpdates conflict (409)" in gateway.logs()


async def test_shutdown_never_deletes_the_webhook_so_other_replicas_keep_receiving(
    start_gateway, telegram_emulator, js
):
    control = telegram_emulator.control(BOT_TOKEN)
    gateway = start_gateway(telegram_api_url=telegram_emulator.url)
    await wait_until(lambda: "Webhook registered successfully" in gateway.logs(), timeout=15)
    deletes_before = len(await control.requests("deleteWebhook"))

    assert gateway.terminate() == 0

    assert len(await control.requests("deleteWebhook")) == deletes_before
    assert (await control.webhook())["url"] == f"{gateway.base_url}/webhook"


async def test_the_opt_in_policy_drops_a_backlog_of_more_than_ten_pending_updates_when_registering(
    start_gateway, telegram_emulator, js
):
    control = telegram_emulator.control(BOT_TOKEN)
    for i in range(12):  # Telegram holds these while no webhook is set
        await control.send_text(700 + i, f"old {i}")

    gateway = start_gateway(telegram_api_url=telegram_emulator.url, webhook_drop_pending_on_error="true")

    await wait_until(lambda: "Webhook registered successfully" in gateway.logs(), timeout=15)
    (call,) = await set_webhook_calls(control)
    assert str(call["params"]["drop_pending_updates"]).lower() == "true"
    assert "drop pending: True" in gateway.logs()


async def test_by_default_a_backlog_is_kept_and_delivered(start_gateway, telegram_emulator, js):
    control = telegram_emulator.control(BOT_TOKEN)
    for i in range(12):
        await control.send_text(800 + i, f"old {i}")

    start_gateway(telegram_api_url=telegram_emulator.url)

    async def all_stored() -> list:
        found = await stored_updates(js)
        return found if len(found) == 12 else []

    assert await wait_until(all_stored, timeout=20, message="the backlog is delivered")
