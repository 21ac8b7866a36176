"""The bench's own arithmetic and parsing: percentiles, ratios, request bodies, responses, profile summaries.

No benchmark runs here (make bench does that); these only guard the helpers its tables rest on.
"""

from __future__ import annotations

import asyncio
import json
import math
import time

import pytest
from bench import profile, report_tables, updates
from bench.http_client import ClientConnection
from bench.stats import fmt_ms, fmt_ratio, median_round, percentile, ratio, summarize

pytestmark = pytest.mark.unit


def test_percentile_is_nearest_rank_so_it_is_always_an_observed_value() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0


def test_percentile_of_nothing_is_nan_and_out_of_range_q_is_refused() -> None:
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match="q must be"):
        percentile([1.0], 101)


def test_summarize_sorts_its_input() -> None:
    summary = summarize([3.0, 1.0, 2.0])
    assert (summary.count, summary.p50, summary.p99, summary.max) == (3, 2.0, 3.0, 3.0)


def test_ratio_is_nan_when_the_baseline_is_missing_or_zero() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(1.0, float("nan")))
    assert fmt_ratio(float("nan")) == "—"
    assert fmt_ratio(1.5) == "1.50×"


def test_milliseconds_keep_three_significant_digits() -> None:
    assert fmt_ms(0.00123) == "1.23"
    assert fmt_ms(0.0456) == "45.6"
    assert fmt_ms(1.5) == "1,500"


def test_update_bodies_are_realistic_unique_json_with_the_chat_as_key() -> None:
    body = updates.message_update(42, 5_000_001)
    update = json.loads(body)
    assert 300 <= len(body) <= 500
    assert update["update_id"] == 42
    assert update["message"]["chat"]["id"] == update["message"]["from"]["id"] == 5_000_001
    start = json.loads(updates.message_update(43, 5_000_002, "/start"))
    assert start["message"]["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]


def test_the_wrk_lua_template_yields_the_same_body_as_python() -> None:
    lua_pattern = updates.lua_template()
    uid, cid = 123, 5_000_123
    filled = lua_pattern.replace("%%", "\x00") % (uid, uid % 1_000_000 + 1, cid, cid, cid, cid)
    assert filled.replace("\x00", "%").encode() == updates.message_update(uid, cid)


def _answered(chunks: list[bytes]) -> int:
    async def scenario() -> int:
        connection = ClientConnection()

        class Transport:
            def write(self, data: bytes) -> None:
                for chunk in chunks:
                    asyncio.get_running_loop().call_soon(connection.data_received, chunk)

        connection.connection_made(Transport())  # type: ignore[arg-type]
        return await asyncio.wait_for(connection.request(b"POST / HTTP/1.1\r\n\r\n"), 1)

    return asyncio.run(scenario())


def test_a_response_split_across_reads_is_reassembled() -> None:
    assert _answered([b"HTTP/1.1 200 OK\r\nContent-Le", b"ngth: 2\r\n\r\n", b"{}"]) == 200


def test_chunked_and_empty_responses_are_understood() -> None:
    assert _answered([b"HTTP/1.1 503 Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n"]) == 503
    assert _answered([b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"]) == 401


def test_profile_categories_count_each_sample_once_and_sum_to_one() -> None:
    collapsed = "\n".join(
        [
            "run (x/main.py:1);Tracer.start_span (trace/__init__.py:10) 3",
            "run (x/main.py:1);Client.publish (nats/aio/client.py:5) 1",
            "run (x/main.py:1);HTTPRoute.handle (litestar/routes/http.py:2) 4",
        ]
    )
    shares = dict(profile.categorise(collapsed))
    assert math.isclose(sum(shares.values()), 1.0)
    assert shares[next(k for k in shares if k.startswith("OpenTelemetry"))] == 3 / 8
    assert shares[next(k for k in shares if k.startswith("Litestar"))] == 4 / 8


def test_a_load_run_in_rounds_is_represented_by_its_median_round_whole() -> None:
    rounds = [
        {"p50": 0.004, "p99": 0.030, "others_cpu": 0.0, "steal_cpu": 0.0, "cpu": {"dispatcher": 0.6}},
        {"p50": 0.009, "p99": 0.190, "others_cpu": 0.5, "steal_cpu": 0.4, "cpu": {"dispatcher": 0.8}},
        {"p50": 0.005, "p99": 0.040, "others_cpu": 0.1, "steal_cpu": 0.1, "cpu": {"dispatcher": 0.7}},
    ]

    row = median_round(rounds)

    assert row["p99"] == 0.040 and row["p50"] == 0.005 and row["cpu"] == {"dispatcher": 0.7}, "one real run"
    assert [r["p99"] for r in row["rounds"]] == [0.030, 0.190, 0.040]
    assert median_round(rounds[:1]) == rounds[0]


def test_the_others_column_names_the_hosts_steal_only_when_it_counts() -> None:
    assert report_tables._others({"others_cpu": 0.45, "steal_cpu": 0.40}) == "0.45 ⚠ (steal 0.40)"
    assert report_tables._others({"others_cpu": 0.12, "steal_cpu": 0.01}) == "0.12"
    assert report_tables._others({"others_cpu": 0.12}) == "0.12", "rows measured before steal was"


def test_awake_cores_spin_one_idle_priority_process_per_core_only_while_a_run_lasts() -> None:
    import os

    from bench import meters

    with meters.AwakeCores() as awake:
        pids = awake.pids
        assert len(pids) == (2 if meters.AWAKE else 0)
        for pid in pids:
            assert os.sched_getscheduler(pid) == os.SCHED_IDLE, "yields to every other task"
    assert all(not os.path.exists(f"/proc/{pid}") for pid in pids)


def test_a_hiccup_is_a_wake_up_late_by_at_least_the_threshold() -> None:
    from bench import meters

    assert meters.hiccup_summary([1.2, 2.0, 7.5, 1.9]) == {"max_ms": 7.5, "count": 2, "total_ms": 9.5}
    assert meters.hiccup_summary([]) == {"max_ms": 0.0, "count": 0, "total_ms": 0.0}


def test_the_hiccup_meter_sees_a_core_taken_from_everything_else() -> None:
    import os
    import subprocess
    import sys

    from bench import meters

    with meters.Hiccups() as hiccups:
        assert all(os.sched_getscheduler(pid) == os.SCHED_FIFO for pid in hiccups.pids)
        time.sleep(0.5)  # the sleepers are up
        # A higher real-time priority that spins 40 ms on the server core: nothing else runs there meanwhile.
        hog = "import time\nend = time.monotonic() + 0.04\nwhile time.monotonic() < end:\n    pass\n"
        subprocess.run(["chrt", "-f", "60", "taskset", "-c", meters.SERVER_CORE, sys.executable, "-c", hog], check=True)
        time.sleep(0.1)
    summary = hiccups.summary()
    assert set(summary["hiccups"]) == {meters.SERVER_CORE, meters.LOAD_CORE}
    assert summary["hiccups"][meters.SERVER_CORE]["max_ms"] >= 30
    assert summary["hiccup_max_ms"] >= 30


def test_each_core_is_as_busy_as_the_processes_pinned_to_it_and_the_load_generator_counts_on_its_core() -> None:
    from bench import e2e, procs

    def pinned(name: str, core: str) -> procs.Proc:
        return procs.Proc(name, None, None, core)  # type: ignore[arg-type]  # only its core is read

    processes = {
        "dispatcher": pinned("dispatcher", "0"),
        "gateway": pinned("gateway", "1"),
        "nats": pinned("nats", "1"),
    }
    design = e2e.Design("stack", "stack", 0, None, processes)  # type: ignore[arg-type]
    busy = e2e.core_busy(design, {"dispatcher": 0.6, "gateway": 0.2, "nats": 0.3}, loadgen_share=0.1)
    assert busy == pytest.approx({"0": 0.6, "1": 0.6})


def test_a_missed_end_to_end_goal_is_explained_at_each_load_it_is_missed_at_and_only_there() -> None:
    from bench import report

    def row(rate: int, p50: float, p99: float, core_1: float) -> dict[str, object]:
        return {"rate": rate, "p50": p50, "p99": p99, "core_busy": {"0": 0.5, "1": core_1}}

    stack = [row(20, 0.004, 0.008, 0.1), row(300, 0.005, 0.015, 0.85)]
    single = [row(20, 0.003, 0.005, 0.05), row(300, 0.002, 0.005, 0.3)]
    designs = [{"design": "stack-own-cores", "rows": stack}, {"design": "single", "rows": single}]

    lines = report._e2e_misses({"e2e": {"designs": designs}})

    missed = [line for line in lines if line.startswith("- Missed")]
    assert missed == [
        "- Missed with each service on a core of its own (dispatcher on core 0, gateway on core 1): "
        "300/s: p50 2.50×, core 1 0.85 against 0.30."
    ]
    designs[0]["rows"] = stack[:1]
    assert report._e2e_misses({"e2e": {"designs": designs}}) == []
