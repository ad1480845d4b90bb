"""Work rows: claimed by one compare-and-set, leased, retried with backoff, swept when due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from backstop import clock
from backstop.lib import workrows
from tests.jobs.conftest import TABLE

NOW = datetime(2026, 3, 2, 9, 15, 0, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def add(db, *, due: datetime = NOW, state: str = "pending", claimed_until: datetime | None = None) -> int:
    return (
        db[TABLE]
        .insert(
            {
                "recipient": "priya@example.com",
                "work_state": state,
                "due_at": clock.iso(due),
                "claimed_until": clock.iso(claimed_until) if claimed_until else None,
            }
        )
        .last_pk
    )


def row(db, row_id: int) -> dict:
    return db[TABLE].get(row_id)


def test_only_the_first_of_two_claims_wins(work_db, frozen):
    row_id = add(work_db)

    assert workrows.claim(work_db, TABLE, row_id) is True
    assert workrows.claim(work_db, TABLE, row_id) is False

    claimed = row(work_db, row_id)
    assert claimed["work_state"] == "working"
    assert claimed["attempts"] == 1
    assert claimed["claimed_until"] == clock.iso(NOW + timedelta(minutes=5))


def test_a_row_that_is_not_due_yet_cannot_be_claimed(work_db, frozen):
    row_id = add(work_db, due=NOW + timedelta(seconds=1))
    assert workrows.claim(work_db, TABLE, row_id) is False

    frozen.shift(1)
    assert workrows.claim(work_db, TABLE, row_id) is True


def test_a_lease_that_ran_out_can_be_claimed_again(work_db, frozen):
    row_id = add(work_db)
    assert workrows.claim(work_db, TABLE, row_id, lease=timedelta(minutes=2))

    frozen.shift(timedelta(minutes=2))
    assert workrows.claim(work_db, TABLE, row_id) is False, "the lease has not run out yet"

    frozen.shift(1)
    assert workrows.claim(work_db, TABLE, row_id) is True
    assert row(work_db, row_id)["attempts"] == 2


@pytest.mark.parametrize("state", ["done", "failed"])
def test_finished_rows_are_never_claimed(work_db, frozen, state):
    row_id = add(work_db, state=state, due=NOW - timedelta(days=1))
    assert workrows.claim(work_db, TABLE, row_id) is False


def test_claiming_a_row_that_does_not_exist_fails_quietly(work_db, frozen):
    assert workrows.claim(work_db, TABLE, 4242) is False


def test_due_ids_lists_only_due_and_abandoned_rows(work_db, frozen):
    due = add(work_db, due=NOW - timedelta(hours=1))
    due_now = add(work_db, due=NOW)
    add(work_db, due=NOW + timedelta(seconds=1))  # later
    abandoned = add(work_db, state="working", claimed_until=NOW - timedelta(seconds=1))
    add(work_db, state="working", claimed_until=NOW + timedelta(minutes=4))  # being worked on
    add(work_db, state="done", due=NOW - timedelta(days=1))
    add(work_db, state="failed", due=NOW - timedelta(days=1))

    assert sorted(workrows.due_ids(work_db, TABLE)) == sorted([due, due_now, abandoned])


def test_due_ids_stops_at_its_limit(work_db, frozen):
    for _ in range(7):
        add(work_db, due=NOW - timedelta(minutes=1))
    assert len(workrows.due_ids(work_db, TABLE, limit=5)) == 5
    assert len(workrows.due_ids(work_db, TABLE)) == 7


def test_complete_finishes_the_row_for_good(work_db, frozen):
    row_id = add(work_db)
    workrows.claim(work_db, TABLE, row_id)
    workrows.retry_later(work_db, TABLE, row_id, NOW, "smtp timeout")
    workrows.claim(work_db, TABLE, row_id)

    workrows.complete(work_db, TABLE, row_id)

    done = row(work_db, row_id)
    assert (done["work_state"], done["claimed_until"], done["last_error"]) == ("done", None, None)
    frozen.shift(timedelta(days=1))
    assert workrows.due_ids(work_db, TABLE) == []
    assert workrows.claim(work_db, TABLE, row_id) is False


def test_retry_later_puts_the_row_back_for_a_later_time_with_the_error(work_db, frozen):
    row_id = add(work_db)
    workrows.claim(work_db, TABLE, row_id)

    workrows.retry_later(work_db, TABLE, row_id, NOW + timedelta(minutes=10), "card_declined: " + "x" * 5000)

    waiting = row(work_db, row_id)
    assert waiting["work_state"] == "pending"
    assert waiting["claimed_until"] is None
    assert waiting["last_error"].startswith("card_declined: ")
    assert len(waiting["last_error"]) == 2000
    assert workrows.due_ids(work_db, TABLE) == []
    assert workrows.claim(work_db, TABLE, row_id) is False

    frozen.shift(timedelta(minutes=10))
    assert workrows.due_ids(work_db, TABLE) == [row_id]
    assert workrows.claim(work_db, TABLE, row_id) is True
    assert row(work_db, row_id)["attempts"] == 2


def test_fail_stops_the_row_and_keeps_the_reason(work_db, frozen):
    row_id = add(work_db)
    workrows.claim(work_db, TABLE, row_id)

    workrows.fail(work_db, TABLE, row_id, "endpoint answered 410 Gone")

    failed = row(work_db, row_id)
    assert (failed["work_state"], failed["last_error"], failed["claimed_until"]) == (
        "failed",
        "endpoint answered 410 Gone",
        None,
    )
    frozen.shift(timedelta(days=30))
    assert workrows.due_ids(work_db, TABLE) == []
    assert workrows.claim(work_db, TABLE, row_id) is False


def test_backoff_doubles_from_30_seconds(frozen):
    delays = [workrows.backoff(n) - NOW for n in range(1, 6)]
    assert delays == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480)]
    assert workrows.backoff(0) - NOW == timedelta(seconds=30)


def test_backoff_stops_growing_at_its_cap(frozen):
    assert workrows.backoff(10) - NOW == timedelta(seconds=30 * 2**9)  # 4 h 16 min
    assert workrows.backoff(11) - NOW == timedelta(hours=6)
    assert workrows.backoff(12) - NOW == timedelta(hours=6)
    assert workrows.backoff(3, base=timedelta(minutes=1), cap=timedelta(minutes=3)) - NOW == timedelta(
        minutes=3
    )


@pytest.mark.parametrize("attempts", [43, 64, 1000])
def test_backoff_copes_with_a_row_that_failed_very_many_times(frozen, attempts):
    assert workrows.backoff(attempts) - NOW == timedelta(hours=6)
