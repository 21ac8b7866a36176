"""Consuming the UPDATES stream: partition ownership, per-chat order, idempotency, dead letters.

Design (docs/architecture.md, "Per-chat order"):

- The gateway publishes a chat's updates in Telegram's order to `tg.in.upd.<chat>`, imagegen its events to
  `tg.in.evt.<chat>`; the stream's transform stores both as `tg.p.<P>.<upd|evt>.<chat>`, P = FNV-1a(chat) mod N.
- One durable pull consumer per partition (`dispatcher-pNN`, filter `tg.p.<P>.>`, explicit ack,
  `max_ack_pending` a few hundred, ack_wait 30 s renewed by `+WPI` heartbeats, no backoff, unlimited deliveries)
  in an ADR-42 `pinned_client` priority group: every replica pulls every partition, the server delivers each
  partition to one pinned replica and moves the pin to a standby when the owner dies (pull.py, provisioning.py).
- Load spreading (balancer.py, membership.py, balance.py): replicas heartbeat into the `dispatcher_members` KV
  bucket (TTL = CONSUMER_MEMBER_TTL) and all compute one rendezvous-hash target, at most ceil(N / members) each;
  a busy partition owned by a non-target is handed over (stop pulling it, UNPIN) and the giver stays off it
  until the target owns it. Everyone else keeps standby pulls, so failover still takes only the pin timeout.
- Inside a replica, a lane per chat (sequencer.py) runs that chat's messages one at a time in stream-sequence
  order; different chats run concurrently up to UPDATE_QUEUE_WORKERS handlers (processing.py), so concurrency
  follows the number of active chats, not the number of partitions.
- Takeover safety (ordering.py): work-queue retention deletes acked messages, so the oldest stored message on
  `tg.p.<P>.*.<chat>` is the chat's head. After a pin is (re)acquired and for every redelivery, a message runs
  only when it is its chat's head; a previous owner's unacked messages are thus handled before newer ones.
- At-least-once with idempotency (idempotency.py): ack only after the handler finished; handled update ids
  (`<bot_id>.<update_id>`) and event ids are recorded in `handled_updates` (25 h) and checked first.
- Poison (processing.py, dead_letters.py): bounded in-process retries, then a copy on `dlq.dispatcher.poison`
  with the error, origin and trace, then term(); only the poison's own chat waits meanwhile.
- Shutdown (engine.py): stop pulling, unpin, leave the registry, release queued messages (nak), drain running
  handlers, release the rest.
"""
