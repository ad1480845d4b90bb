"""The periodic sweeper: finds work rows that are due (or were left behind) and enqueues them.

The tables and the task that processes one row id are listed in ``backstop.manifest``, whose
``load()`` registers them here. The task must claim the row with ``workrows.claim`` before
acting, so enqueuing a row twice is harmless.
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
    """Called by ``backstop.manifest.load()`` only: list a new work table there."""
    QUEUES[table] = WorkQueue(table, task)


def enqueue_ready(table: str, row_id: int) -> None:
    """A row was just committed: run it now rather than at the next sweep."""
    queue = QUEUES.get(table)
    if queue is not None:
        queue.task(row_id)


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
