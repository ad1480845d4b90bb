"""The webhook hot path: what a delivery needs before its 200, done as cheaply as it can be.

Stripe can send hundreds of events a second (a renewal run, an import, a replay from the
dashboard). Per delivery this keeps one database connection open instead of opening one,
remembers each workspace's signing secrets for a few seconds instead of reading and decrypting
them every time, and writes ``last_event_at`` every few seconds rather than per event. What it
never skips: the event row is committed before the caller answers 200.

``store_async`` never makes the event loop wait for SQLite's write lock. When nobody holds it,
the event is written right there, in one statement (insert once per id, only if the workspace is
still connected) that commits by itself: about a tenth of a millisecond, the cheapest a delivery
can be. When somebody holds it (the event processor's chunk, another writer), the event goes to
one writer thread instead, which commits everything handed over since its last commit in one
transaction, then answers every waiting request (group commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlite_utils import Database

from backstop.db import connect, write_transaction
from backstop.lib.crypto import SecretBox
from backstop.stripe_sync import connection, events
from backstop.workspaces.workspaces import get_workspace_by_slug

# Long enough to spare the lookups under load, short enough that a disconnected workspace stops
# accepting deliveries almost at once. A newly saved secret is picked up on its first mismatch.
CACHE_SECONDS = 5.0
SEEN_EVERY_SECONDS = 10.0
INBOX_CHECKPOINT_PAGES = 10_000
log = logging.getLogger("backstop.stripe_sync.inbox")

# One delivery waiting for the writer: what to store, and the future its request awaits.
_Item = tuple[int, dict, bytes, bool, asyncio.Future, asyncio.AbstractEventLoop]
_STOP = None
_BUSY = object()


class Inbox:
    def __init__(self, db_path: Path, box: SecretBox, on_stored: Callable[[], None] | None = None) -> None:
        """``on_stored`` is called after a commit that stored new events (on the event loop, or on
        the writer thread when it committed them)."""
        self.db_path = db_path
        self.box = box
        self.on_stored = on_stored
        self._lock = threading.Lock()
        self._db: Database | None = None
        self._inline_db: Database | None = None
        # Secrets and workspace lookups read on their own connection: the writer thread holds
        # _lock while it waits for SQLite's write lock, and a lookup must not wait with it.
        self._read_lock = threading.Lock()
        self._read_db: Database | None = None
        self._secrets: dict[str, tuple[float, int, list[str]]] = {}
        self._accounts: dict[tuple[str, bool], tuple[float, int]] = {}
        self._seen: dict[int, float] = {}
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None

    def _conn(self) -> Database:
        if self._db is None:
            self._db = connect(self.db_path)
            # A commit that crosses the WAL's checkpoint threshold copies the WAL into the database
            # and syncs it before returning: a quarter of a second with every delivery of the group
            # waiting. The event processor commits right after us and checkpoints at the usual
            # 1,000 pages; this connection only does so if the WAL grows ten times past that.
            self._db.execute(f"PRAGMA wal_autocheckpoint={INBOX_CHECKPOINT_PAGES}")
        return self._db

    def close(self) -> None:
        writer = self._writer
        if writer is not None:
            self._queue.put(_STOP)
            writer.join(timeout=10)
            self._writer = None
        with self._lock, self._read_lock:
            for db in (self._db, self._inline_db, self._read_db):
                if db is not None:
                    db.conn.close()
            self._db = self._inline_db = self._read_db = None

    def _reader(self) -> Database:
        if self._read_db is None:
            self._read_db = connect(self.db_path)
        return self._read_db

    def workspace(self, slug: str, *, fresh: bool = False) -> tuple[int | None, list[str], bool]:
        """(workspace id or None, its signing secrets, whether they came from the cache)."""
        now = time.monotonic()
        cached = None if fresh else self._secrets.get(slug)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2], True
        with self._read_lock:
            db = self._reader()
            found = get_workspace_by_slug(db, slug)
            secrets = connection.webhook_secrets(db, self.box, found["id"]) if found else []
        if found is None:
            self._secrets.pop(slug, None)
            return None, [], False
        if secrets:
            self._secrets[slug] = (now + CACHE_SECONDS, found["id"], secrets)
        return found["id"], secrets, False

    def workspace_for_account(self, account: str, livemode: bool) -> int | None:
        now = time.monotonic()
        cached = self._accounts.get((account, livemode))
        if cached is not None and cached[0] > now:
            return cached[1]
        with self._read_lock:
            workspace_id = connection.workspace_for_account(self._reader(), account, livemode)
        if workspace_id is not None:
            self._accounts[(account, livemode)] = (now + CACHE_SECONDS, workspace_id)
        return workspace_id

    async def store_async(
        self, workspace_id: int, event: dict, raw: bytes, *, platform: bool = False
    ) -> tuple[int, bool] | None:
        """Commit the event (once per id): at once when the write lock is free, else in the
        writer thread's next group. Return (row id, whether it was new) once it has committed, or
        None when the workspace was disconnected since its secrets were cached (nothing is
        written)."""
        outcome = self._store_inline(workspace_id, event, raw, platform)
        if outcome is not _BUSY:
            return outcome  # type: ignore[return-value]
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._start_writer()
        self._queue.put((workspace_id, event, raw, platform, future, loop))
        return await future

    def _store_inline(self, workspace_id: int, event: dict, raw: bytes, platform: bool) -> object:
        """Store the event right here when nobody is writing: one statement in SQLite's autocommit
        mode, on a connection that never waits for the write lock. _BUSY when someone is (the
        writer thread, the event processor, any other writer): the writer thread then takes it."""
        with _all_free(self._lock, events.write_turn) as free:
            if not free:
                return _BUSY
            db = self._inline_conn()
            try:
                result = events.ingest_webhook(db, workspace_id, event, _text(raw), platform=platform)
            except sqlite3.OperationalError as exc:
                if _locked(exc):
                    return _BUSY
                raise
            self._after_insert(db, workspace_id, result)
        if result is not None and result[1]:
            self._stored()
        return result

    def _inline_conn(self) -> Database:
        if self._inline_db is None:
            self._inline_db = connect(self.db_path)
            self._inline_db.execute("PRAGMA busy_timeout=0")
            self._inline_db.execute(f"PRAGMA wal_autocheckpoint={INBOX_CHECKPOINT_PAGES}")
        return self._inline_db

    def _after_insert(self, db: Database, workspace_id: int, result: tuple[int, bool] | None) -> None:
        if result is None:  # disconnected since its secrets were cached: forget them all
            self._secrets.clear()
            self._accounts.clear()
            return
        now = time.monotonic()
        if result[1] and now - self._seen.get(workspace_id, -SEEN_EVERY_SECONDS) >= SEEN_EVERY_SECONDS:
            try:
                connection.record_event_seen(db, workspace_id)
            except sqlite3.OperationalError as exc:  # locked meanwhile: the next event records it
                if not _locked(exc):
                    raise
                return
            self._seen[workspace_id] = now

    def _stored(self) -> None:
        if self.on_stored is None:
            return
        try:
            self.on_stored()
        except Exception:  # the rows are committed: the sweeper will take them
            log.warning("could not ask for the new events to be processed", exc_info=True)

    def _start_writer(self) -> None:
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write_loop, name="stripe-inbox", daemon=True)
                    self._writer.start()

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            try:
                self._commit(batch)
            except Exception:  # never let the writer die: every later delivery would wait forever
                log.exception("the webhook writer failed on a batch of %d", len(batch))
            if stop:
                return

    def _commit(self, batch: list[_Item]) -> None:
        results: list[tuple[_Item, object, bool]] = []  # (item, result or exception, failed)
        try:
            with self._lock, events.write_turn:
                db = self._conn()
                with write_transaction(db):
                    for item in batch:
                        workspace_id, event, raw, platform = item[:4]
                        try:
                            # A savepoint each: one delivery that can't be stored fails alone.
                            with write_transaction(db):
                                result = events.ingest_webhook(
                                    db, workspace_id, event, _text(raw), platform=platform
                                )
                                self._after_insert(db, workspace_id, result)
                            results.append((item, result, False))
                        except Exception as exc:
                            log.warning("could not store event %s", event.get("id"), exc_info=True)
                            results.append((item, exc, True))
        except Exception as exc:  # the commit itself failed: nothing in the batch is stored
            log.warning("could not commit %d webhook events", len(batch), exc_info=True)
            results = [(item, exc, True) for item in batch]
        # Asked before answering, so that when tasks run inline (tests, `immediate`), the 200
        # follows the processing as it did when the request thread asked.
        if any(not failed and outcome is not None and outcome[1] for _, outcome, failed in results):
            self._stored()
        for item, outcome, failed in results:
            future, loop = item[4], item[5]
            # RuntimeError: that request's event loop has closed, so nobody is waiting.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, outcome, failed)


def _settle(future: asyncio.Future, outcome: object, failed: bool) -> None:
    if future.done():  # the request went away (client disconnected, server stopping)
        return
    if failed:
        future.set_exception(outcome)  # type: ignore[arg-type]
    else:
        future.set_result(outcome)


@contextlib.contextmanager
def _all_free(*locks: threading.Lock) -> Iterator[bool]:
    """True, holding every lock, when each was free at once; else False, holding none."""
    taken: list[threading.Lock] = []
    try:
        for lock in locks:
            if not lock.acquire(blocking=False):
                yield False
                return
            taken.append(lock)
        yield True
    finally:
        for lock in reversed(taken):
            lock.release()


def _locked(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED (extended codes keep the primary code in the low byte)."""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _text(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # valid JSON in another encoding: store it re-encoded
        return None
