"""The periodic sweeper: finds work rows that are due (or were left behind) and enqueues them.

Domains register a table and the task that processes one row id. The task must claim the row
with ``workrows.claim`` before acting, so enqueuing a row twice is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from huey import crontab

from backstop.lib import workrows
from jobs.queue import app_db, huey

log = logging.getLogger("backstop.jobs.sweeper")


@dataclass(frozen=True)
class WorkQueue:
    table: str
    task: Callable[[int], object]  # a Huey task taking the row id


QUEUES: dict[str, WorkQueue] = {}


def register(table: str, task: Callable[[int], object]) -> None:
    QUEUES[table] = WorkQueue(table, task)


def sweep_once() -> dict[str, int]:
    """Enqueue every due row of every registered table; return how many per table."""
    enqueued: dict[str, int] = {}
    with app_db() as db:
        for queue in list(QUEUES.values()):
            if not db[queue.table].exists():
                continue
            ids = workrows.due_ids(db, queue.table)
            for row_id in ids:
                queue.task(row_id)
            if ids:
                enqueued[queue.table] = len(ids)
    if enqueued:
        log.info("sweeper enqueued %s", enqueued)
    return enqueued


@huey.periodic_task(crontab(minute="*"), name="jobs.sweep_work_rows")
def sweep_work_rows() -> dict[str, int]:
    return sweep_once()


@huey.task(name="jobs.sweep_on_start")
def sweep_on_start() -> dict[str, int]:
    return sweep_once()
