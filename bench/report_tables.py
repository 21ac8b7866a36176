"""Markdown tables of the four benchmarks (numbers only; the wording around them is in bench.report)."""

from __future__ import annotations

import math
from typing import Any

from bench.meters import DISTURBED
from bench.stats import fmt_count, fmt_ms, fmt_ratio, ratio

NAN = float("nan")


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _num(value: Any) -> float:
    return NAN if value is None else float(value)


def _cores(value: Any) -> str:
    return "—" if value is None or math.isnan(_num(value)) else f"{_num(value):.2f}"


STEAL_SHOWN = 0.05  # cores of host steal worth naming in the others column


def _others(row: dict[str, Any]) -> str:
    """Others' CPU, flagged when it was enough to disturb the run, with the host's steal in it when it counts."""
    value, steal = row.get("others_cpu"), row.get("steal_cpu")
    text = _cores(value)
    if value is not None and _num(value) > DISTURBED:
        text += " ⚠"
    if steal is not None and _num(steal) >= STEAL_SHOWN:
        text += f" (steal {_num(steal):.2f})"
    return text


def per_core(rate: Any, server_cpu: Any) -> float:
    """Updates/s the server would answer with one full core: rate ÷ the CPU share it actually got. At saturation
    this cancels most of what other processes took from it (they slow it down, not its cost per update)."""
    rate, cpu = _num(rate), _num(server_cpu)
    return rate / cpu if cpu > 0.05 else NAN


def _us_per_update(rate: Any, cpu: Any) -> str:
    rate_f, cpu_f = _num(rate), _num(cpu)
    return f"{cpu_f / rate_f * 1e6:,.0f}" if rate_f > 0 and not math.isnan(cpu_f) else "—"


def _us(value: Any) -> str:
    return "—" if value is None or math.isnan(_num(value)) else f"{_num(value):,.0f}"


def rows_by_target(ack: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    return {t["target"]: {r["load"]: r for r in t["rows"]} for t in ack["targets"] if "rows" in t}


def ack_table(ack: dict[str, Any]) -> str:
    by_target = rows_by_target(ack)
    yardstick = by_target.get("yardstick", {})
    body = []
    for target in ack["targets"]:
        if "error" in target:
            body.append([target["label"], "failed: " + target["error"][:200]] + [""] * 12)
            continue
        for row in target["rows"]:
            base = yardstick.get(row["load"], {})
            body.append(
                [
                    target["label"] if row is target["rows"][0] else "″",
                    row["load"],
                    f"{row['achieved']:,.0f} ({fmt_ratio(ratio(row['achieved'], _num(base.get('achieved'))))})",
                    fmt_ms(row["p50"]),
                    f"{fmt_ms(row['p99'])} ({fmt_ratio(ratio(row['p99'], _num(base.get('p99'))))}){_round_p99s(row)}",
                    fmt_ms(row["max"]),
                    fmt_count(row["ok"]),
                    fmt_count(row["not_ok"]),
                    fmt_count(row["landed"]),
                    f"**{row['lost']:,}**" if row["lost"] else "0",
                    f"{_cores(row['server_cpu'])} / {_cores(row['nats_cpu'])}",
                    f"{_us(row.get('server_cpu_us'))} / {_us(row.get('nats_cpu_us'))}",
                    f"{_cores(row['generator_cpu'])} / {_others(row)}",
                    _hiccup(row),
                ]
            )
    header = ["Receiver", "Load", "updates/s answered 200 (× yardstick)", "p50 ms",
              "p99 ms (× yardstick) (every round's p99)", "max ms", "200s", "not 200 or unanswered",
              "stored / handled", "lost", "CPU server / nats", "CPU µs per update, server / nats",
              "CPU generator / others", "longest hiccup ms"]  # fmt: skip
    return table(header, body)


def anatomy_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "_not run_"
    shipped = per_core(rows[0]["rate"], rows[0]["server_cpu"])
    body = [
        [
            r["variant"],
            f"{r['rate']:,.0f}",
            _cores(r["server_cpu"]),
            _us_per_update(r["rate"], r["server_cpu"]),
            f"{per_core(r['rate'], r['server_cpu']):,.0f}",
            fmt_ratio(ratio(per_core(r["rate"], r["server_cpu"]), shipped)),
            fmt_ms(r["p99"]),
            _others(r),
            "0" if r["stored"] >= r["ok"] else f"**{r['ok'] - r['stored']:,}**",
        ]
        for r in rows
    ]
    header = ["Variant (wrk, 100 connections)", "updates/s", "CPU server", "CPU µs per update",
              "updates/s per full core", "× gateway as shipped (per core)", "p99 ms", "CPU others", "lost"]  # fmt: skip
    return table(header, body)


def _hiccup(row: dict[str, Any]) -> str:
    """The longest time either core ran nothing of ours during the run (— where it was not measured)."""
    value = row.get("hiccup_max_ms")
    return "—" if value is None else f"{_num(value):.0f}"


def _round_p99s(row: dict[str, Any]) -> str:
    rounds = row.get("rounds") or []
    return f" ({', '.join(fmt_ms(_num(r['p99'])) for r in rounds)})" if rounds else ""


E2E_STACKS = (("stack", "stack, one core"), ("stack-own-cores", "stack, own cores"))


def e2e_table(e2e: dict[str, Any]) -> str:
    designs = {d["design"]: d for d in e2e.get("designs", []) if "rows" in d}
    single = {r["rate"]: r for r in designs.get("single", {}).get("rows", [])}
    body = []
    for key, name in (*E2E_STACKS, ("single", "single process")):
        for row in designs.get(key, {}).get("rows", []):
            baseline = single.get(row["rate"], {})
            cpu = row.get("cpu") or {}
            ours = ("gateway", "dispatcher") if key != "single" else ("single-bot",)
            body.append(
                [
                    name,
                    f"{row['rate']}/s",
                    f"{fmt_ms(_num(row.get('p50')))} / {fmt_ms(_num(row.get('p99')))}{_round_p99s(row)}",
                    fmt_ratio(ratio(_num(row.get("p99")), _num(baseline.get("p99")))),
                    f"{row.get('replied', 0):,}/{row.get('sent', 0):,}",
                    " + ".join(f"{k} {_cores(cpu.get(k))}" for k in ours),
                    " + ".join(f"{k} {_per_update(cpu.get(k), row['rate'])}" for k in ours),
                    _core_busy(row),
                    _others(row),
                    _hiccup(row),
                ]
            )
    header = ["Design", "/start load", "p50 / p99 ms (median round; every round's p99)", "p99 ÷ single process",
              "replies received", "CPU of our processes (cores)", "CPU µs per /start (idle work included)",
              "core 0 / core 1 busy (cores, load generator included)", "CPU others",
              "longest hiccup ms"]  # fmt: skip
    return table(header, body)


def _core_busy(row: dict[str, Any]) -> str:
    busy = row.get("core_busy")
    return "—" if not busy else " / ".join(_cores(share) for share in busy.values())  # as e2e.core_busy orders them


def _per_update(cores: float | None, rate: float) -> str:
    return "—" if cores is None or not rate else f"{cores / rate * 1e6:,.0f}"


def generation_table(gen: dict[str, Any]) -> str:
    ours = {r["jobs"]: r for r in gen.get("imagegen", [])}
    original = {r["jobs"]: r for r in gen.get("original", [])}
    body = []
    for jobs in sorted(set(ours) | set(original)):
        o, b = ours.get(jobs), original.get(jobs)
        if o:
            body.append(
                [
                    f"imagegen, {jobs:,} jobs",
                    f"{jobs:,} / 0",
                    f"{o['completed']:,} ({', '.join(f'{k} {v}' for k, v in o['outcomes'].items())})",
                    f"{o['completion_time']:.1f} s (p50 job {o['job_latency']['p50']:.1f} s)",
                    "1.00×",
                    f"{o['peak_rss_kib']['imagegen'] / 1024:.0f} MiB",
                ]
            )
        if b:
            slower = ratio(b["all_done_after"], o["completion_time"]) if o else NAN
            body.append(
                [
                    f"original 3 workers, {jobs:,} jobs",
                    f"{b['accepted']:,} / **{b['dropped']:,}**",
                    f"{b['completed']} in the {b['window']:.0f} s window (p50 job {b['job_seconds_p50']:.1f} s)",
                    f"accepted ones: ≈{b['accepted_done_after']:,.0f} s; all {jobs:,} (unbounded queue): "
                    f"≈{b['all_done_after']:,.0f} s — extrapolated: 3 jobs per {b['job_seconds_p50']:.1f} s",
                    fmt_ratio(slower),
                    f"{b['peak_rss_kib']['original'] / 1024:.0f} MiB",
                ]
            )
    header = ["Design", "accepted / dropped", "completed", "completion time", "time for all N × imagegen",
              "peak RSS"]  # fmt: skip
    return table(header, body)


def rss_table(results: dict[str, Any]) -> str:
    body = []
    for target in results.get("ack", {}).get("targets", []):
        for name, kib in (target.get("peak_rss_kib") or {}).items():
            body.append([f"benchmark 1: {target['label']}", name, f"{kib / 1024:.0f}"])
    for design in results.get("e2e", {}).get("designs", []):
        for name, kib in (design.get("peak_rss_kib") or {}).items():
            body.append([f"benchmark 2: {design.get('label', design.get('design'))}", name, f"{kib / 1024:.0f}"])
    for row in results.get("generation", {}).get("imagegen", []) + results.get("generation", {}).get("original", []):
        for name, kib in row["peak_rss_kib"].items():
            body.append([f"benchmark 3: {row['design']}, {row['jobs']:,} jobs", name, f"{kib / 1024:.0f}"])
    return table(["Scenario", "Process", "peak RSS (VmHWM), MiB"], body)


TRACED_STACKS = (("stack-own-cores-untraced", "own cores, nothing exported"),
                 ("stack-own-cores-traced", "own cores, every trace exported"),
                 ("stack-own-cores-sampled", "own cores, one trace in ten exported"))  # fmt: skip


def traced_table(traced: dict[str, Any]) -> str:
    designs = {d["design"]: d for d in traced.get("designs", []) if "rows" in d}
    untraced = {r["rate"]: r for r in designs.get(TRACED_STACKS[0][0], {}).get("rows", [])}
    ours = ("gateway", "dispatcher")
    body = []
    for key, name in TRACED_STACKS:
        for row in designs.get(key, {}).get("rows", []):
            cpu = row.get("cpu") or {}
            body.append(
                [
                    name,
                    f"{row['rate']}/s",
                    f"{fmt_ms(_num(row.get('p50')))} / {fmt_ms(_num(row.get('p99')))}{_round_p99s(row)}",
                    fmt_ratio(ratio(_num(row.get("p99")), _num(untraced.get(row["rate"], {}).get("p99")))),
                    f"{row.get('replied', 0):,}/{row.get('sent', 0):,}",
                    " + ".join(f"{k} {_per_update(cpu.get(k), row['rate'])}" for k in ours),
                    _others(row),
                    _hiccup(row),
                ]
            )
    header = ["Stack", "/start load", "p50 / p99 ms (median round; every round's p99)", "p99 ÷ nothing exported",
              "replies received", "CPU µs per /start (idle work included)", "CPU others",
              "longest hiccup ms"]  # fmt: skip
    return table(header, body)


def stages_table(stages: dict[str, Any]) -> str:
    body = [[row["stage"], *(fmt_ms(row[k] / 1e3) for k in ("median", "p90", "p99", "max"))] for row in stages["rows"]]
    return table(["Stage (from the spans of one trace)", "median ms", "p90 ms", "p99 ms", "max ms"], body)
