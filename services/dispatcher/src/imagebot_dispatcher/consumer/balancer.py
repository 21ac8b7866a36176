"""Load spreading over the replicas: heartbeat, read the members, hand over what belongs to someone else.

Every `balance_interval` (a quarter of CONSUMER_MEMBER_TTL) a replica writes its heartbeat with the partitions it
owns, reads the live members, and computes the shared target assignment (balance.py) over the members up for at
least CONSUMER_REBALANCE_DELAY. A partition owned here whose target is another member is handed over (pull.py:
stop pulling, UNPIN) when that target was the same on two consecutive rounds (replicas read the registry at
slightly different moments) and the partition is busy: an idle partition given away would stay unpinned until its
next message, so it is left where it is until traffic shows up. Every replica keeps standby pulls on every other
partition, so a dead owner's partitions move within the pin timeout; only the giver stays off a partition it
handed over, until the target owns it (or stops being the target), so its own pull cannot win the pin back.
If the registry cannot be read, nothing is handed over and every pause ends: the replicas behave as before
balancing existed (first come, first pinned), which is never wrong, only unbalanced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from imagebot_dispatcher.consumer import metrics
from imagebot_dispatcher.consumer.balance import target_assignment
from imagebot_dispatcher.consumer.membership import Member, MemberRegistry
from imagebot_dispatcher.consumer.options import EngineOptions
from imagebot_dispatcher.consumer.pull import PartitionPuller

log = logging.getLogger("imagebot.dispatcher.consumer")

Unpin = Callable[[PartitionPuller], Awaitable[None]]


class PartitionBalancer:
    def __init__(
        self, registry: MemberRegistry, pullers: Sequence[PartitionPuller], unpin: Unpin, options: EngineOptions
    ) -> None:
        self._registry, self._unpin, self._options = registry, unpin, options
        self._pullers = {puller.partition: puller for puller in pullers}
        self._members: dict[str, Member] = {}
        self._target: dict[int, str] = {}
        self._candidates: dict[int, str] = {}  # partition -> the other member it should go to (seen last round)
        self._given: dict[int, str] = {}  # partition handed over here -> the member it was meant for
        self._handovers: set[asyncio.Task[None]] = set()
        self._failing = False
        self.handed_over = 0

    @property
    def member(self) -> str:
        return self._registry.member

    async def run(self) -> None:
        while True:
            try:
                await self.balance_once()
                if self._failing:
                    log.info("member registry readable again; balancing resumed")
                self._failing = False
            except Exception as exc:  # NATS down, bucket gone: never die, never hand over blind
                if not self._failing:
                    log.warning("member registry unavailable (%s); balancing paused", exc)
                self._failing = True
                self._forget_view()
            await asyncio.sleep(self._options.balance_interval)

    async def balance_once(self) -> None:
        await self._registry.heartbeat([p.partition for p in self._pullers.values() if p.owned])
        self._members = await self._registry.members()
        now = time.time()
        settled = [m.member for m in self._members.values() if now - m.since >= self._options.rebalance_delay]
        self._target = target_assignment(len(self._pullers), settled)
        metrics.MEMBERS.set(len(self._members))
        self._end_pauses()
        self._hand_over_misplaced()

    def _end_pauses(self) -> None:
        for partition, meant_for in list(self._given.items()):
            member = self._members.get(meant_for)
            taken = member is not None and partition in member.owned
            if taken or member is None or self._target.get(partition) != meant_for:
                del self._given[partition]
                self._pullers[partition].resume()  # a standby again (for a failover), or a contender once more

    def _hand_over_misplaced(self) -> None:
        busy_window = 2 * self._options.pull_expires + self._options.balance_interval
        now = time.monotonic()
        for puller in self._pullers.values():
            target = self._target.get(puller.partition, self.member)
            movable = puller.owned and puller.partition not in self._given and now - puller.last_delivery <= busy_window
            if target == self.member or not movable:
                self._candidates.pop(puller.partition, None)
                continue
            if self._candidates.get(puller.partition) != target:
                self._candidates[puller.partition] = target  # confirm on the next round before moving anything
                continue
            del self._candidates[puller.partition]
            self._given[puller.partition] = target
            task = asyncio.create_task(self._hand_over(puller, target), name=f"hand-over-{puller.consumer}")
            self._handovers.add(task)
            task.add_done_callback(self._handovers.discard)

    async def _hand_over(self, puller: PartitionPuller, target: str) -> None:
        log.info("partition %d goes to %s (%d live members)", puller.partition, target, len(self._members))
        if await puller.hand_over(lambda: self._unpin(puller)):
            self.handed_over += 1
            metrics.HANDOVERS.inc()

    def _forget_view(self) -> None:
        self._candidates.clear()
        self._members, self._target = {}, {}
        for partition in list(self._given):
            del self._given[partition]
            self._pullers[partition].resume()

    async def leave(self) -> None:
        """Shutdown: let the others rebalance over the remaining members at once."""
        for task in list(self._handovers):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._registry.leave(), 2.0)

    def details(self) -> dict[str, Any]:
        assigned = sorted(p for p, m in self._target.items() if m == self.member)
        return {
            "member": self.member,
            "members": {m.member: sorted(m.owned) for m in sorted(self._members.values(), key=lambda m: m.member)},
            "partitions_assigned": assigned,
            "partitions_handed_over": sorted(self._given),
            "handovers": self.handed_over,
        }
