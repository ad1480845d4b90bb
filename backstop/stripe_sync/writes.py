"""Write transactions that wait their turn instead of failing with "database is locked".

A plain ``BEGIN`` is deferred: the transaction starts as a reader, and its first write must turn
it into the writer. If another connection committed in between, SQLite cannot do that on the old
snapshot and fails at once with SQLITE_BUSY: the busy timeout is not consulted. Event handlers
and backfill pages read the mirror before they write it, while webhooks keep committing events,
so they take the write lock up front with ``BEGIN IMMEDIATE``, which does wait.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlite_utils import Database


@contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    if db.conn.in_transaction:  # already inside one: a savepoint keeps it all-or-nothing
        with db.atomic():
            yield db
        return
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
