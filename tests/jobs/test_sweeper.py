"""The sweeper re-enqueues due work rows; claiming makes a twice-enqueued row run once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from backstop import clock
from jobs import sweeper
from tests.jobs.conftest import TABLE

NOW = datetime(2026, 3, 2, 9, 15, 0, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def add_rows(db, count: int, due: datetime) -> list[int]:
    return [
        db[TABLE].insert({"recipient": f"customer{i}@example.com", "due_at": clock.iso(due)}).last_pk
        for i in range(count)
    ]


def effects(db) -> dict[int, int]:
    return {
        r[0]: r[1] for r in db.execute("SELECT delivery_id, COUNT(*) FROM test_effects GROUP BY delivery_id")
    }


def states(db) -> dict[int, str]:
    return {r["id"]: r["work_state"] for r in db[TABLE].rows}


def test_it_enqueues_the_due_rows_of_a_registered_table(work_db, registered, jobs_on_disk, frozen):
    due = add_rows(work_db, 3, NOW - timedelta(minutes=1))
    add_rows(work_db, 2, NOW + timedelta(hours=1))

    assert sweeper.sweep_once() == {TABLE: 3}

    queued = [jobs_on_disk.dequeue() for _ in range(jobs_on_disk.pending_count())]
    assert sorted(task.args[0] for task in queued) == due
    assert {task.name for task in queued} == {"tests.jobs.deliver"}


def test_it_skips_a_registered_table_that_does_not_exist_yet(settings, db, jobs_inline, frozen):
    from tests.jobs.tasks import deliver

    sweeper.register("not_created_yet", deliver)
    try:
        assert sweeper.sweep_once() == {}
    finally:
        sweeper.QUEUES.pop("not_created_yet")


def test_a_row_enqueued_twice_is_processed_once(work_db, registered, jobs_on_disk, frozen):
    rows = add_rows(work_db, 4, NOW)
    # Two sweeps before any worker gets to the queue: every row is in it twice.
    sweeper.sweep_once()
    sweeper.sweep_once()
    assert jobs_on_disk.pending_count() == 8

    while (task := jobs_on_disk.dequeue()) is not None:
        jobs_on_disk.execute(task)

    assert effects(work_db) == dict.fromkeys(rows, 1)
    assert set(states(work_db).values()) == {"done"}
    assert sweeper.sweep_once() == {}


def test_inline_jobs_process_each_due_row_once_across_sweeps(work_db, registered, jobs_inline, frozen):
    rows = add_rows(work_db, 3, NOW)
    later = add_rows(work_db, 1, NOW + timedelta(minutes=5))

    sweeper.sweep_once()
    sweeper.sweep_once()
    assert effects(work_db) == dict.fromkeys(rows, 1)

    frozen.shift(timedelta(minutes=5))
    sweeper.sweep_once()
    assert effects(work_db) == dict.fromkeys(rows + later, 1)


def test_a_row_left_behind_by_a_lost_task_is_picked_up_when_its_lease_runs_out(
    work_db, registered, jobs_inline, frozen
):
    from backstop.lib import workrows

    (row_id,) = add_rows(work_db, 1, NOW)
    workrows.claim(work_db, TABLE, row_id)  # a worker claimed it, then the process died

    assert sweeper.sweep_once() == {}
    frozen.shift(timedelta(minutes=5, seconds=1))
    assert sweeper.sweep_once() == {TABLE: 1}
    assert effects(work_db) == {row_id: 1}
    assert states(work_db) == {row_id: "done"}


def test_the_sweeper_runs_every_minute(jobs_on_disk):
    names = {task.name for task in jobs_on_disk.read_periodic(datetime(2026, 3, 2, 9, 16, 0))}
    assert "jobs.sweep_work_rows" in names
