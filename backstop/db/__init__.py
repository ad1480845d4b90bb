"""Opening the application database: WAL, foreign keys, a busy timeout, migrations on start, and
the one way to write.

Every transaction that writes goes through ``write_transaction``. A plain ``BEGIN`` is deferred:
the transaction starts as a reader, and its first write must turn it into the writer. If another
connection committed in between, SQLite cannot do that on the old snapshot and fails at once with
SQLITE_BUSY: the busy timeout is not consulted. ``BEGIN IMMEDIATE`` takes the write lock up
front, so it waits its turn instead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

BUSY_TIMEOUT_MS = 5000


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
    from backstop.lib.filemodes import private_file

    private_file(Path(path))  # created 0600 before SQLite makes it (and its -wal/-shm) 0644

    with opened(path) as db:
        pending = [m.name for m in migrations.pending(db)]
        migrations.apply(db)
        return pending


def newest_first(
    db: Database,
    table: str,
    where: str,
    params: list,
    *,
    before_id: int | None,
    limit: int,
    columns: str = "*",
) -> list[dict]:
    """Rows of ``table`` matching ``where``, newest (highest id) first, below ``before_id``.
    ``table``, ``where`` and ``columns`` are code constants, never user input."""
    sql = f"SELECT {columns} FROM {table} WHERE ({where})"  # noqa: S608 - constants only
    args = list(params)
    if before_id is not None:
        sql += " AND id < ?"
        args.append(before_id)
    sql += " ORDER BY id DESC LIMIT ?"
    args.append(limit)
    return [dict(r) for r in db.execute(sql, args).fetchall()]


def ping(db: Database) -> None:
    """Raise unless the database answers a query on a migrated schema."""
    db.execute("SELECT COUNT(*) FROM _sqlite_migrations").fetchone()


def one(db: Database, sql: str, params: tuple | list | dict = ()) -> dict | None:
    row = db.execute(sql, params).fetchone()
    return dict(row) if row is not None else None


def all_rows(db: Database, sql: str, params: tuple | list | dict = ()) -> list[dict]:
    return [dict(r) for r in db.execute(sql, params).fetchall()]


@contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """All-or-nothing writes that wait for the write lock instead of failing under load."""
    if db.conn.in_transaction:  # already inside one: a savepoint keeps it all-or-nothing
        pending = _AFTER_COMMIT.get(id(db.conn), [])
        mark = len(pending)
        try:
            with db.atomic():
                yield db
        except BaseException:
            del pending[mark:]  # what the rolled-back savepoint asked for goes with it
            raise
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        _AFTER_COMMIT.pop(id(db.conn), None)
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    try:
        db.execute("COMMIT")
    except BaseException:
        _AFTER_COMMIT.pop(id(db.conn), None)
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    for callback in _AFTER_COMMIT.pop(id(db.conn), []):
        callback()


# Callbacks waiting for the open transaction of a connection (by id) to commit.
_AFTER_COMMIT: dict[int, list[Callable[[], None]]] = {}


def after_commit(db: Database, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the current write transaction commits (now, if none is open); it is
    dropped if the transaction rolls back. For telling a worker about a row it can now see."""
    if db.conn.in_transaction:
        _AFTER_COMMIT.setdefault(id(db.conn), []).append(callback)
    else:
        callback()
