"""The shared target assignment of partitions to replicas, member keys, and the balancing knobs."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from imagebot_common.nats import subjects, topology
from imagebot_dispatcher.consumer.balance import fair_share, target_assignment
from imagebot_dispatcher.consumer.membership import member_key
from imagebot_dispatcher.consumer.options import EngineOptions
from imagebot_dispatcher.settings import DispatcherSettings

pytestmark = pytest.mark.unit

KV_KEY = re.compile(r"^[-/_=.a-zA-Z0-9]+$")
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
NAMES = [f"dispatcher-{i}" for i in range(6)]


@pytest.mark.parametrize("members", range(1, 7))
def test_every_partition_has_one_target_and_shares_differ_by_at_most_one(members: int):
    assignment = target_assignment(16, NAMES[:members])
    counts = Counter(assignment.values())

    assert sorted(assignment) == list(range(16))
    assert set(counts) == set(NAMES[:members])
    assert max(counts.values()) == fair_share(16, members)
    assert max(counts.values()) - min(counts.values()) <= 1


def test_every_replica_computes_the_same_assignment_whatever_order_it_read_the_members_in():
    assert target_assignment(16, ["b", "c", "a"]) == target_assignment(16, ["a", "b", "c", "b"])


def test_a_joining_replica_takes_its_share_while_few_partitions_move_between_the_others():
    for members in range(1, 5):
        before, after = target_assignment(16, NAMES[:members]), target_assignment(16, NAMES[: members + 1])
        moved = {p for p in before if before[p] != after[p]}
        newcomer = NAMES[members]
        assert {p for p, m in after.items() if m == newcomer} <= moved
        assert len([p for p in moved if after[p] != newcomer]) <= 3, (members, moved)


def test_a_leaving_replicas_partitions_are_the_ones_that_move_mostly():
    before, after = target_assignment(16, NAMES[:3]), target_assignment(16, NAMES[:2])
    moved = {p for p in before if before[p] != after[p]}
    assert {p for p, m in before.items() if m == NAMES[2]} <= moved
    assert len(moved) <= fair_share(16, 3) + 3


def test_without_members_there_is_no_target():
    assert target_assignment(16, []) == {}
    assert fair_share(16, 0) == 16


def test_member_keys_are_valid_kv_keys_and_unique_when_no_instance_id_is_given():
    assert member_key("pod-7f9c.example") == "pod-7f9c_example"
    assert KV_KEY.match(member_key("host name/1:2"))
    assert member_key("") != member_key("") and member_key("").startswith("engine-")


def test_the_member_registry_is_a_bucket_whose_ttl_is_the_member_ttl():
    config = topology.dispatcher_members_bucket(ttl=3.0, replicas=3)
    assert (config.bucket, config.ttl, config.history, config.replicas) == (subjects.DISPATCHER_MEMBERS_BUCKET, 3, 1, 3)


def test_balancing_settings_come_from_the_environment_and_the_instance_id_names_the_member(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("CONSUMER_MEMBER_TTL", "2")
    monkeypatch.setenv("CONSUMER_REBALANCE_DELAY", "7")
    monkeypatch.setenv("INSTANCE_ID", "dispatcher-abc")
    options = EngineOptions.from_settings(DispatcherSettings(_env_file=None))  # type: ignore[call-arg]
    assert (options.member_ttl, options.rebalance_delay, options.member_id) == (2, 7, "dispatcher-abc")
    assert options.balance_interval * 3 < options.member_ttl, "a missed heartbeat does not expire a member"
