"""Jobs fixtures: a real work-row table, and the queue pointed at a jobs.db in the test's data dir."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from huey import Huey
from sqlite_utils import Database

from backstop.lib import workrows
from backstop.settings import Settings
from jobs import queue, sweeper

TABLE = "test_deliveries"


@pytest.fixture
def work_db(db: Database) -> Database:
    """A table shaped the way workrows documents, plus a log of the effects the test task has."""
    db.executescript(
        f"""
        CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, recipient TEXT NOT NULL, {workrows.COLUMNS_SQL});
        CREATE INDEX {TABLE}_due ON {TABLE}(work_state, due_at);
        CREATE TABLE test_effects (id INTEGER PRIMARY KEY, delivery_id INTEGER NOT NULL, thread TEXT);
        """
    )
    return db


@pytest.fixture
def jobs_on_disk(settings: Settings, db: Database) -> Iterator[Huey]:
    """The queue as `backstop serve` has it: tasks stored in jobs.db, run by a consumer."""
    from tests.jobs import tasks

    tasks.started.clear()
    queue.configure(settings)
    queue.huey.flush()
    yield queue.huey
    queue.huey.flush()
    queue.configure(settings, immediate=True)


@pytest.fixture
def jobs_inline(settings: Settings, db: Database) -> Iterator[Huey]:
    queue.configure(settings, immediate=True)
    yield queue.huey


@pytest.fixture
def registered(work_db: Database) -> Iterator[str]:
    """The test table registered with the sweeper, and only for this test."""
    from tests.jobs.tasks import deliver

    sweeper.register(TABLE, deliver)
    yield TABLE
    sweeper.QUEUES.pop(TABLE, None)
