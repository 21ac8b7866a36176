"""`python -m bench.loadgen`: the open-loop webhook load generator (one process, uvloop, keep-alive connections).

Open loop (`--rate R`): request i is due at t0 + i/R by the clock, whatever the responses do. A scheduler
tick (~1 ms, the timer resolution) hands every due request to a queue served by `--connections` keep-alive
connections (Telegram's default max_connections is 40). Latency runs from that hand-over to the response, so
time spent waiting for a free connection behind a slow server is counted (no coordinated omission); the
scheduler's own lag behind the clock is reported separately as the generator's accuracy.

Closed loop (`--rate 0`): every connection sends its next request as soon as the previous one is answered;
used to measure the generator's own ceiling against bench.servers.trivial.

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from array import array
from collections import Counter
from pathlib import Path

from bench import http_client, updates
from bench.stats import summarize
from imagebot_common.event_loop import run_service

clock = time.perf_counter  # uvloop's loop.time() is cached per iteration at millisecond resolution


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.latencies = array("d")
        self.lags = array("d")
        self.statuses: Counter[int] = Counter()
        self.errors = 0
        self.sent = 0
        self.t0 = self.last_answer = clock()
        self.send_log: list[tuple[int, float]] = []
        self.queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()

    def request(self, i: int) -> tuple[int, bytes]:
        a = self.args
        chat_id = a.first_chat + (i % a.chats)
        body = updates.message_update(a.first_update_id + i, chat_id, a.text)
        return chat_id, updates.http_request(a.path, a.port, body, a.secret)

    async def connection_worker(self) -> None:
        conn = await http_client.connect(self.args.port)
        epoch_offset = time.time() - clock()
        while True:
            item = await self.queue.get()
            if item is None:
                break
            i, handed_over = item
            chat_id, data = self.request(i)
            if self.args.send_log:
                self.send_log.append((chat_id, handed_over + epoch_offset))
            try:
                if conn.closed:
                    conn = await http_client.connect(self.args.port)
                status = await conn.request(data)  # a stuck request is cancelled at the deadline
            except (ConnectionError, OSError):
                self.errors += 1
                conn.close()
                conn.closed = True
                continue
            self.last_answer = clock()
            self.latencies.append(self.last_answer - handed_over)
            self.statuses[status] += 1
        conn.close()

    async def closed_loop_worker(self, first: int, step: int, end: float) -> None:
        conn = await http_client.connect(self.args.port)
        i = first
        while clock() < end:
            _, data = self.request(i)
            i += step
            started = clock()
            self.sent += 1
            try:
                status = await conn.request(data)
            except (ConnectionError, OSError):
                self.errors += 1
                conn = await http_client.connect(self.args.port)
                continue
            self.latencies.append(clock() - started)
            self.statuses[status] += 1
        conn.close()

    async def open_loop(self) -> float:
        a = self.args
        total = int(a.rate * a.duration)
        workers = [asyncio.create_task(self.connection_worker()) for _ in range(a.connections)]
        await asyncio.sleep(0.2)  # connections open before the clock starts
        t0 = self.t0 = clock()
        deadline = t0 + a.duration + a.drain
        i = 0
        while i < total:
            now = clock()
            while i < total and t0 + i / a.rate <= now:
                self.lags.append(now - (t0 + i / a.rate))
                self.queue.put_nowait((i, now))
                i += 1
            self.sent = i
            if i < total:
                # Never below 1 ms: uvloop turns shorter sleeps into a busy spin that would eat the generator's core.
                await asyncio.sleep(max(0.001, t0 + i / a.rate - clock()))
        for _ in workers:
            self.queue.put_nowait(None)
        _, pending = await asyncio.wait(workers, timeout=max(0.1, deadline - clock()))
        for task in pending:
            task.cancel()
        return clock() - t0

    async def closed_loop(self) -> float:
        a = self.args
        t0 = clock()
        n = a.connections
        await asyncio.gather(*(self.closed_loop_worker(k, n, t0 + a.duration) for k in range(n)))
        return clock() - t0

    def save_send_log(self, path: Path) -> None:
        path.write_text(json.dumps(self.send_log))  # after the run: the loop has nothing left to do

    def report(self, elapsed: float, cpu: float) -> dict[str, object]:
        ok = self.statuses.get(200, 0)
        answered = sum(self.statuses.values())
        return {
            "mode": "open" if self.args.rate else "closed",
            "offered_rate": self.args.rate,
            "duration": self.args.duration,
            "elapsed": elapsed,
            "sent": self.sent,
            "ok": ok,
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "errors": self.errors,
            "unanswered": max(0, self.sent - answered - self.errors),
            # Sustained: 200s over the time until the last answer (a server that falls behind answers late).
            "achieved_rate": ok / max(self.args.duration, self.last_answer - self.t0)
            if self.args.rate
            else ok / max(elapsed, 1e-9),
            "latency": summarize(self.latencies).as_dict(),
            "schedule_lag": summarize(self.lags).as_dict(),
            "cpu_share": cpu / max(elapsed, 1e-9),
        }


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    run = Run(args)
    cpu0 = time.process_time()
    elapsed = await (run.open_loop() if args.rate else run.closed_loop())
    if args.send_log:
        run.save_send_log(Path(args.send_log))
    return run.report(elapsed, time.process_time() - cpu0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench.loadgen")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default=updates.WEBHOOK_PATH)
    p.add_argument("--secret", default=updates.WEBHOOK_SECRET)
    p.add_argument("--rate", type=float, default=0.0, help="requests/s, open loop; 0 = closed loop")
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--connections", type=int, default=40)
    p.add_argument("--drain", type=float, default=10.0, help="seconds to wait for answers after the last send")
    p.add_argument("--first-update-id", type=int, default=1)
    p.add_argument("--first-chat", type=int, default=updates.FIRST_USER_ID)
    p.add_argument("--chats", type=int, default=10_000, help="distinct chats, used round-robin")
    p.add_argument("--text", default=updates.PROMPT)
    p.add_argument("--send-log", default="", help="write [[chat_id, epoch seconds handed over], ...] here")
    return p.parse_args(argv)


def main() -> None:
    print(json.dumps(run_service(main_async(parse_args()))))  # uvloop, start-up heap frozen: no long GC pause mid-run


if __name__ == "__main__":
    main()
