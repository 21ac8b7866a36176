"""Inbox reads its messages like nats-py's next_msg, against a real nats-server: in order, with a deadline."""

from __future__ import annotations

import nats
import pytest
from nats.aio.client import Client
from nats.errors import ConnectionClosedError

from imagebot_common.nats.inbox import Inbox

pytestmark = pytest.mark.integration


async def test_messages_to_any_reply_subject_of_the_inbox_come_out_in_arrival_order(nc: Client):
    inbox = Inbox(nc)
    await inbox.open()
    for token in (1, 2, 3):
        await nc.publish(inbox.reply_subject(token), str(token).encode())

    received = [await inbox.next_message(timeout=2) for _ in range(3)]

    assert [m.data for m in received] == [b"1", b"2", b"3"]
    assert [m.subject for m in received] == [inbox.reply_subject(t) for t in (1, 2, 3)]
    await inbox.close()


async def test_nothing_arriving_in_time_raises_the_builtin_timeout_error(nc: Client):
    inbox = Inbox(nc)
    await inbox.open()

    with pytest.raises(TimeoutError):
        await inbox.next_message(timeout=0.05)
    await inbox.close()


async def test_a_closed_client_is_said_so_rather_than_timing_out(nats_url: str):
    client = await nats.connect(nats_url)
    inbox = Inbox(client)
    await inbox.open()
    await client.close()

    with pytest.raises(ConnectionClosedError):
        await inbox.next_message(timeout=0.05)
