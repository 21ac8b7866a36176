"""Services run their main coroutine on uvloop, with the start-up heap frozen out of garbage collection."""

from __future__ import annotations

import asyncio
import gc

import uvloop

from imagebot_common.event_loop import run_service


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
