"""KvLatestReader says what nats-py's kv.get says, against a real nats-server, for every state a key can be in."""

from __future__ import annotations

import pytest
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from imagebot_common.nats.kv_reads import KvLatest, KvLatestReader
from imagebot_common.nats.requests import RequestMux

pytestmark = pytest.mark.integration

BOTH_WAYS = pytest.mark.parametrize("direct", [True, False], ids=["direct", "leader"])


async def _bucket(js: JetStreamContext, direct: bool) -> KeyValue:
    return await js.create_key_value(KeyValueConfig(bucket="reads", history=1, direct=direct))


async def _what_nats_py_says(kv: KeyValue, key: str) -> KvLatest:
    try:
        entry = await kv.get(key)
    except KeyNotFoundError as gone:
        return KvLatest(None, gone.entry.revision if gone.entry is not None else 0)
    return KvLatest(entry.value, entry.revision or 0)


@BOTH_WAYS
async def test_a_written_key_reads_as_its_value_and_revision(nc: Client, js: JetStreamContext, direct: bool):
    kv = await _bucket(js, direct)
    await kv.put("chat.1", b"first")
    await kv.put("chat.1", b"second")
    reader = KvLatestReader(RequestMux(nc), "reads", direct=direct)

    latest = await reader.latest("chat.1")

    assert latest == KvLatest(b"second", 2) == await _what_nats_py_says(kv, "chat.1")


@BOTH_WAYS
async def test_a_key_never_written_reads_as_no_value(nc: Client, js: JetStreamContext, direct: bool):
    kv = await _bucket(js, direct)
    await kv.put("other", b"x")

    latest = await KvLatestReader(RequestMux(nc), "reads", direct=direct).latest("chat.1")

    assert latest == KvLatest(None, 0) == await _what_nats_py_says(kv, "chat.1")


@BOTH_WAYS
@pytest.mark.parametrize("removal", ["delete", "purge"])
async def test_a_deleted_or_purged_key_reads_as_no_value_with_its_markers_revision(
    nc: Client, js: JetStreamContext, direct: bool, removal: str
):
    kv = await _bucket(js, direct)
    await kv.put("chat.1", b"x")
    await getattr(kv, removal)("chat.1")

    latest = await KvLatestReader(RequestMux(nc), "reads", direct=direct).latest("chat.1")

    assert latest.value is None and latest.revision == 2
    assert latest == await _what_nats_py_says(kv, "chat.1")


async def test_a_missing_bucket_is_said_so_by_a_leader_read(nc: Client):
    latest = await KvLatestReader(RequestMux(nc), "no_such_bucket", direct=False).latest("chat.1")

    assert latest == KvLatest(None, 0, bucket_exists=False)


async def test_a_direct_read_of_a_missing_bucket_has_no_responders(nc: Client):
    with pytest.raises(NoRespondersError):
        await KvLatestReader(RequestMux(nc), "no_such_bucket", direct=True, timeout=2).latest("chat.1")
