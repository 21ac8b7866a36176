"""docs/benchmarks.md from one invocation's results: verdicts, machine, placement, commands, tables."""

from __future__ import annotations

import math
from typing import Any

from bench import ack, e2e, e2e_traced, generation, meters, procs
from bench.report_tables import (
    ack_table,
    anatomy_table,
    e2e_table,
    generation_table,
    per_core,
    rows_by_target,
    rss_table,
    stages_table,
    traced_table,
)
from bench.stats import fmt_ms

E2E_PLACEMENTS = (
    ("stack", "gateway and dispatcher sharing the single process's one core"),
    ("stack-own-cores", "each service on a core of its own (dispatcher on core 0, gateway on core 1)"),
)
E2E_SUSTAINED_P99 = 1.0  # seconds: above this the single process no longer keeps up, so ratios stop meaning much


def _verdict(met: bool, rows: list[dict[str, Any]]) -> str:
    """yes / no, or inconclusive when other processes took enough CPU during a run it rests on."""
    worst = max((r.get("others_cpu") or 0.0 for r in rows), default=0.0)
    word = "yes" if met else "no"
    if worst > meters.DISTURBED:
        return f"inconclusive — measured {word}, but other processes used up to {worst:.2f} cores ⚠"
    return f"**{word}**"


def _verdicts(results: dict[str, Any]) -> list[str]:
    lines = ["| Goal | Measured | Met? |", "|---|---|---|"]
    by_target = rows_by_target(results.get("ack", {"targets": []}))
    gateway, aiogram = by_target.get("gateway", {}), by_target.get("aiogram_background", {})
    at_1000 = gateway.get("1,000/s open loop")
    if at_1000:
        rounds = at_1000.get("rounds") or [at_1000]
        met = at_1000["p99"] < 0.010 and at_1000["lost"] == 0 and at_1000["not_ok"] == 0
        lines.append(
            f"| Gateway p99 ack < 10 ms at 1,000 updates/s, zero loss{_median_of(rounds)} | "
            f"p99 {fmt_ms(at_1000['p99'])} ms (rounds: {', '.join(fmt_ms(r['p99']) for r in rounds)}; yardstick "
            f"{_p99_of(by_target, 'yardstick', '1,000/s open loop')}), {at_1000['not_ok']} not 200, "
            f"{at_1000['lost']} lost | {_verdict(met, [at_1000])} |"
        )
    saturation = next((r for load, r in gateway.items() if load.startswith("saturation")), None)
    theirs = next((r for load, r in aiogram.items() if load.startswith("saturation")), None)
    if saturation and theirs:
        ours_core = per_core(saturation["achieved"], saturation["server_cpu"])
        theirs_core = per_core(theirs["achieved"], theirs["server_cpu"])
        met = ours_core >= theirs_core and saturation["lost"] == 0
        lines.append(
            f"| Gateway throughput ≥ aiogram `handle_in_background`, while durable (judged per full core: "
            f"saturated rate ÷ the CPU share each server got, which cancels other processes' load) | "
            f"{ours_core:,.0f}/s vs {theirs_core:,.0f}/s per core ({ours_core / theirs_core:.2f}×); raw "
            f"{saturation['achieved']:,.0f}/s vs {theirs['achieved']:,.0f}/s; {saturation['lost']} lost | "
            f"{'**yes**' if met else '**no**'} |"
        )
    for placement, judged in _e2e_judged(results):
        met = bool(judged) and all(s["p99"] <= 2 * o["p99"] for s, o in judged)
        shown = ", ".join(f"{s['rate']}/s: {s['p99'] / o['p99']:.2f}×" for s, o in judged)
        lines.append(
            f"| End-to-end /start p99 within 2× of the single process, {placement} (at the loads where the single "
            f"process's p99 < {E2E_SUSTAINED_P99:.0f} s) | {shown or 'no load the single process sustained'} | "
            f"{_verdict(met, [row for pair in judged for row in pair])} |"
        )
    if "skipped" in results.get("e2e", {}):
        lines.append(f"| End-to-end p99 within 2× of the single process | {results['e2e']['skipped']} | not run |")
    return lines


Pair = tuple[dict[str, Any], dict[str, Any]]


def _e2e_judged(results: dict[str, Any]) -> list[tuple[str, list[Pair]]]:
    """Per stack placement: (its description, the (stack row, single row) pairs of the loads the goal is judged at)."""
    designs = {d["design"]: d for d in results.get("e2e", {}).get("designs", []) if "rows" in d}
    single = {r["rate"]: r for r in designs.get("single", {}).get("rows", [])}
    judged = []
    for key, placement in E2E_PLACEMENTS:
        if key in designs and single:
            rows = [r for r in designs[key]["rows"] if r["rate"] in single]
            pairs = [(r, single[r["rate"]]) for r in rows if single[r["rate"]]["p99"] < E2E_SUSTAINED_P99]
            judged.append((placement, pairs))
    return judged


def _e2e_misses(results: dict[str, Any]) -> list[str]:
    """Where the end-to-end goal is missed, the two figures that explain it, from the same rows: the p50 ratio
    (the stack's extra hops through nats-server, paid by every reply) and how busy core 1 was, which every one of
    those hops crosses (nats-server, the emulator and the load generator live there, and on own cores the gateway)."""
    lines = []
    for placement, judged in _e2e_judged(results):
        missed = [(s, o) for s, o in judged if s["p99"] > 2 * o["p99"]]
        if missed:
            shown = "; ".join(_p50_and_core_1(stack, single) for stack, single in missed)
            lines.append(f"- Missed with {placement}: {shown}.")
    if not lines:
        return []
    head = (
        "Where the end-to-end goal is missed, per load: the stack's p50 ÷ the single process's, and how busy core 1 "
        "was (cores) in the stack's run and in the single process's (benchmark 2's table has the rest):"
    )
    return ["", head, "", *lines]


def _p50_and_core_1(stack: dict[str, Any], single: dict[str, Any]) -> str:
    busy, theirs = stack.get("core_busy") or {}, single.get("core_busy") or {}
    core = procs.LOAD_CORE
    core_1 = f", core {core} {busy[core]:.2f} against {theirs[core]:.2f}" if core in busy and core in theirs else ""
    return f"{stack['rate']}/s: p50 {stack['p50'] / single['p50']:.2f}×{core_1}"


def _median_of(rounds: list[dict[str, Any]]) -> str:
    return f" (median of {len(rounds)} rounds)" if len(rounds) > 1 else ""


def _p99_of(by_target: dict[str, dict[str, dict[str, Any]]], target: str, load: str) -> str:
    row = by_target.get(target, {}).get(load)
    return f"{fmt_ms(row['p99'])} ms" if row else "not measured"


def _machine(m: dict[str, Any], seconds: float) -> list[str]:
    load = ", ".join(f"{x:.2f}" for x in m["load_average_at_start"])
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    return [
        f"- **{m['nproc']} cores** ({m['cpu_model']}), {m['memory_gib']} GiB RAM, Linux {m['kernel']}; "
        f"Python {m['python']}; {m['nats_server']}; {m['wrk']}.",
        f"- Packages: {packages}.",
        f"- **The machine is shared** (other engineers' test runs): load average {load} when the bench started. "
        "Before every measurement the bench waits (≤ 3 s) for the machine to be nearly idle; the *CPU others* "
        "columns give the cores used during the run by processes that are not part of it, the kernel's own work "
        "included (1.00 = one core taken from us); *(steal x)* is the part the hypervisor gave our virtual cores "
        "to other machines on the host, which no process here explains. Rows with large *others* figures are "
        "disturbed; ratios within one invocation cancel some of it.",
        f"- Priority: BENCH_NICE={procs.NICE} (every process the bench starts runs at that nice value).",
        f"- Awake cores: BENCH_AWAKE={int(meters.AWAKE)}. "
        + (
            "During every open-loop run a SCHED_IDLE spinner keeps each virtual core busy (the guest's idle=poll): "
            "an idle vCPU on this shared host waits for the hypervisor when a packet wakes it, which added up to "
            "~150 ms to p99 at moderate rates. The spinners run only when nothing else wants the core; their "
            "CPU is not counted as others'. Saturation runs keep the cores busy by themselves."
            if meters.AWAKE
            else "The cores idle between requests (the host's wake-up delays are part of every latency below)."
        ),
        "- Hiccups: during every timed run a real-time (SCHED_FIFO) sleeper on each core wakes every 5 ms "
        "(`python -m bench.hiccups`); a wake-up later than "
        f"{meters.HICCUP_MS:.0f} ms means the core ran nothing of this machine's for that long (the hypervisor "
        "had it, or the kernel had interrupts off). *Longest hiccup* is the worst of both cores in that run: a "
        "latency tail beside a long hiccup is the host's, not the software's.",
        f"- Total run time of this invocation: {seconds / 60:.1f} min.",
    ]


PLACEMENT = [
    "Every process is started and stopped by the bench, on 127.0.0.1 only, pinned with `taskset`:",
    "- **core 0**: the server under test — the gateway, each baseline receiver, the dispatcher (in benchmark 2 "
    "with the gateway beside it, or alone), the single-process bot, imagegen or the original generation design;",
    "- **core 1**: the load generator (`bench.loadgen` or `wrk`), `nats-server` (JetStream, file storage in a "
    "fresh temporary directory per receiver), the Telegram / Kie.ai emulators, and in benchmark 2's *own cores* "
    "run the gateway.",
    "All Python servers run on uvloop, so designs are compared, not event loops.",
]

COMMANDS = [
    "```sh",
    "make bench                                   # = .venv/bin/python -m bench; installs wrk (apt) when missing",
    "nats-server -a 127.0.0.1 -p $P -m $M -js -sd $(mktemp -d)",
    "taskset -c 0 python -m imagebot_gateway      # env: TELEGRAM_BOT_TOKEN=123456789:BENCH-token-… BOT_MODE=webhook",
    "    # WEBHOOK_BASE_URL=http://127.0.0.1:$PORT WEBHOOK_SECRET_TOKEN=… PORT HOST=127.0.0.1 NATS_URL",
    "    # TELEGRAM_API_URL=http://127.0.0.1:<closed port> UPDATE_QUEUE_SIZE=50000000 LOG_LEVEL=WARNING",
    "taskset -c 0 python -m bench.servers.yardstick --port $PORT --nats-url $NATS      # (d)",
    "taskset -c 0 python -m bench.servers.aiogram_background --port $PORT             # (b)",
    "taskset -c 0 python -m bench.servers.original_queue --port $PORT [--handler-seconds 0.05]   # (c), (c′)",
    f"taskset -c 1 python -m bench.loadgen --port $PORT --rate R --duration D --connections 40   # R in "
    f"{', '.join(str(r) for r, _, _ in ack.RATES)}",
    "chrt -f 50 taskset -c N python -m bench.hiccups   # one per core during every timed run (see Hiccups)",
    f"taskset -c 1 wrk -t1 -c{ack.SATURATION_CONNECTIONS} -d{ack.SATURATION_SECONDS:.0f}s --timeout 10s "
    "-s bench/results/webhook.lua http://127.0.0.1:$PORT/webhook -- <first update_id> 10000 5000000",
    "taskset -c 0 python -m imagebot_dispatcher   # env: TELEGRAM_API_URL=<emulator> TELEGRAM_GLOBAL_RATE=100000 …",
    "    # 2b, traced stack (gateway and dispatcher): OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:<receiver>"
    " OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
    "taskset -c 1 python -m imagebot_emulators.telegram --port $TG --log-level WARNING",
    "taskset -c 0 python -m bench.servers.single_bot --port $PORT --telegram-api-url <emulator> --global-rate 100000",
    "taskset -c 1 python -m imagebot_emulators.kie --port $KIE "
    f"--generation-seconds {generation.GENERATION_SECONDS:.0f} --create-limit 0 --record-rate 0 "
    "--credits 100000000 --callbacks-enabled false",
    "taskset -c 0 python -m imagebot_imagegen     # env: KIE_API_URL=<emulator> KIE_CREATE_RATE_LIMIT=1000000 "
    "KIE_STATUS_RATE_PER_SECOND=1000000 …",
    f"taskset -c 0 python -m bench.servers.original_generation --jobs N --window {generation.ORIGINAL_WINDOW:.0f} …",
    "py-spy record --pid <gateway> --duration 8 --rate 250 --format raw   # while wrk saturates it",
    "```",
]


def _generator(c: dict[str, Any], results: dict[str, Any]) -> list[str]:
    rows = [r for t in results.get("ack", {}).get("targets", []) for r in t.get("rows", [])]
    saturated = [r["achieved"] for r in rows if r["offered"] is None]
    best = max(saturated, default=0.0)
    busiest = max((r["generator_cpu"] for r in rows if r["generator_cpu"] is not None), default=math.nan)
    closed, open_5k, wrk_max = c["loadgen_closed_loop"], c["loadgen_open_5000"], c["wrk"]

    def per_core(rate: float, share: float) -> str:
        return f"{rate / share:,.0f}" if share > 0 else "—"

    return [
        "Both generators were first run against `bench.servers.trivial` (a raw asyncio protocol that answers 200 "
        "at once, on the server core), pinned like the real runs:",
        f"- `bench.loadgen` closed loop, 40 connections: {closed['rate']:,.0f} req/s using {closed['cpu_share']:.2f} "
        f"of its core (≈ {per_core(closed['rate'], closed['cpu_share'])} req/s per core of generator CPU); open loop "
        f"at 5,000/s: {open_5k['rate']:,.0f}/s delivered using {open_5k['cpu_share']:.2f} of its core, schedule lag "
        f"p99 {fmt_ms(open_5k['lag_p99'])} ms.",
        f"- `wrk` (1 thread, 100 connections, Lua body generator): {wrk_max['rate']:,.0f} req/s using "
        f"{wrk_max['cpu_share']:.2f} of its core (≈ {per_core(wrk_max['rate'], wrk_max['cpu_share'])} req/s per "
        "core).",
        f"- The fastest saturated receiver below answered {best:,.0f} updates/s. In benchmark 1 the generator never "
        f"used more than {busiest:.2f} of its core (column *CPU generator*), so it always had idle CPU left while "
        "a saturated server sat near 1.00 of its own core: the server, not the generator, set the pace. Where a "
        "saturated server shows well below 1.00, other processes took its core (column *CPU others*).",
        "- Open-loop latency runs from the moment the scheduler hands a request over (≤ ~1 ms after its due time, "
        "the timer resolution) to the response, including any wait for a free connection, so a slow server cannot "
        "hide its queueing (no coordinated omission). 40 connections = Telegram's default `max_connections`.",
    ]


def _profile_tables(p: dict[str, Any], intro: str) -> list[str]:
    """A py-spy summary: the intro, the share of samples per part, the innermost frames."""
    if "error" in p:
        return [f"_Profile not taken: {p['error']}_"]
    return [
        intro,
        "",
        "| Share | Where |",
        "|---|---|",
        *[f"| {share * 100:.1f}% | {name} |" for name, share in p["categories"]],
        "",
        "Innermost frames (self time):",
        "",
        "| Self | Frame |",
        "|---|---|",
        *[f"| {share * 100:.1f}% | `{name}` |" for name, share in p["self"][:12]],
        "",
        f"Collapsed stacks: `{p['collapsed_path']}`.",
    ]


def _profile(p: dict[str, Any]) -> list[str]:
    intro = (
        f"py-spy sampled the gateway {p.get('samples', 0):,} times while wrk drove it at "
        f"{p.get('wrk', {}).get('rate', 0):,.0f} updates/s (sampling slows it). Share of samples by what they were "
        "doing (each sample counted once, first matching category):"
    )
    return _profile_tables(p, intro)


def _dispatcher_profile(p: dict[str, Any]) -> list[str]:
    intro = (
        f"py-spy sampled the dispatcher {p.get('samples', 0):,} times (own core) while the bench sent "
        f"{p.get('rate')} /start per second through the gateway. Each sample is counted for the innermost frame that "
        "belongs to one of these parts (so a socket write inside nats-py counts for nats-py):"
    )
    return _profile_tables(p, intro)


def render(results: dict[str, Any], seconds: float) -> str:
    intro = (
        "Written by `make bench` (`python -m bench`); every figure below comes from the same invocation, so each "
        "comparison is against a baseline measured minutes apart on the same machine. Raw numbers: "
        "`bench/results/results.json` and the per-process logs beside it (not committed)."
    )
    out = ["# Benchmarks", "", intro, ""]
    out += ["## Goals", "", *_verdicts(results), *_e2e_misses(results), ""]
    out += ["## Machine", "", *_machine(results["machine"], seconds), ""]
    out += ["## Placement", "", *PLACEMENT, "", "## Commands", "", *COMMANDS, ""]
    if "calibration" in results:
        out += ["## The load generator is not the bottleneck", "", *_generator(results["calibration"], results), ""]
    out += ["## 1. Webhook acknowledgement", "", _ack_intro(), "", _section(results, "ack", ack_table), ""]
    out += ["### Where the gateway's time goes", "", _section(results, "anatomy", anatomy_table), ""]
    if "profile" in results:
        out += [*_profile(results["profile"]), ""]
    out += ["## 2. End to end: /start", "", e2e.__doc__.strip() if e2e.__doc__ else "", ""]
    if "skipped" in results.get("e2e", {}):
        out += [f"**Not yet run**: {results['e2e']['skipped']}.", ""]
    else:
        out += [_section(results, "e2e", e2e_table), *_errors(results.get("e2e", {}).get("designs", [])), ""]
    if "dispatcher_profile" in results:
        out += ["### Where the dispatcher's time goes", "", *_dispatcher_profile(results["dispatcher_profile"]), ""]
    out += ["### 2b. With every trace exported", "", e2e_traced.__doc__.strip() if e2e_traced.__doc__ else "", ""]
    out += [_section(results, "e2e_traced", _traced), ""]
    out += ["## 3. Generation concurrency", "", generation.__doc__.strip() if generation.__doc__ else "", ""]
    out += [_section(results, "generation", generation_table), ""]
    out += ["## 4. Peak memory", "", "VmHWM of each process at the end of its scenario.", "", rss_table(results), ""]
    return "\n".join(out)


def _ack_intro() -> str:
    rates = ", ".join(f"{r:,}/s for {s:.0f} s ({n} round{'s' * (n > 1)})" for r, s, n in ack.RATES)
    return (
        f"Open loop at {rates}, after a {ack.WARMUP_SECONDS:.0f} s warm-up; then closed-loop saturation with wrk "
        f"({ack.SATURATION_CONNECTIONS} connections, {ack.SATURATION_SECONDS:.0f} s). All receivers are up at "
        "once and every load runs on them back to back, so a ratio compares runs seconds apart. A load run in "
        "rounds shows the receiver's median round (by p99), every round's p99 in brackets: one hiccup of the host "
        "moves a p99 of 6,000 answers several times over. Bodies: a ~470-byte "
        "private-chat message update, unique update_id, 10,000 chats round-robin, the secret header. "
        "*Stored / handled*: messages that reached the UPDATES stream (durable receivers, counted on nats-server's "
        "monitoring port) or handler calls (in-memory receivers, counted after their background work settled). "
        "*Lost* = answered 200 but not stored / never handled. Ratios are against the yardstick (d) at the same load."
    )


def _traced(traced: dict[str, Any]) -> str:
    if "skipped" in traced:
        return f"**Not yet run**: {traced['skipped']}."
    out = [traced_table(traced), *_errors(traced.get("designs", []))]
    stages = traced.get("stages") or {}
    if stages.get("rows"):
        intro = (
            f"Where a /start's time goes at {stages['rate']}/s, from the {stages['complete']:,} complete traces of "
            f"{stages['traces']:,} the traced stack exported in those rounds (complete: every span of the request, "
            "webhook to sendMessage, received):"
        )
        out += ["", intro, "", stages_table(stages)]
    return "\n".join(out)


def _section(results: dict[str, Any], key: str, render_table: Any) -> str:
    if key not in results:
        return "_not run_"
    if isinstance(results[key], dict) and "error" in results[key]:
        return f"**Failed**: `{results[key]['error']}`"
    return render_table(results[key])


def _errors(designs: list[dict[str, Any]]) -> list[str]:
    return [f"\n**{d['design']} failed**: `{d['error']}`" for d in designs if "error" in d]
