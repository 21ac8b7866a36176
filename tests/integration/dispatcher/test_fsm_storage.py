"""NatsKvStorage keeps aiogram's storage contract (the cases of aiogram's tests/test_fsm/storage/test_storages.py
and test_redis.py's key builder), against a real nats-server."""

from __future__ import annotations

import asyncio
import contextvars
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import TypedDict

import pytest
from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import DEFAULT_DESTINY, StorageKey
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from imagebot_common.nats import subjects, topology
from imagebot_dispatcher.conversation.fsm_storage import FsmStorageUnavailable, KvKeyBuilder, NatsKvStorage, kv_token
from tests.support.nats_server import NatsServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

BOT_ID = 42
CHAT_ID = -1001234567890  # a supergroup: negative ids must make valid keys
USER_ID = 2


class Flow(StatesGroup):
    waiting = State()


@pytest.fixture
def storage_key() -> StorageKey:
    # A fresh user per case: isolation must not depend on how fast the server forgets a deleted bucket.
    return StorageKey(bot_id=BOT_ID, chat_id=CHAT_ID, user_id=random.randint(10**6, 10**9))


MakeStorage = Callable[..., Awaitable[NatsKvStorage]]


@pytest.fixture(params=[False, True], ids=["leader reads", "direct reads"])
def direct_reads(request: pytest.FixtureRequest) -> bool:
    """Every case holds for both ways of reading: leader reads (a bucket with replicas) and direct gets (one)."""
    return request.param


@pytest.fixture
def make_storage(direct_reads: bool, nc: Client, js: JetStreamContext) -> MakeStorage:
    async def make(**kwargs: float) -> NatsKvStorage:
        await topology.ensure_key_value(js, topology.fsm_bucket())
        return NatsKvStorage(nc, bucket=subjects.FSM_BUCKET, direct_reads=direct_reads, **kwargs)

    return make


@pytest.fixture
async def storage(make_storage: MakeStorage) -> AsyncIterator[NatsKvStorage]:
    store = await make_storage()
    yield store
    await store.close()


async def test_set_state_stores_it_and_none_deletes_it(storage: NatsKvStorage, storage_key: StorageKey):
    assert await storage.get_state(key=storage_key) is None

    await storage.set_state(key=storage_key, state="state")
    assert await storage.get_state(key=storage_key) == "state"
    await storage.set_state(key=storage_key, state=Flow.waiting)
    assert await storage.get_state(key=storage_key) == Flow.waiting.state
    await storage.set_state(key=storage_key, state=None)
    assert await storage.get_state(key=storage_key) is None


async def test_set_data_replaces_it_and_an_empty_dict_deletes_it(storage: NatsKvStorage, storage_key: StorageKey):
    assert await storage.get_data(key=storage_key) == {}
    assert await storage.get_value(storage_key=storage_key, dict_key="foo") is None
    assert await storage.get_value(storage_key=storage_key, dict_key="foo", default="baz") == "baz"

    await storage.set_data(key=storage_key, data={"foo": "bar"})
    assert await storage.get_data(key=storage_key) == {"foo": "bar"}
    assert await storage.get_value(storage_key=storage_key, dict_key="foo") == "bar"
    assert await storage.get_value(storage_key=storage_key, dict_key="foo", default="baz") == "bar"

    await storage.set_data(key=storage_key, data={})
    assert await storage.get_data(key=storage_key) == {}
    assert await storage.get_value(storage_key=storage_key, dict_key="foo") is None
    assert await storage.get_value(storage_key=storage_key, dict_key="foo", default="baz") == "baz"

    class CustomTypedDict(TypedDict, total=False):
        foo: str
        bar: str

    await storage.set_data(key=storage_key, data=CustomTypedDict(foo="bar", bar="baz"))
    assert await storage.get_data(key=storage_key) == {"foo": "bar", "bar": "baz"}

    with pytest.raises(DataNotDictLikeError):
        await storage.set_data(key=storage_key, data=())  # type: ignore[arg-type]


async def test_update_data_merges_like_dict_update(storage: NatsKvStorage, storage_key: StorageKey):
    assert await storage.get_data(key=storage_key) == {}
    assert await storage.update_data(key=storage_key, data={"foo": "bar"}) == {"foo": "bar"}
    assert await storage.update_data(key=storage_key, data={}) == {"foo": "bar"}
    assert await storage.get_data(key=storage_key) == {"foo": "bar"}
    assert await storage.update_data(key=storage_key, data={"baz": "spam"}) == {"foo": "bar", "baz": "spam"}
    assert await storage.get_data(key=storage_key) == {"foo": "bar", "baz": "spam"}
    assert await storage.update_data(key=storage_key, data={"baz": "test"}) == {"foo": "bar", "baz": "test"}
    assert await storage.get_data(key=storage_key) == {"foo": "bar", "baz": "test"}


async def test_update_data_after_a_delete_recreates_the_key(storage: NatsKvStorage, storage_key: StorageKey):
    await storage.set_data(key=storage_key, data={"a": 1})
    await storage.set_data(key=storage_key, data={})
    assert await storage.update_data(key=storage_key, data={"b": 2}) == {"b": 2}
    assert await storage.get_data(key=storage_key) == {"b": 2}


async def test_concurrent_update_data_calls_lose_no_field(storage: NatsKvStorage, storage_key: StorageKey):
    await asyncio.gather(*(storage.update_data(key=storage_key, data={f"k{i}": i}) for i in range(4)))
    assert await storage.get_data(key=storage_key) == {f"k{i}": i for i in range(4)}


async def test_state_and_data_of_other_chats_users_and_bots_are_separate(storage: NatsKvStorage):
    keys = [
        StorageKey(bot_id=BOT_ID, chat_id=CHAT_ID, user_id=USER_ID),
        StorageKey(bot_id=BOT_ID, chat_id=-CHAT_ID, user_id=USER_ID),
        StorageKey(bot_id=BOT_ID, chat_id=CHAT_ID, user_id=USER_ID + 1),
        StorageKey(bot_id=BOT_ID + 1, chat_id=CHAT_ID, user_id=USER_ID),
        StorageKey(bot_id=BOT_ID, chat_id=CHAT_ID, user_id=USER_ID, thread_id=5),
        StorageKey(bot_id=BOT_ID, chat_id=CHAT_ID, user_id=USER_ID, business_connection_id="biz:conn/1"),
        StorageKey(bot_id=BOT_ID, chat_id=CHAT_ID, user_id=USER_ID, destiny="other"),
    ]
    for index, key in enumerate(keys):
        await storage.set_state(key=key, state=f"s{index}")
        await storage.set_data(key=key, data={"i": index})
    for index, key in enumerate(keys):
        assert await storage.get_state(key=key) == f"s{index}"
        assert await storage.get_data(key=key) == {"i": index}


async def test_state_and_data_expire_after_their_ttl(make_storage: MakeStorage, storage_key: StorageKey):
    storage = await make_storage(ttl=1)
    await storage.set_state(key=storage_key, state="s")
    await storage.set_data(key=storage_key, data={"x": 1})
    assert await storage.get_state(key=storage_key) == "s"

    async def expired() -> bool:
        return await storage.get_state(key=storage_key) is None and await storage.get_data(key=storage_key) == {}

    await wait_until(expired, timeout=5, message="state and data to expire")


async def test_a_disconnected_nats_fails_fast_with_storage_unavailable(
    make_storage: MakeStorage, nc: Client, nats_server: NatsServer, storage_key: StorageKey
):
    storage = await make_storage(timeout=2.0)
    nats_server.stop()
    await wait_until(lambda: not nc.is_connected, timeout=5, message="client to notice the outage")

    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(FsmStorageUnavailable):
        await storage.get_state(key=storage_key)
    with pytest.raises(FsmStorageUnavailable):
        await storage.set_state(key=storage_key, state="s")
    assert loop.time() - started < 0.1
    nats_server.start()


async def test_writes_to_a_missing_bucket_raise_storage_unavailable(
    storage: NatsKvStorage, js: JetStreamContext, storage_key: StorageKey
):
    await js.delete_key_value(subjects.FSM_BUCKET)
    with pytest.raises(FsmStorageUnavailable):
        await storage.set_state(key=storage_key, state="s")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (StorageKey(bot_id=42, chat_id=-1, user_id=2), "fsm.42.-1.2.ds_default.state"),
        (StorageKey(bot_id=42, chat_id=-1, user_id=2, thread_id=3), "fsm.42.-1.th_3.2.ds_default.state"),
        (StorageKey(bot_id=42, chat_id=-1, user_id=2, business_connection_id="4"), "fsm.42.bc_4.-1.2.ds_default.state"),
        (StorageKey(bot_id=42, chat_id=-1, user_id=2, destiny="a.b"), f"fsm.42.-1.2.ds_{kv_token('a.b')}.state"),
    ],
)
def test_key_builder_makes_valid_unambiguous_kv_keys(key: StorageKey, expected: str):
    built = KvKeyBuilder().build(key, "state")
    assert built == expected
    assert kv_token("a.b").startswith("b64_") and "." not in kv_token("a.b")


def test_key_builder_without_destinies_refuses_a_custom_destiny():
    builder = KvKeyBuilder(with_destiny=False)
    assert (
        builder.build(StorageKey(bot_id=1, chat_id=2, user_id=3, destiny=DEFAULT_DESTINY), "data") == "fsm.1.2.3.data"
    )
    with pytest.raises(ValueError, match="destin"):
        builder.build(StorageKey(bot_id=1, chat_id=2, user_id=3, destiny="custom"), "data")


def sent_messages(nc: Client) -> int:
    return nc.stats["out_msgs"]


async def test_state_and_data_of_a_conversation_are_one_record(
    storage: NatsKvStorage, js: JetStreamContext, storage_key: StorageKey
):
    await storage.set_state(key=storage_key, state="s")
    await storage.set_data(key=storage_key, data={"x": 1})

    kv = await js.key_value(subjects.FSM_BUCKET)
    entry = await kv.get(KvKeyBuilder().build(storage_key))
    assert entry.value is not None
    assert json.loads(entry.value) == {"state": "s", "data": {"x": 1}}


async def test_within_one_update_clearing_a_conversation_with_nothing_stored_costs_one_read(
    storage: NatsKvStorage, nc: Client, storage_key: StorageKey
):
    before = sent_messages(nc)
    with storage.remembering_reads():
        assert await storage.get_state(key=storage_key) is None  # aiogram's FSM middleware, before the handler
        await storage.set_state(key=storage_key, state=None)  # state.clear() in /start
        await storage.set_data(key=storage_key, data={})
    assert sent_messages(nc) - before == 1


async def test_within_one_update_a_record_is_read_once_and_writes_are_seen_by_later_reads(
    storage: NatsKvStorage, nc: Client, storage_key: StorageKey
):
    before = sent_messages(nc)
    with storage.remembering_reads():
        await storage.set_state(key=storage_key, state=Flow.waiting)  # read + write
        await storage.update_data(key=storage_key, data={"prompt": "a cat"})  # write
        assert await storage.get_state(key=storage_key) == Flow.waiting.state
        assert await storage.get_data(key=storage_key) == {"prompt": "a cat"}
    assert sent_messages(nc) - before == 3
    assert await storage.get_data(key=storage_key) == {"prompt": "a cat"}  # outside: from the server


async def test_a_record_changed_elsewhere_during_an_update_is_read_again_and_no_field_is_lost(
    make_storage: MakeStorage, storage_key: StorageKey
):
    ours, other = await make_storage(), await make_storage()
    with ours.remembering_reads():
        assert await ours.get_data(key=storage_key) == {}
        # Another update's work, in a context of its own: our scope's memory does not see it.
        await asyncio.create_task(other.set_data(key=storage_key, data={"theirs": 1}), context=contextvars.Context())
        assert await ours.update_data(key=storage_key, data={"ours": 2}) == {"theirs": 1, "ours": 2}
    assert await other.get_data(key=storage_key) == {"theirs": 1, "ours": 2}


async def test_a_record_read_ahead_is_the_update_s_first_read_and_costs_no_round_trip_of_its_own(
    storage: NatsKvStorage, nc: Client, storage_key: StorageKey
):
    await storage.set_state(key=storage_key, state="s")
    ahead = await storage.read_ahead(storage_key)  # what the dispatcher does beside its handled-check

    before = sent_messages(nc)
    with storage.remembering_reads(ahead):
        assert await storage.get_state(key=storage_key) == "s"
        await storage.set_state(key=storage_key, state="s")  # unchanged: not written
    assert sent_messages(nc) == before


async def test_a_record_changed_after_its_read_ahead_is_read_again_before_a_write_and_no_field_is_lost(
    make_storage: MakeStorage, storage_key: StorageKey
):
    ours, other = await make_storage(), await make_storage()
    ahead = await ours.read_ahead(storage_key)
    await other.set_data(key=storage_key, data={"theirs": 1})

    with ours.remembering_reads(ahead):
        assert await ours.update_data(key=storage_key, data={"ours": 2}) == {"theirs": 1, "ours": 2}


async def test_a_failed_read_ahead_fails_the_first_read_without_a_second_wait_and_the_next_read_asks_again(
    make_storage: MakeStorage, nc: Client, storage_key: StorageKey
):
    hurried, storage = await make_storage(timeout=1e-6), await make_storage()
    ahead = await hurried.read_ahead(storage_key)  # timed out: kept, not raised

    before = sent_messages(nc)
    with storage.remembering_reads(ahead):
        with pytest.raises(FsmStorageUnavailable):
            await storage.get_state(key=storage_key)  # what /start's degraded answer relies on
        assert sent_messages(nc) == before
        assert await storage.get_state(key=storage_key) is None


async def test_a_task_started_during_an_update_reads_from_the_server_once_the_update_is_over(
    make_storage: MakeStorage, storage_key: StorageKey
):
    ours, other = await make_storage(), await make_storage()
    later = asyncio.Event()

    async def background_reader() -> str | None:  # e.g. a progress message the handler left running
        await later.wait()
        return await ours.get_state(key=storage_key)

    with ours.remembering_reads():
        assert await ours.get_state(key=storage_key) is None
        reader = asyncio.create_task(background_reader())  # carries the update's context along
    await asyncio.create_task(other.set_state(key=storage_key, state="s"), context=contextvars.Context())
    later.set()

    assert await reader == "s"


FSM_STREAM = f"KV_{subjects.FSM_BUCKET}"


async def test_reads_go_to_the_stream_leader_or_to_direct_gets_as_configured(
    make_storage: MakeStorage, direct_reads: bool, nc: Client, storage_key: StorageKey
):
    api = f"$JS.API.DIRECT.GET.{FSM_STREAM}.>" if direct_reads else f"$JS.API.STREAM.MSG.GET.{FSM_STREAM}"
    asked: list[str] = []

    async def note(msg: Msg) -> None:
        asked.append(msg.subject)

    storage = await make_storage()
    await nc.subscribe(api, cb=note)  # beside the server, which answers
    await storage.set_state(key=storage_key, state="s")
    assert await storage.get_state(key=storage_key) == "s"
    await nc.flush()

    assert len(asked) == 2, asked  # the write's compare-and-set read, then the read


async def test_direct_reads_fall_back_to_the_leader_where_the_bucket_serves_no_direct_gets(
    nc: Client, js: JetStreamContext, storage_key: StorageKey
):
    # What an older replica's provisioning leaves behind during a rolling upgrade: the bucket without direct gets.
    await topology.ensure_key_value(js, replace(topology.fsm_bucket(), direct=False))
    storage = NatsKvStorage(nc, bucket=subjects.FSM_BUCKET, direct_reads=True)

    await storage.set_state(key=storage_key, state="s")
    assert await storage.get_state(key=storage_key) == "s"
