"""Benchmark 2b: /start with every trace exported — what tracing costs, and where a request's time goes.

The own-cores stack of benchmark 2 runs three times side by side: as there (no exporter configured: spans are
not recorded, trace ids still propagated); exporting every trace over OTLP/HTTP to a receiver standing in for
Jaeger's (`imagebot_emulators.otlp`, a thread of the bench process), with the SDK's defaults as a deployment
has them (parent-based always-on sampling, a batch every 5 s or per 512 spans); and exporting one trace in ten
(`OTEL_TRACES_SAMPLER=parentbased_traceidratio`, `OTEL_TRACES_SAMPLER_ARG=0.1`: the gateway decides, the
dispatcher follows). Each load runs on all three in interleaved rounds, and each row is that stack's median
round, as in benchmark 2.

The spans exported during the 300/s rounds are then cut into the stages an SRE sees in Jaeger. Every process
runs on the same host, so the spans' start and end times share one clock.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from bench import e2e
from bench.stats import percentile
from imagebot_emulators.otlp import OtlpReceiver, ReceivedSpan

RATES: tuple[tuple[int, float, int], ...] = ((100, 5.0, 3), (300, 6.0, 3))
STAGED_RATE = 300
UNTRACED, TRACED, SAMPLED = "stack-own-cores-untraced", "stack-own-cores-traced", "stack-own-cores-sampled"
CHAT_BASES = {UNTRACED: 9_000_000, TRACED: 10_000_000, SAMPLED: 11_000_000}
ONE_IN_TEN = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
SPANS_SETTLE = 8.0  # seconds without a new span before the spans are read (the batch delay is 5 s)

# OTLP span kinds (opentelemetry.proto.trace.v1.Span.SpanKind)
_SERVER, _CLIENT, _PRODUCER, _CONSUMER = 2, 3, 4, 5
# The spans of one /start, from the webhook to the reply (their names are the services' own).
_PARTS: dict[str, Callable[[ReceivedSpan], bool]] = {
    "webhook": lambda s: s.kind == _SERVER and s.name.startswith("POST /webhook"),
    "publish": lambda s: s.kind == _PRODUCER and s.name.startswith("send tg.in."),
    "process": lambda s: s.kind == _CONSUMER and s.name.startswith("process tg.p."),
    "update": lambda s: s.name == "handle message",
    "reply": lambda s: s.kind == _CLIENT and s.name == "POST sendMessage",
}
# (stage, from (part, "start"|"end"), to (part, "start"|"end"))
STAGES: tuple[tuple[str, tuple[str, str], tuple[str, str]], ...] = (
    ("gateway: webhook request received → publish to JetStream", ("webhook", "start"), ("publish", "start")),
    ("gateway: publish → JetStream's PubAck (the webhook is answered after it)", ("publish", "start"),
     ("publish", "end")),
    ("JetStream → dispatcher: publish → the dispatcher starts processing", ("publish", "start"),
     ("process", "start")),
    ("dispatcher: FSM read, and the handled check beside it when one is needed (NATS KV)", ("process", "start"),
     ("update", "start")),
    ("dispatcher: aiogram routing and the /start handler → sendMessage", ("update", "start"), ("reply", "start")),
    ("dispatcher: the sendMessage call (request, emulator, answer parsed)", ("reply", "start"), ("reply", "end")),
    ("**webhook request received → sendMessage starts**", ("webhook", "start"), ("reply", "start")),
)  # fmt: skip


def start_untraced() -> e2e.Design:
    return e2e.start_stack(UNTRACED, "1", "own-cores stack, no trace exported (as in benchmark 2)")


def _export_to(otlp: OtlpReceiver) -> dict[str, str]:
    """Not `otlp.env()`: that shortens the batch delay for tests, and the bench keeps the SDK's defaults."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}


def _traced_starter(otlp: OtlpReceiver) -> Callable[[], e2e.Design]:
    def start_traced() -> e2e.Design:
        return e2e.start_stack(TRACED, "1", "own-cores stack, every trace exported over OTLP", _export_to(otlp))

    return start_traced


def _sampled_starter(otlp: OtlpReceiver) -> Callable[[], e2e.Design]:
    def start_sampled() -> e2e.Design:
        label = "own-cores stack, one trace in ten exported over OTLP"
        return e2e.start_stack(SAMPLED, "1", label, {**_export_to(otlp), **ONE_IN_TEN})

    return start_sampled


def _staged_chats() -> range:
    """The chats of the STAGED_RATE rounds on the traced stack."""
    step = next(i for i, (rate, _, _) in enumerate(RATES, start=1) if rate == STAGED_RATE)
    return e2e.load_chats(CHAT_BASES[TRACED], step)


def _wait_for_spans(otlp: OtlpReceiver) -> None:
    count, quiet_since = -1, time.monotonic()
    while time.monotonic() - quiet_since < SPANS_SETTLE:
        if len(otlp.spans) != count:
            count, quiet_since = len(otlp.spans), time.monotonic()
        time.sleep(0.5)


def _chat_of(span: ReceivedSpan) -> int | None:
    try:
        return int(str(span.attributes.get("imagebot.chat_key")))
    except ValueError:
        return None


def stages(spans: list[ReceivedSpan], chats: range) -> dict[str, Any]:
    """Each complete /start trace of `chats`, cut into STAGES: median, p90, p99 and max in ms."""
    by_trace: dict[str, list[ReceivedSpan]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    durations: dict[str, list[float]] = defaultdict(list)
    traces = complete = 0
    for trace_spans in by_trace.values():
        parts = {name: next((s for s in trace_spans if test(s)), None) for name, test in _PARTS.items()}
        process = parts["process"]
        if process is None or _chat_of(process) not in chats:
            continue
        traces += 1
        if any(span is None for span in parts.values()):
            continue
        complete += 1
        for stage, (a, a_edge), (b, b_edge) in STAGES:
            start = getattr(parts[a], f"{a_edge}_ns")
            end = getattr(parts[b], f"{b_edge}_ns")
            durations[stage].append((end - start) / 1e6)
    rows = [_spread(stage, sorted(durations[stage])) for stage, _, _ in STAGES if durations.get(stage)]
    return {"rate": STAGED_RATE, "traces": traces, "complete": complete, "rows": rows}


def _spread(stage: str, values: list[float]) -> dict[str, Any]:
    p90, p99 = percentile(values, 90), percentile(values, 99)
    return {"stage": stage, "median": statistics.median(values), "p90": p90, "p99": p99, "max": values[-1]}


def run_all() -> dict[str, Any]:
    missing = e2e.missing_parts()
    if missing:
        return {"skipped": f"not yet run: {', '.join(missing)} missing"}
    with OtlpReceiver() as otlp:
        starters = (
            (start_untraced, CHAT_BASES[UNTRACED]),
            (_traced_starter(otlp), CHAT_BASES[TRACED]),
            (_sampled_starter(otlp), CHAT_BASES[SAMPLED]),
        )
        results = e2e.run_interleaved(starters, RATES)
        _wait_for_spans(otlp)  # the stacks are stopped by now: their last batches were flushed on the way out
        results["stages"] = stages(otlp.spans, _staged_chats())
        results["spans_received"] = len(otlp.spans)
    return results
