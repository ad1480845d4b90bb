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
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlite_utils import Database

from backstop import clock

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
