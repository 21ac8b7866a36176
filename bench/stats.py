"""Small, dependency-free statistics for the benchmark tables: percentiles, summaries and ratios."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values; NaN for no values.

    Nearest rank never interpolates, so p99 of 100 samples is the 99th value, a latency that was observed.
    """
    if not sorted_values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Summary:
    count: int
    p50: float
    p99: float
    max: float

    def as_dict(self) -> dict[str, float]:
        return {"count": self.count, "p50": self.p50, "p99": self.p99, "max": self.max}


def summarize(values: Iterable[float]) -> Summary:
    ordered = sorted(values)
    return Summary(
        count=len(ordered),
        p50=percentile(ordered, 50),
        p99=percentile(ordered, 99),
        max=ordered[-1] if ordered else math.nan,
    )


def ratio(value: float, baseline: float) -> float:
    """value / baseline; NaN when either is missing or the baseline is zero."""
    if baseline == 0 or math.isnan(baseline) or math.isnan(value):
        return math.nan
    return value / baseline


def fmt_ratio(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2f}×"


def fmt_ms(seconds: float) -> str:
    """Seconds as milliseconds with sensible precision ("—" when missing)."""
    if math.isnan(seconds):
        return "—"
    ms = seconds * 1000
    if ms < 10:
        return f"{ms:.2f}"
    if ms < 100:
        return f"{ms:.1f}"
    return f"{ms:,.0f}"


def fmt_count(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:,.0f}"


def median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The row of a load run in rounds on one design or receiver: the round with the median p99 (its p50, CPU
    and others all come from that one run), with every round's p99 and disturbance kept under `rounds`."""
    chosen = sorted(rounds, key=lambda r: r["p99"])[(len(rounds) - 1) // 2]
    kept = ("p50", "p99", "others_cpu", "steal_cpu", "hiccup_max_ms")
    return {**chosen, "rounds": [{k: r.get(k) for k in kept} for r in rounds]} if len(rounds) > 1 else chosen
