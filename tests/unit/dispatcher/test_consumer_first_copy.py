"""When the dispatcher may skip asking handled_updates: only when no earlier copy of the update can exist."""

from __future__ import annotations

import pytest

from imagebot_dispatcher.consumer.idempotency import first_copy

pytestmark = pytest.mark.unit

WINDOW = 3600.0  # the updates stream's duplicate window (UPDATE_DEDUP_WINDOW's default)
STORED_AT = 1_800_000_000.0


def message_update(date: object) -> dict[str, object]:
    return {"update_id": 7, "message": {"message_id": 1, "chat": {"id": 5, "type": "private"}, "date": date}}


def judged(update: dict[str, object], *, stored_at: float = STORED_AT, deliveries: int = 1) -> bool:
    return first_copy(update, stored_at=stored_at, deliveries=deliveries, duplicate_window=WINDOW)


@pytest.mark.parametrize("age", [0, 2, 60, 29 * 60])
def test_a_first_delivery_stored_within_half_the_window_of_its_date_is_a_first_copy(age: int):
    assert judged(message_update(int(STORED_AT) - age))


@pytest.mark.parametrize("age", [30 * 60, 59 * 60, 2 * 3600, 24 * 3600])
def test_an_update_stored_later_than_that_may_be_a_retry_the_window_forgot(age: int):
    assert not judged(message_update(int(STORED_AT) - age))


def test_a_server_clock_behind_telegram_s_is_tolerated_up_to_half_the_window():
    assert judged(message_update(int(STORED_AT) + 60))
    assert not judged(message_update(int(STORED_AT) + 30 * 60))


@pytest.mark.parametrize("deliveries", [2, 3, 8])
def test_a_redelivery_may_have_run_already(deliveries: int):
    assert not judged(message_update(int(STORED_AT)), deliveries=deliveries)


def test_without_a_known_window_nothing_is_a_first_copy():
    update = message_update(int(STORED_AT))
    assert not first_copy(update, stored_at=STORED_AT, deliveries=1, duplicate_window=0)


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": 7, "callback_query": {"id": "1", "from": {"id": 5}, "data": "x"}},  # no date of its own
        {"update_id": 7, "poll_answer": {"poll_id": "1", "option_ids": [0]}},
        message_update(None),
        message_update("1800000000"),
        message_update(True),
        {"update_id": 7},
    ],
)
def test_an_update_without_an_integer_date_of_its_own_is_always_checked(update: dict[str, object]):
    assert not judged(update)
