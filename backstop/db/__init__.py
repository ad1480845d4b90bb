"""Opening the application database: WAL, foreign keys, a busy timeout, migrations on start, and
the one way to write.

Every transaction that writes goes through ``write_transaction``. A plain ``BEGIN`` is deferred:
the transaction starts as a reader, and its first write must turn it into the writer. If another
connection committed in between, SQLite cannot do that on the old snapshot and fails at once with
SQLITE_BUSY: the busy timeout is not consulted. ``BEGIN IMMEDIATE`` takes the write lock up
front, so it waits its turn instead.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

BUSY_TIMEOUT_MS = 5000
log = logging.getLogger("backstop.db")


def connect(path: Path | str) -> Database:
    # Autocommit at the driver level: every transaction is an explicit write_transaction() block,
    # so no statement leaves a transaction open by accident.
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA synchronous=NORMAL")
    return Database(conn)


@contextmanager
def opened(path: Path | str) -> Iterator[Database]:
    db = connect(path)
    try:
        yield db
    finally:
        db.conn.close()


def migrate(path: Path | str) -> list[str]:
    """Apply pending migrations; return the names applied."""
    from backstop.db.migrations import migrations

    with opened(path) as db:
        pending = [m.name for m in migrations.pending(db)]
        migrations.apply(db)
        return pending


def one(db: Database, sql: str, params: tuple | list | dict = ()) -> dict | None:
    row = db.execute(sql, params).fetchone()
    return dict(row) if row is not None else None


def all_rows(db: Database, sql: str, params: tuple | list | dict = ()) -> list[dict]:
    return [dict(r) for r in db.execute(sql, params).fetchall()]


@contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """All-or-nothing writes that wait for the write lock instead of failing under load.

    Callbacks registered with ``after_commit`` inside it run once the outermost block commits
    (and are dropped if it rolls back)."""
    pending: list[Callable[[], None]] | None = getattr(db, "_after_commit", None)
    if db.conn.in_transaction:  # already inside one: a savepoint keeps it all-or-nothing
        mark = len(pending) if pending is not None else 0
        try:
            with db.atomic():
                yield db
        except BaseException:
            if pending is not None:
                del pending[mark:]
            raise
        return
    callbacks: list[Callable[[], None]] = []
    db._after_commit = callbacks  # type: ignore[attr-defined]
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise
    finally:
        db._after_commit = None  # type: ignore[attr-defined]
    for callback in callbacks:
        try:
            callback()
        except Exception:  # the change is committed; what runs after it must not undo the answer
            log.exception("an after-commit callback failed")


def after_commit(db: Database, callback: Callable[[], None]) -> bool:
    """Run ``callback`` once the enclosing ``write_transaction`` commits; at once when no
    transaction is open. Returns False when it cannot be promised (a transaction opened some
    other way): the caller then relies on its periodic safety net."""
    pending = getattr(db, "_after_commit", None)
    if pending is not None:
        pending.append(callback)
        return True
    if not db.conn.in_transaction:
        callback()
        return True
    return False
