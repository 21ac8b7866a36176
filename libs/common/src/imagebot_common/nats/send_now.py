"""Write what nats-py has queued to the socket now: the "soft flush" other NATS clients have (nats.c's
`natsOptions_SetSendAsap`, nats.net's `FlushBuffer`) and nats-py lacks.

nats-py appends every command to a buffer and wakes a flusher task to write it. That task runs when the event
loop comes round to it, after every callback that was ready before it: in a busy dispatcher, another update's
handler. A KV read the handler waits for went out up to a millisecond after it was made. Requests someone
waits on (RequestMux) are written at once; everything else keeps nats-py's batching.

It reaches into nats-py's buffer (`_pending`, `_pending_data_size`, `_transport`, as in nats-py 2.x's own
flusher). Where they are missing it does nothing and the flusher writes, as before: only the latency is lost,
and tests/integration/test_send_now.py fails so that an upgrade does not lose it silently.
"""

from __future__ import annotations

from nats.aio.client import Client


def send_now(nc: Client) -> None:
    """Hand the client's queued commands to the socket, in order, without waiting for the flusher task."""
    pending = getattr(nc, "_pending", None)
    transport = getattr(nc, "_transport", None)
    if not pending or transport is None or not nc.is_connected or nc.is_reconnecting:
        return  # nothing queued, or (re)connecting: the commands wait for the new connection, as in nats-py
    transport.writelines(pending[:])
    nc._pending = []
    nc._pending_data_size = 0
