"""Services run their main coroutine on uvloop, with the start-up heap frozen out of garbage collection."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
import uvloop

from imagebot_common.event_loop import SERVING_GC_THRESHOLDS, run_service


@pytest.fixture(autouse=True)
def collector_thresholds_restored() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_the_main_coroutine_runs_on_uvloop_and_its_result_is_returned() -> None:
    async def main() -> str:
        return type(asyncio.get_running_loop()).__module__

    try:
        assert run_service(main()).startswith(uvloop.__name__)
    finally:
        gc.unfreeze()


def test_objects_alive_at_start_up_are_no_longer_scanned_by_the_collector() -> None:
    long_lived = [object() for _ in range(1000)]

    async def main() -> int:
        return gc.get_freeze_count()

    try:
        assert run_service(main()) >= len(long_lived)
    finally:
        gc.unfreeze()


def test_while_serving_the_young_generation_is_collected_far_less_often() -> None:
    async def main() -> tuple[int, ...]:
        return gc.get_threshold()

    try:
        assert run_service(main()) == SERVING_GC_THRESHOLDS
        assert SERVING_GC_THRESHOLDS[0] >= 10 * 700  # CPython's default
    finally:
        gc.unfreeze()
