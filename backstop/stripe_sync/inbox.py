"""The webhook hot path: what a delivery needs before its 200, done as cheaply as it can be.

Stripe can send hundreds of events a second (a renewal run, an import, a replay from the
dashboard). Per delivery this keeps one database connection open instead of opening one,
remembers each workspace's signing secrets for a few seconds instead of reading and decrypting
them every time, and writes ``last_event_at`` every few seconds rather than per event. What it
never skips: the event row is committed before the caller answers 200.
"""

from __future__ import annotations

import threading
import time
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
# Still connected, checked in the event's transaction: a cached secret outlives a disconnect.
_CONNECTED = {
    False: "SELECT 1 FROM stripe_connections WHERE workspace_id = ? AND webhook_secret_enc IS NOT NULL",
    True: "SELECT 1 FROM stripe_connections WHERE workspace_id = ? AND method = 'oauth'",
}


class Inbox:
    def __init__(self, db_path: Path, box: SecretBox) -> None:
        self.db_path = db_path
        self.box = box
        self._lock = threading.Lock()
        self._db: Database | None = None
        self._secrets: dict[str, tuple[float, int, list[str]]] = {}
        self._accounts: dict[tuple[str, bool], tuple[float, int]] = {}
        self._seen: dict[int, float] = {}

    def _conn(self) -> Database:
        if self._db is None:
            self._db = connect(self.db_path)
        return self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.conn.close()
                self._db = None

    def workspace(self, slug: str, *, fresh: bool = False) -> tuple[int | None, list[str], bool]:
        """(workspace id or None, its signing secrets, whether they came from the cache)."""
        now = time.monotonic()
        cached = None if fresh else self._secrets.get(slug)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2], True
        with self._lock:
            db = self._conn()
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
        with self._lock:
            workspace_id = connection.workspace_for_account(self._conn(), account, livemode)
        if workspace_id is not None:
            self._accounts[(account, livemode)] = (now + CACHE_SECONDS, workspace_id)
        return workspace_id

    def store(
        self, workspace_id: int, event: dict, raw: bytes, *, platform: bool = False
    ) -> tuple[int, bool] | None:
        """Commit the event (once per id); return (row id, whether it was new), or None when the
        workspace was disconnected since its secrets were cached (nothing is written)."""
        now = time.monotonic()
        with self._lock:
            db = self._conn()
            with write_transaction(db):
                still = db.execute(_CONNECTED[platform], [workspace_id]).fetchone()
                if still is None:
                    self._secrets.clear()
                    self._accounts.clear()
                    return None
                row_id, created = events.ingest_event(db, workspace_id, event, "webhook", payload=_text(raw))
                if created and now - self._seen.get(workspace_id, -SEEN_EVERY_SECONDS) >= SEEN_EVERY_SECONDS:
                    connection.record_event_seen(db, workspace_id)
                    self._seen[workspace_id] = now
        return row_id, created


def _text(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # valid JSON in another encoding: store it re-encoded
        return None
