"""The in-process consumer: picks work up quickly when idle, and leaves the signals to the server."""

from __future__ import annotations

import signal
import time
from datetime import timedelta

from backstop import clock
from jobs import queue, sweeper
from tests.jobs import tasks
from tests.jobs.conftest import TABLE


def wait_for(condition, timeout: float = 5.0) -> float:
    """Poll until ``condition()`` is true; return the seconds it took, or fail at the deadline."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not done within {timeout} s")
        time.sleep(0.01)
    return time.monotonic() - start


def test_an_idle_consumer_starts_a_new_task_promptly(jobs_on_disk):
    consumer = queue.start_consumer(workers=2)
    try:
        tasks.note_start("warm-up")
        wait_for(lambda: "warm-up" in tasks.started)
        # Let the workers back off to their longest idle poll before measuring.
        time.sleep(1.0)

        enqueued = time.monotonic()
        tasks.note_start("while-idle")
        wait_for(lambda: "while-idle" in tasks.started)
    finally:
        queue.stop_consumer(consumer)

    # The target is about a second (bench/job_latency.py measures it); this only catches a
    # consumer that has stopped polling or sleeps for many seconds.
    assert tasks.started["while-idle"] - enqueued < 5.0


def test_the_consumer_processes_swept_rows_exactly_once(work_db, registered, jobs_on_disk):
    due = clock.iso(clock.now() - timedelta(seconds=1))
    rows = [
        work_db[TABLE].insert({"recipient": f"c{i}@example.com", "due_at": due}).last_pk for i in range(20)
    ]
    sweeper.sweep_once()
    sweeper.sweep_once()  # every row is in the queue twice; two workers race for them

    consumer = queue.start_consumer(workers=2)
    try:
        wait_for(lambda: [r["work_state"] for r in work_db[TABLE].rows] == ["done"] * 20)
        wait_for(lambda: jobs_on_disk.pending_count() == 0)
    finally:
        queue.stop_consumer(consumer)

    counts = dict(
        work_db.execute("SELECT delivery_id, COUNT(*) FROM test_effects GROUP BY delivery_id").fetchall()
    )
    assert counts == dict.fromkeys(rows, 1)


def test_the_consumer_leaves_ctrl_c_and_sigterm_to_the_web_server(jobs_on_disk):
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    consumer = queue.start_consumer(workers=1)
    try:
        after = {sig: signal.getsignal(sig) for sig in before}
    finally:
        queue.stop_consumer(consumer)
    assert after == before


def test_stopping_waits_for_the_task_in_hand(jobs_on_disk):
    consumer = queue.start_consumer(workers=1)
    tasks.slow_task(0.3)
    wait_for(lambda: "slow-begun" in tasks.started)
    queue.stop_consumer(consumer)
    assert "slow-finished" in tasks.started
