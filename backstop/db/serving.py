"""Whether a Backstop is serving a data folder.

While it runs, the server holds an exclusive SQLite lock on ``serving.lock`` in its data folder.
SQLite's locks work the same on Linux, macOS and Windows, and the operating system lets go of
them when the process ends, however it ends (``kill -9`` included): a lock never outlives its
server. ``backstop restore`` refuses a folder that is being served, and a second server refuses
to start on it (two job consumers on one folder would each run the same work).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from backstop.lib.filemodes import private_file

LOCK_FILE = "serving.lock"


class AlreadyServed(RuntimeError):
    """Another Backstop process serves this data folder."""


def already_served_message(data_dir: Path) -> str:
    return (
        f"Another Backstop is already running on {data_dir}. Stop it first "
        "(one Backstop per data folder; for a second one, give it its own BACKSTOP_DATA_DIR)."
    )


class ServingLock:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._conn: sqlite3.Connection | None = None

    def acquire(self) -> None:
        """Take the folder, or raise AlreadyServed at once (it never waits)."""
        path = private_file(self.data_dir / LOCK_FILE)
        conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("BEGIN EXCLUSIVE")  # held, uncommitted, until release or process exit
        except sqlite3.OperationalError:
            conn.close()
            raise AlreadyServed(already_served_message(self.data_dir)) from None
        self._conn = conn

    def release(self) -> None:
        if self._conn is not None:
            self._conn.execute("ROLLBACK")
            self._conn.close()
            self._conn = None


def is_served(data_dir: Path) -> bool:
    """Whether a running Backstop holds the data folder now."""
    path = data_dir / LOCK_FILE
    if not path.exists():
        return False
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()
