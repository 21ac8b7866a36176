"""Pure rules of the consumption engine: subjects, partitions, consumer config, keys, dead-letter headers."""

from __future__ import annotations

import re

import pytest
from nats.js.api import StreamConfig

from imagebot_common.nats import topology
from imagebot_common.redaction import redactor
from imagebot_dispatcher.consumer.dead_letters import header_safe
from imagebot_dispatcher.consumer.idempotency import event_key, update_key
from imagebot_dispatcher.consumer.options import EngineOptions, bot_id_of
from imagebot_dispatcher.consumer.partitions import (
    NotPartitionedError,
    PartitionedSubject,
    consumer_name,
    partition_count,
    partition_of,
)
from imagebot_dispatcher.consumer.provisioning import consumer_config
from imagebot_dispatcher.settings import DispatcherSettings

pytestmark = pytest.mark.unit

KV_KEY = re.compile(r"^[-/_=.a-zA-Z0-9]+$")
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_a_partitioned_subject_names_partition_kind_and_chat_including_negative_chat_ids():
    where = PartitionedSubject.parse("tg.p.11.evt.-1001234567890")
    assert (where.partition, where.kind, where.chat) == (11, "evt", "-1001234567890")
    assert where.chat_filter == "tg.p.11.*.-1001234567890"


@pytest.mark.parametrize("subject", ["tg.in.upd.42", "tg.p.1.xyz.42", "tg.p.1.upd", "other.p.1.upd.42"])
def test_anything_else_is_not_a_partitioned_subject(subject: str):
    with pytest.raises(ValueError, match=r"subject|kind"):
        PartitionedSubject.parse(subject)


@pytest.mark.parametrize("partitions", [1, 4, 16, 128])
def test_the_partition_count_is_read_back_from_the_streams_transform(partitions: int):
    config = topology.updates_stream(topology.UpdatesStreamLimits(partitions=partitions))
    assert partition_count(config) == partitions


def test_a_stream_without_a_partition_transform_is_refused():
    with pytest.raises(NotPartitionedError):
        partition_count(StreamConfig(name="PLAIN", subjects=["x.>"]))


def test_consumer_names_are_zero_padded_to_sort_in_partition_order():
    assert [consumer_name(p, 16) for p in (0, 7, 15)] == ["dispatcher-p00", "dispatcher-p07", "dispatcher-p15"]
    assert consumer_name(5, 128) == "dispatcher-p005"


def test_the_client_side_partition_is_fnv1a_of_the_chat_token_like_the_server():
    # FNV-1a 32 reference values: "" -> 0x811c9dc5, "a" -> 0xe40c292c.
    assert partition_of("", 1 << 32) == 0x811C9DC5
    assert partition_of("a", 1 << 32) == 0xE40C292C
    assert 0 <= partition_of("-1001234567890", 16) < 16


def test_the_partition_consumer_uses_pins_explicit_acks_no_backoff_and_unlimited_deliveries():
    options = EngineOptions(bot_id="1", ack_wait=30, pin_timeout=6, max_ack_pending=300)
    config = consumer_config(3, 16, options)
    assert config["filter_subject"] == "tg.p.3.>"
    assert config["priority_policy"] == "pinned_client" and config["priority_groups"] == ["dispatcher"]
    assert config["priority_timeout"] == 6 * 10**9 and config["ack_wait"] == 30 * 10**9
    assert config["max_ack_pending"] == 300 and config["max_deliver"] == -1 and "backoff" not in config


def test_pulls_expire_well_inside_the_pin_timeout_and_heartbeats_well_inside_ack_wait():
    options = EngineOptions(bot_id="1", ack_wait=30, pin_timeout=6)
    assert options.pull_expires * 2 <= options.pin_timeout
    assert options.heartbeat_interval * 3 <= options.ack_wait
    assert options.head_wait_limit > options.ack_wait + options.pin_timeout


def test_settings_come_from_the_environment_under_their_documented_names(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    for name, value in {
        "UPDATE_QUEUE_WORKERS": "64",
        "CONSUMER_MAX_ACK_PENDING": "128",
        "CONSUMER_ACK_WAIT": "20",
        "CONSUMER_PIN_TIMEOUT": "4",
        "CONSUMER_MAX_DELIVERIES": "5",
        "HANDLER_ATTEMPTS": "4",
        "HANDLER_RETRY_BACKOFF": "0.5",
        "HANDLER_TIMEOUT": "15",
        "DRAIN_TIMEOUT": "9",
    }.items():
        monkeypatch.setenv(name, value)
    options = EngineOptions.from_settings(DispatcherSettings(_env_file=None))  # type: ignore[call-arg]
    assert options == EngineOptions(
        bot_id="123456789", workers=64, max_ack_pending=128, ack_wait=20, pin_timeout=4, max_deliveries=5,
        handler_attempts=4, retry_backoff=0.5, handler_timeout=15, drain_timeout=9,
    )  # fmt: skip


def test_the_bot_id_is_the_public_part_of_the_token():
    assert bot_id_of(TOKEN) == "123456789"
    assert bot_id_of("not-a-token") == "bot"


def test_idempotency_keys_are_valid_kv_keys():
    assert update_key("123", 987654) == "123.987654"
    assert KV_KEY.match(update_key("123", -5))
    key = event_key("result:2b1f-job:with spaces/and:colons")
    assert KV_KEY.match(key) and key.startswith("evt.")
    assert event_key("result:a") != event_key("result:b")


def test_a_dead_letter_error_header_is_redacted_one_line_ascii_and_bounded():
    redactor.register(TOKEN)
    value = header_safe(f"boom\r\nat https://api.telegram.org/bot{TOKEN}/sendMessage — Привет " + "x" * 3000)
    assert TOKEN not in value and "/bot***/" in value
    assert "\n" not in value and "\r" not in value and value.isascii()
    assert len(value) == 1000
