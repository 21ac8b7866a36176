"""Where the gateway (at saturation, driven by wrk) and the dispatcher (under /start load) spend their CPU: py-spy
samples each while the load runs.

The collapsed stacks are summarised as the share of samples in which a frame appears (inclusive) and in which
it is the innermost frame (self), which is what the lead needs to decide what to change.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import e2e, procs, wrk
from bench.ack import run_loadgen
from bench.targets import start_gateway

PY_SPY = Path(procs.PYTHON).parent / "py-spy"
SECONDS = 8
RATE = 250  # samples/s


@dataclass(frozen=True)
class FrameShare:
    frame: str
    inclusive: float
    self_share: float


def _short(frame: str) -> str:
    """`function (path/to/module.py:123)` -> `function (module.py)`: lines differ per sample, modules do not."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    if "site-packages" in parts:
        path = "/".join(parts[parts.index("site-packages") + 1 :])
    elif "src" in parts:
        path = "/".join(parts[parts.index("src") + 1 :])
    else:
        path = Path(path).name
    return f"{name} ({path})"


def _samples(collapsed: str) -> Iterator[tuple[str, int]]:
    """(stack, sample count) for each well-formed line of py-spy's raw (collapsed) output."""
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if stack and count_text.isdigit():
            yield stack, int(count_text)


def _frames(stack: str) -> list[str]:
    return [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]


def _shares(counts: Counter[str], total: int, top: int | None = None) -> list[tuple[str, float]]:
    return [(name, n / total) for name, n in counts.most_common(top)] if total else []


def summarise(collapsed: str, top: int = 25) -> tuple[int, list[FrameShare]]:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for stack, count in _samples(collapsed):
        frames = [_short(f) for f in _frames(stack)]
        if not frames:
            continue
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    shares = [FrameShare(f, n / total, own[f] / total) for f, n in inclusive.most_common(top)] if total else []
    return total, shares


_OTEL_FILES = (
    "trace/__init__.py", "_decorator.py", "attributes/__init__.py", "trace/sampling.py", "propagate/__init__.py",
    "composite.py", "util/__init__.py", "context/__init__.py", "trace/propagation", "trace/span.py", "baggage",
    "textmap.py", "id_generator.py", "context/contextvars_context.py", "imagebot_gateway/routes/tracing.py",
)  # fmt: skip
_CATEGORIES = (
    ("OpenTelemetry: the SERVER span (a PRODUCER span too when traces are recorded), injecting traceparent",
     lambda files: any(f.startswith(_OTEL_FILES) for f in files)),
    ("NATS publish: AckedPublisher and nats-py (the publish, the ack, the socket)",
     lambda files: any(f.startswith(("nats/", "imagebot_common/nats/")) for f in files)),
    ("prometheus_client counters/histogram", lambda files: any("prometheus_client" in f for f in files)),
    ("gateway handler, other (secret check, msgspec parse, stats, Response objects)",
     lambda files: "imagebot_gateway/routes/webhook.py" in files),
    ("Litestar outside the handler (ASGI router, middleware, response serialisation)",
     lambda files: any(f.startswith("litestar") for f in files)),
    ("uvicorn + httptools protocol (parse, send)", lambda files: any(f.startswith("uvicorn") for f in files)),
)  # fmt: skip
_FILE = re.compile(r"\(([^()]*?):\d+\)")
_REST = "event loop (uvloop) and the rest"


def categorise(collapsed: str) -> list[tuple[str, float]]:
    """Each sample in the first category that matches it (in that order): where the CPU went, summing to 1."""
    counts: Counter[str] = Counter()
    total = 0
    for stack, count in _samples(collapsed):
        files = _FILE.findall(stack)
        counts[next((label for label, test in _CATEGORIES if test(files)), _REST)] += count
        total += count
    return _shares(counts, total)


def top_self(collapsed: str, top: int = 15) -> list[tuple[str, float]]:
    own: Counter[str] = Counter()
    total = 0
    for stack, count in _samples(collapsed):
        frames = _frames(stack)
        if frames:
            own[_short(frames[-1])] += count
            total += count
    return _shares(own, total, top)


def _record(pid: int, output: Path, *flags: str) -> str | None:
    """py-spy records `pid` for SECONDS into `output` (from the load core); why it failed, or None."""
    argv = [str(PY_SPY), "record", "--pid", str(pid), "--duration", str(SECONDS), "--rate", str(RATE),
            "--format", "raw", *flags, "--output", str(output)]  # fmt: skip
    spy = subprocess.run([*procs.pinned(procs.LOAD_CORE), *argv], capture_output=True, text=True, check=False)
    if spy.returncode != 0 or not output.exists():
        return f"py-spy failed ({spy.returncode}): {spy.stderr[-500:]}"
    return None


def profile_gateway(**extra_env: str) -> dict[str, Any]:
    """Saturate a fresh gateway with wrk while py-spy records it; the summary (or why there is none)."""
    if not PY_SPY.exists():
        return {"error": "py-spy is not installed (root pyproject dev group)"}
    print("bench: [profile] py-spy on the gateway at saturation", flush=True)
    running = start_gateway("profile-gateway", **extra_env)
    output = procs.RESULTS / "gateway-profile.txt"
    result: dict[str, Any] = {}
    try:
        load = threading.Thread(
            target=lambda: result.update(
                wrk=wrk.run_wrk(running.port, duration=SECONDS + 2, connections=100, first_update_id=1).as_dict()
            )
        )
        load.start()
        failure = _record(running.server.pid, output)
        load.join()
        if failure:
            return {"error": failure}
        collapsed = output.read_text()
        samples, shares = summarise(collapsed)
        result.update(
            samples=samples,
            inclusive=[(s.frame, s.inclusive) for s in shares],
            self=top_self(collapsed),
            categories=categorise(collapsed),
            collapsed_path=str(output.relative_to(procs.ROOT)),
        )
    finally:
        running.stop()
    return result


_DISPATCHER_CATEGORIES = (
    ("nats-py: KV reads, publishes, acks and pulls (the socket writes included)", ("nats/",)),
    ("aiogram + pydantic: the update's model, routing, middlewares, the Bot API method and answer models",
     ("aiogram/", "pydantic/", "pydantic_core/")),
    ("aiohttp client: the sendMessage request", ("aiohttp/", "multidict/", "yarl/")),
    ("OpenTelemetry: the consumer, update, handler and Bot API spans",
     ("opentelemetry/", "imagebot_dispatcher/conversation/tracing.py", "imagebot_common/telemetry/")),
    ("FSM storage (one KV record per conversation, read once per update)",
     ("imagebot_dispatcher/conversation/fsm_storage.py",)),
    ("consumer engine: lanes, processing, held messages, pulls", ("imagebot_dispatcher/consumer/",)),
    ("conversation: handlers, keyboards, texts, rate limits", ("imagebot_dispatcher/conversation/",)),
    ("prometheus_client counters/histograms", ("prometheus_client/",)),
)  # fmt: skip


def attribute_innermost(collapsed: str, categories: tuple[tuple[str, tuple[str, ...]], ...]) -> list[tuple[str, float]]:
    """Each sample to the category of its innermost frame that has one: who owns the CPU, summing to 1."""
    counts: Counter[str] = Counter()
    total = 0
    for stack, count in _samples(collapsed):
        owners = (label for file in reversed(_FILE.findall(stack)) for label, prefixes in categories
                  if file.startswith(prefixes))  # fmt: skip
        counts[next(owners, _REST)] += count
        total += count
    return _shares(counts, total)


_IDLE_THREAD_FRAMES = ("_worker (concurrent/futures/thread.py",)  # an executor thread waiting for work


def without_idle_threads(collapsed: str) -> str:
    """Drops the stacks of threads that only wait (py-spy counts a thread-pool worker blocked on its queue)."""
    lines = collapsed.splitlines()
    return "\n".join(
        line for line in lines if not line.rpartition(" ")[0].rsplit(";", 1)[-1].startswith(_IDLE_THREAD_FRAMES)
    )


def profile_dispatcher(rate: int = 300) -> dict[str, Any]:
    """py-spy on the dispatcher (own core) while the bench sends /start at `rate` per second through the gateway."""
    if not PY_SPY.exists():
        return {"error": "py-spy is not installed (root pyproject dev group)"}
    print(f"bench: [profile] py-spy on the dispatcher at {rate} /start per s", flush=True)
    design = e2e.start_stack_own_cores()
    output = procs.RESULTS / "dispatcher-profile.txt"
    try:
        first, total = 9_000_000, int(rate * (SECONDS + 2))
        design.emulator.register_chats(range(first, first + total))
        load = threading.Thread(
            target=run_loadgen,
            args=(design.webhook_port, rate, SECONDS + 2, first),
            kwargs={"first_chat": first, "chats": total, "text": "/start"},
        )
        load.start()
        failure = _record(design.processes["dispatcher"].pid, output, "--nonblocking")
        load.join()
        if failure:
            return {"error": failure}
        collapsed = without_idle_threads(output.read_text())
        samples, _ = summarise(collapsed)
        return {
            "rate": rate,
            "samples": samples,
            "categories": attribute_innermost(collapsed, _DISPATCHER_CATEGORIES),
            "self": top_self(collapsed),
            "collapsed_path": str(output.relative_to(procs.ROOT)),
        }
    finally:
        design.stop()
