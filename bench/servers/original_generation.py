"""The original bot's generation design, for benchmark 3: the update queue (asyncio.Queue(100), dropped when
full) with 3 workers, each of which creates the Kie task and polls it to completion inside the handler.

As in ferixdi-png/5656 `app/kie/z_image_client.py`: a new httpx.AsyncClient per call, recordInfo polled every
2 s, growing x1.5 up to 10 s. The original then sent the result URL to Telegram; that step is left out.
Runs for `--window` seconds at most (the design needs ~N/3 x one job's time), then prints a JSON report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import httpx
import uvloop

QUEUE_SIZE, WORKERS = 100, 3
POLL_FIRST, POLL_GROWTH, POLL_CAP = 2.0, 1.5, 10.0


async def generate(api: str, key: str, prompt: str) -> bool:
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": "z-image", "input": {"prompt": prompt, "aspect_ratio": "1:1"}}
    async with httpx.AsyncClient(timeout=30) as client:
        created = (await client.post(f"{api}/api/v1/jobs/createTask", json=body, headers=headers)).json()
    task_id = created["data"]["taskId"]
    delay = POLL_FIRST
    while True:
        await asyncio.sleep(delay)
        delay = min(POLL_CAP, delay * POLL_GROWTH)
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.get(f"{api}/api/v1/jobs/recordInfo", params={"taskId": task_id}, headers=headers)
        state = response.json()["data"]["state"]
        if state in ("success", "fail"):
            return state == "success"


def peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


async def run(api: str, key: str, jobs: int, window: float) -> dict[str, object]:
    queue: asyncio.Queue[int] = asyncio.Queue(QUEUE_SIZE)
    durations: list[float] = []
    started = time.perf_counter()
    dropped = 0
    accepted = 0
    for job in range(jobs):  # all jobs arrive at once, as the updates would
        try:
            queue.put_nowait(job)
            accepted += 1
        except asyncio.QueueFull:
            dropped += 1

    async def worker() -> None:
        while True:
            job = await queue.get()
            t0 = time.perf_counter()
            await generate(api, key, f"original design job {job}")
            durations.append(time.perf_counter() - t0)

    workers = [asyncio.create_task(worker()) for _ in range(WORKERS)]
    await asyncio.sleep(window)
    for task in workers:
        task.cancel()
    return {
        "jobs": jobs,
        "accepted": accepted,
        "dropped": dropped,
        "completed": len(durations),
        "window": time.perf_counter() - started,
        "job_seconds": sorted(durations),
        "peak_rss_kib": peak_rss_kib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kie-api-url", required=True)
    parser.add_argument("--kie-api-key", required=True)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--window", type=float, required=True)
    args = parser.parse_args()
    print(json.dumps(uvloop.run(run(args.kie_api_url, args.kie_api_key, args.jobs, args.window))))


if __name__ == "__main__":
    main()
