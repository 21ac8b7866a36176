"""Benchmark 3: N picture jobs at once with a 10 s emulated generation — imagegen vs the original's 3 workers.

imagegen gets ImageJobV1 messages on `img.jobs` (as the dispatcher sends them) and answers each with an
ImageResultV1 on `tg.in.evt.<chat>`; the bench listens there. Kie's real limits (20 createTask / 10 s, 10
recordInfo / s per key) would hold either design to >= 500 s for 1,000 jobs, so both the emulator's and
imagegen's are lifted: what is measured is the services' own concurrency. Callbacks are off (polling only).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from typing import Any

import nats

from bench import meters, natsd, procs, updates
from bench.servers.original_generation import WORKERS
from bench.stats import summarize
from imagebot_common.messages.v1 import ImageJobV1
from imagebot_common.nats import subjects, topology

JOB_COUNTS = (200, 1000)
GENERATION_SECONDS = 10.0
KIE_KEY = "bench-kie-key"
RESULT_TIMEOUT = 90.0
ORIGINAL_WINDOW = 20.0  # one round of 3 jobs (11-16 s each with the original's 2, 3, 4.5, 6.75 s polls)


def start_kie(name: str) -> tuple[procs.Proc, str]:
    port = procs.free_port()
    args = ["--port", str(port), "--generation-seconds", str(GENERATION_SECONDS), "--create-limit", "0",
            "--record-rate", "0", "--credits", "100000000", "--callbacks-enabled", "false"]  # fmt: skip
    proc = procs.python_module(name, "imagebot_emulators.kie", args, procs.clean_env(), cores=procs.LOAD_CORE)
    procs.wait_http_ok(proc, f"http://127.0.0.1:{port}/control/health")
    return proc, f"http://127.0.0.1:{port}"


async def _provision_gateway_streams(nats_url: str) -> None:
    """What the gateway would own: UPDATES (where results go) and KIE_CALLBACKS (imagegen's readiness needs it)."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await topology.ensure_stream(js, topology.updates_stream(topology.UpdatesStreamLimits()))
    await topology.ensure_stream(js, topology.kie_callbacks_stream())
    await nc.drain()


async def _submit_and_collect(nats_url: str, jobs: int) -> dict[str, Any]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    finished: dict[str, float] = {}
    outcomes: dict[str, int] = {}
    done = asyncio.Event()

    async def on_result(msg: nats.aio.msg.Msg) -> None:
        result = json.loads(msg.data)
        if result["job_id"] not in finished:
            finished[result["job_id"]] = time.perf_counter()
            outcomes[result["outcome"]] = outcomes.get(result["outcome"], 0) + 1
            if len(finished) >= jobs:
                done.set()

    await nc.subscribe(f"{subjects.EVENT_SUBJECT_PREFIX}.>", cb=on_result)
    started = time.perf_counter()
    for i in range(jobs):
        job = ImageJobV1(
            job_id=f"bench-{jobs}-{i}", bot_id=updates.BOT_ID, chat_id=updates.FIRST_USER_ID + i,
            user_id=updates.FIRST_USER_ID + i, prompt=f"{updates.PROMPT} #{i}",
        )  # fmt: skip
        await js.publish(subjects.IMAGE_JOBS_SUBJECT, job.to_bytes(), headers={subjects.MSG_ID_HEADER: job.job_id})
    submitted = time.perf_counter() - started
    with contextlib.suppress(TimeoutError):  # the figures say how many finished in time
        await asyncio.wait_for(done.wait(), RESULT_TIMEOUT)
    await nc.drain()
    times = [t - started for t in finished.values()]
    return {
        "submitted_in": submitted,
        "completed": len(finished),
        "outcomes": outcomes,
        "completion_time": max(times) if times else float("nan"),
        "job_latency": summarize(times).as_dict(),
    }


def measure_imagegen(jobs: int) -> dict[str, Any]:
    print(f"bench: [generation] imagegen, {jobs} jobs", flush=True)
    nats_server = natsd.start_nats(f"gen-{jobs}-nats-server")
    kie, kie_url = start_kie(f"gen-{jobs}-kie")
    health = procs.free_port()
    env = procs.clean_env(
        KIE_API_KEY=KIE_KEY, KIE_API_URL=kie_url, NATS_URL=nats_server.url, HEALTH_HOST="127.0.0.1",
        HEALTH_PORT=str(health), LOG_LEVEL="WARNING", KIE_CREATE_RATE_LIMIT="1000000",
        KIE_STATUS_RATE_PER_SECOND="1000000", IMAGE_JOBS_MAX_IN_FLIGHT=str(max(2000, jobs)),
    )  # fmt: skip
    imagegen = None
    try:
        asyncio.run(_provision_gateway_streams(nats_server.url))
        imagegen = procs.python_module(f"gen-{jobs}-imagegen", "imagebot_imagegen", [], env, cores=procs.SERVER_CORE)
        procs.wait_http_ok(imagegen, f"http://127.0.0.1:{health}/readyz", timeout=60)
        meters.wait_for_quiet()
        meter = meters.CpuMeter({"imagegen": imagegen, "kie": kie, "nats-server": nats_server.proc})
        result = asyncio.run(_submit_and_collect(nats_server.url, jobs))
        result["cpu_seconds"] = {k: v * result["completion_time"] for k, v in meter.shares().items()}
        result["peak_rss_kib"] = {"imagegen": imagegen.peak_rss_kib(), "kie-emulator": kie.peak_rss_kib()}
    finally:
        if imagegen is not None:
            imagegen.stop()
        kie.stop()
        nats_server.stop()
    print(f"bench:   completed {result['completed']}/{jobs} in {result['completion_time']:.1f}s", flush=True)
    return {"design": "imagegen", "jobs": jobs, **result}


def _start_original(kie_url: str, jobs: int) -> subprocess.Popen[bytes]:
    argv = [*procs.pinned(procs.SERVER_CORE), procs.PYTHON, "-m", "bench.servers.original_generation",
            "--kie-api-url", kie_url, "--kie-api-key", KIE_KEY,
            "--jobs", str(jobs), "--window", str(ORIGINAL_WINDOW)]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.PIPE, env=procs.clean_env())


def measure_original() -> list[dict[str, Any]]:
    """Both job counts at once (two processes, mostly asleep), each for ORIGINAL_WINDOW seconds; the time for
    all jobs is extrapolated from the measured time of one job (3 at a time, one after another)."""
    print(f"bench: [generation] original 3-worker design, {ORIGINAL_WINDOW:.0f}s window", flush=True)
    kie, kie_url = start_kie("gen-original-kie")
    try:
        running = {jobs: _start_original(kie_url, jobs) for jobs in JOB_COUNTS}
        results = []
        for jobs, popen in running.items():
            out, _ = popen.communicate(timeout=ORIGINAL_WINDOW + 60)
            report = json.loads(out.decode().strip().splitlines()[-1])
            per_job = summarize(report["job_seconds"])
            rate = WORKERS / per_job.p50  # jobs/s in steady state: 3 workers, one job each at a time
            results.append(
                {
                    "design": "original",
                    "jobs": jobs,
                    "accepted": report["accepted"],
                    "dropped": report["dropped"],
                    "completed": report["completed"],
                    "window": report["window"],
                    "job_seconds_p50": per_job.p50,
                    "rate": rate,
                    "accepted_done_after": report["accepted"] / rate,
                    "all_done_after": jobs / rate,
                    "peak_rss_kib": {"original": report["peak_rss_kib"]},
                }
            )
    finally:
        kie.stop()
    return results


def run_all() -> dict[str, Any]:
    return {"imagegen": [measure_imagegen(n) for n in JOB_COUNTS], "original": measure_original()}
