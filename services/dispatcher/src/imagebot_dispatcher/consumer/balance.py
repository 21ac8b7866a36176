"""Which replica should own which partition: a deterministic, balanced assignment from the member list alone.

Every replica computes the same answer from the same members (no coordinator, no election): rendezvous hashing
ranks the members per partition, and each member takes at most its fair share, ceil(partitions / members)
(and only `partitions mod members` of them that many: 16 over 3 is 6/5/5, never 6/6/4).
Pairs are taken best score first over all partitions, so a partition goes to its favourite member unless that
member is already full; a change of membership therefore moves few partitions, and the same members always
give the same assignment (no flapping between replicas that agree on who is alive).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable


def fair_share(partitions: int, members: int) -> int:
    """The most partitions one member may get: ceil(partitions / members)."""
    return math.ceil(partitions / members) if members else partitions


def affinity(partition: int, member: str) -> int:
    """The rendezvous score; a stable hash (Python's hash() differs per process)."""
    digest = hashlib.blake2b(f"{partition}/{member}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def target_assignment(partitions: int, members: Iterable[str]) -> dict[int, str]:
    """partition -> member, as even as possible: every member gets floor(partitions / members) or one more (only
    `partitions mod members` of them get the extra one); empty when there are no members."""
    names = sorted(set(members))
    if not names:
        return {}
    base, extras = divmod(partitions, len(names))
    ranked = sorted(
        ((affinity(p, m), p, m) for p in range(partitions) for m in names), key=lambda t: (-t[0], t[1], t[2])
    )
    assignment: dict[int, str] = {}
    load: Counter[str] = Counter()
    for _, partition, member in ranked:
        if partition in assignment or load[member] > base or (load[member] == base and extras == 0):
            continue
        if load[member] == base:
            extras -= 1
        assignment[partition] = member
        load[member] += 1
    return assignment
