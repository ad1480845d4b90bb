"""Work rows: the durable half of every background job.

A table that holds work carries these columns::

    work_state TEXT NOT NULL DEFAULT 'pending'   -- pending | working | done | failed
    due_at TEXT NOT NULL                          -- when it may run (UTC ISO)
    claimed_until TEXT                            -- lease end while working
    attempts INTEGER NOT NULL DEFAULT 0
    last_error TEXT

and an index on ``(work_state, due_at)``. A job claims a row with one conditional UPDATE, so two
workers (or a task and its re-enqueued twin) never both run it; a lease that runs out (the process
died mid-task) makes the row claimable again. The sweeper asks only for rows that are due, so its
cost follows the work that is due, not the size of the table.

A job that fails in a way it did not plan for (a bug, a database that stayed busy) gives its row
back at once with ``release_failed``: due again after a short growing pause (5 s, 10 s, 20 s …
capped at 5 minutes), with the error recorded in ``last_error``. The lease is only for a process
that died mid-task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.db import after_commit

log = logging.getLogger("backstop.jobs")

FAILURE_BASE = timedelta(seconds=5)
FAILURE_CAP = timedelta(minutes=5)

COLUMNS_SQL = (
    "work_state TEXT NOT NULL DEFAULT 'pending', due_at TEXT NOT NULL, claimed_until TEXT, "
    "attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT"
)


def claim(db: Database, table: str, row_id: int, lease: timedelta = timedelta(minutes=5)) -> bool:
    now = clock.iso()
    cur = db.execute(
        f"UPDATE {table} SET work_state = 'working', claimed_until = ?, attempts = attempts + 1 "  # noqa: S608
        "WHERE id = ? AND ((work_state = 'pending' AND due_at <= ?) "
        "OR (work_state = 'working' AND claimed_until < ?))",
        [clock.iso(clock.now() + lease), row_id, now, now],
    )
    return cur.rowcount == 1


def complete(db: Database, table: str, row_id: int) -> None:
    db.execute(
        f"UPDATE {table} SET work_state = 'done', claimed_until = NULL, last_error = NULL "  # noqa: S608
        "WHERE id = ?",
        [row_id],
    )


def retry_later(db: Database, table: str, row_id: int, due_at: datetime, error: str) -> None:
    db.execute(
        f"UPDATE {table} SET work_state = 'pending', claimed_until = NULL, due_at = ?, "  # noqa: S608
        "last_error = ? WHERE id = ?",
        [clock.iso(due_at), error[:2000], row_id],
    )


def fail(db: Database, table: str, row_id: int, error: str) -> None:
    db.execute(
        f"UPDATE {table} SET work_state = 'failed', claimed_until = NULL, last_error = ? "  # noqa: S608
        "WHERE id = ?",
        [error[:2000], row_id],
    )


def due_ids(db: Database, table: str, limit: int = 500) -> list[int]:
    """Rows ready to run: pending and due, or working with a lease that ran out."""
    now = clock.iso()
    rows = db.execute(
        f"SELECT id FROM {table} WHERE work_state = 'pending' AND due_at <= ? "  # noqa: S608
        f"UNION ALL SELECT id FROM {table} WHERE work_state = 'working' AND claimed_until < ? "
        "LIMIT ?",
        [now, now, limit],
    ).fetchall()
    return [r[0] for r in rows]


def backoff(
    attempts: int, base: timedelta = timedelta(seconds=30), cap: timedelta = timedelta(hours=6)
) -> datetime:
    """When to try again after ``attempts`` failures: doubling from ``base``, capped."""
    # Doubling in float seconds: a timedelta overflows after about 43 doublings of 30 s, and a
    # row that keeps failing must still get a next try, not an error.
    seconds = min(cap.total_seconds(), base.total_seconds() * 2.0 ** min(max(0, attempts - 1), 1000))
    return clock.now() + timedelta(seconds=seconds)


def describe(error: BaseException | str) -> str:
    if isinstance(error, BaseException):
        return f"{error.__class__.__name__}: {error}"[:2000]
    return error[:2000]


def release_failed(db: Database, table: str, row_id: int, error: BaseException | str) -> datetime | None:
    """Give a claimed row back after an unplanned failure: due again after 5 s, 10 s, 20 s … (by
    attempts, capped at ``FAILURE_CAP``), with why in ``last_error``. Returns when it is due
    again, or None if the row could not be released (the lease then frees it)."""
    log.warning("%s row %s failed: %s", table, row_id, describe(error), exc_info=isinstance(error, Exception))
    try:
        if db.conn.in_transaction:  # a failed statement may leave one open: its writes are void
            db.execute("ROLLBACK")
        row = db.execute(f"SELECT attempts FROM {table} WHERE id = ?", [row_id]).fetchone()  # noqa: S608
        due = backoff(row[0] if row else 1, base=FAILURE_BASE, cap=FAILURE_CAP)
        db.execute(
            f"UPDATE {table} SET work_state = 'pending', claimed_until = NULL, due_at = ?, "  # noqa: S608
            "last_error = ? WHERE id = ? AND work_state = 'working'",
            [clock.iso(due), describe(error), row_id],
        )
        return due
    except Exception:  # the database itself is failing: the lease will free the row
        log.exception("could not release %s row %s", table, row_id)
        return None


# Who runs a row as soon as it is committed (the jobs consumer, while it runs); without one, rows
# wait for the periodic sweeper.
_ready_listener: Callable[[str, int], None] | None = None


def on_ready(listener: Callable[[str, int], None] | None) -> None:
    global _ready_listener
    _ready_listener = listener


def ready_after_commit(db: Database, table: str, row_id: int) -> None:
    """Ask for ``row_id`` to run as soon as its transaction commits, not at the next sweep."""
    if _ready_listener is None:
        return

    def notify() -> None:
        listener = _ready_listener
        if listener is None:
            return
        try:
            listener(table, row_id)
        except Exception:  # the row is committed: the sweeper takes it if this fails
            log.exception("could not enqueue %s row %s", table, row_id)

    after_commit(db, notify)
