"""Refused updates are logged at once after a quiet spell, then summed up in one line per interval."""

from __future__ import annotations

import logging

import pytest

from imagebot_gateway.refusal_log import RefusalLog
from tests.support.fake_clock import FakeClock

pytestmark = pytest.mark.unit


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def refusals(clock: FakeClock) -> RefusalLog:
    return RefusalLog(logging.getLogger("test.refusals"), interval=10.0, clock=clock)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "test.refusals" and r.levelno == logging.WARNING]


def test_the_first_refusal_is_logged_at_once(refusals: RefusalLog, caplog: pytest.LogCaptureFixture):
    refusals.refused("update 1:5", "maximum messages exceeded")

    assert warnings(caplog) == ["update 1:5 not stored: maximum messages exceeded"]


def test_a_flood_of_refusals_costs_one_line_per_interval(
    refusals: RefusalLog, clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    for second in range(25):
        for n in range(1000):
            refusals.refused(f"update 1:{second * 1000 + n}", "maximum messages exceeded")
        clock.now += 1.0

    lines = warnings(caplog)
    assert len(lines) == 3  # at 0 s, 10 s and 20 s
    assert lines[1].startswith("9999 more updates not stored in the last 10s (last reason: maximum messages")


def test_after_a_quiet_spell_the_next_refusal_is_logged_at_once_with_what_was_left_unreported(
    refusals: RefusalLog, clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    refusals.refused("update 1:1", "TimeoutError")
    refusals.refused("update 1:2", "TimeoutError")
    clock.now += 60.0
    refusals.refused("update 1:3", "NoRespondersError")

    assert warnings(caplog)[1] == (
        "1 more updates not stored in the last 60s (last reason: TimeoutError); now update 1:3 not stored: "
        "NoRespondersError"
    )
