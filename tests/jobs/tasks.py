"""Tasks the jobs tests run, written the way domain tasks must be: claim, act, complete."""

from __future__ import annotations

import threading
import time

from backstop.lib import workrows
from jobs.queue import app_db, huey

TABLE = "test_deliveries"
# Task name → monotonic time it started, for the latency tests.
started: dict[str, float] = {}


@huey.task(name="tests.jobs.deliver")
def deliver(delivery_id: int) -> bool:
    with app_db() as db:
        if not workrows.claim(db, TABLE, delivery_id):
            return False
        db.execute(
            "INSERT INTO test_effects (delivery_id, thread) VALUES (?, ?)",
            [delivery_id, threading.current_thread().name],
        )
        workrows.complete(db, TABLE, delivery_id)
    return True


@huey.task(name="tests.jobs.note_start")
def note_start(label: str) -> None:
    started[label] = time.monotonic()


@huey.task(name="tests.jobs.slow_task")
def slow_task(seconds: float) -> None:
    started["slow-begun"] = time.monotonic()
    time.sleep(seconds)
    started["slow-finished"] = time.monotonic()
