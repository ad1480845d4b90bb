"""Opening the application database: WAL, foreign keys, a busy timeout, migrations on start."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

BUSY_TIMEOUT_MS = 5000


def connect(path: Path | str) -> Database:
    # Autocommit at the driver level: every transaction is an explicit db.atomic() block, so no
    # statement leaves a transaction open by accident.
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
