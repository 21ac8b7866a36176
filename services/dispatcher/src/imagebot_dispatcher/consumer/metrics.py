"""Prometheus metrics of the consumption engine (default registry, served on /metrics by HealthServer).

Module-level because the default registry refuses a second registration; several engines in one process (tests)
add to the same series, while each engine keeps its own counts for /health in `EngineStats`.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HANDLER_DURATION = Histogram(
    "imagebot_dispatcher_handler_duration_seconds",
    "Time one message spent in the conversation's handler (all attempts)",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
HANDLED = Counter("imagebot_dispatcher_updates_handled_total", "Messages handled successfully", ["kind"])
DUPLICATES = Counter("imagebot_dispatcher_duplicates_total", "Messages skipped as already handled", ["kind"])
DEAD_LETTERED = Counter(
    "imagebot_dispatcher_dead_lettered_total", "Messages copied to DEAD_LETTERS and terminated", ["kind", "reason"]
)
HANDLER_FAILURES = Counter("imagebot_dispatcher_handler_failures_total", "Failed handler attempts", ["kind"])
REDELIVERIES = Counter("imagebot_dispatcher_redeliveries_total", "Deliveries with num_delivered > 1")
HEAD_WAITS = Counter(
    "imagebot_dispatcher_head_waits_total", "Times a chat waited for an older message held by another replica"
)
ORDER_OVERRIDES = Counter(
    "imagebot_dispatcher_order_overrides_total", "Chats that gave up waiting for a stuck older message"
)
IN_FLIGHT = Gauge("imagebot_dispatcher_in_flight", "Handlers running now")
HELD = Gauge("imagebot_dispatcher_held_messages", "Messages delivered to this replica and not yet settled")
MEMBERS = Gauge("imagebot_dispatcher_members", "Live dispatcher replicas in the dispatcher_members registry")
HANDOVERS = Counter(
    "imagebot_dispatcher_partition_handovers_total", "Partitions this replica gave to another one to balance the load"
)
PARTITIONS_OWNED = Gauge("imagebot_dispatcher_partitions_owned", "Partitions this replica is pinned on")
CONSUMER_PENDING = Gauge(
    "imagebot_dispatcher_consumer_pending", "Messages of an owned partition not yet delivered (lag)", ["partition"]
)
