"""Taking in Stripe events exactly once, and processing each one until it has worked.

Every way an event arrives — webhook, polling, the 72-hour reconciliation, a replay — goes
through ``ingest_event``: insert-or-ignore by event id, so duplicates are no-ops. Processing is a
work row (see backstop.lib.workrows): a handler's failure rolls its writes back, is recorded on
the event row, and the event is tried again later with backoff; it is never marked done on
receipt.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import msgspec
from sqlite_utils import Database

from backstop import clock
from backstop.db import one, write_transaction
from backstop.lib import workrows
from backstop.settings import Settings

log = logging.getLogger("backstop.stripe.events")

TABLE = "stripe_events"

# Taken by the two in-process writers of stripe_events (the webhook inbox's group commit and the
# processor's chunks) around their transactions. Waiting on it wakes the next writer the moment
# the other commits; waiting on SQLite's busy handler instead sleeps 1, 2, 5 … 100 ms between
# tries, which under a burst left every delivery waiting a quarter of a second now and then.
write_turn = threading.Lock()
MAX_ATTEMPTS = 12  # with doubling backoff from 30 s (capped at 6 h): about two and a half days


@dataclass(frozen=True)
class EventContext:
    """What a handler gets: the event, the db (inside the event's transaction), and a way to
    fetch an object's current state from Stripe when the payload can't be trusted."""

    db: Database
    workspace_id: int
    event: dict
    fetch: Callable[..., dict]
    settings: Settings | None = None  # for handlers that queue email (links need the base URL)

    @property
    def object(self) -> dict:
        return self.event["data"]["object"]

    @property
    def version(self) -> int:
        return int(self.event.get("created") or 0)


Handler = Callable[[EventContext], None]
HANDLERS: dict[str, list[Handler]] = {}
MIRROR_STAGE = 0  # the mirror's upserts run before anything that reads the mirror
DEFAULT_STAGE = 10
_stages: dict[Handler, int] = {}
_loaded = False


def handlers_loaded() -> None:
    """Called by ``backstop.manifest.load()`` once every listed handler module is imported."""
    global _loaded
    _loaded = True


def on(*event_types: str, stage: int = DEFAULT_STAGE) -> Callable[[Handler], Handler]:
    """Register a handler for event types. Several capabilities may handle the same type; they
    run in order of ``stage`` (then registration), all in the event's one transaction."""

    def register(handler: Handler) -> Handler:
        _stages[handler] = stage
        for event_type in event_types:
            handlers = HANDLERS.setdefault(event_type, [])
            if handler not in handlers:
                handlers.append(handler)
                handlers.sort(key=lambda h: _stages[h])
        return handler

    return register


class InvalidEvent(ValueError):
    pass


# msgspec reads Stripe's UTF-8 JSON in less than half the time of the json module; a body it
# refuses gets a second reading by json, which also accepts UTF-16 and UTF-32.
_decode = msgspec.json.Decoder().decode


def parse_event(payload: bytes | str) -> dict:
    try:
        try:
            event = _decode(payload)
        except msgspec.DecodeError:
            event = json.loads(payload)
    except RecursionError as exc:
        raise InvalidEvent("The body is nested too deeply to be a Stripe event.") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent("The body is not JSON.") from exc
    return parse_event_object(event)


# Stripe ids are short runs of letters, digits and underscores ("evt_1Q…", "acct_1P…").
_EVENT_ID = re.compile(r"evt_[A-Za-z0-9_]{1,250}")
_ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{1,250}")
_TYPE = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+){1,6}")
_OBJECT_ID_MAX = 255
# Seconds since 1970 until the year 9999: anything outside is not a time Stripe wrote.
_CREATED_MAX = 253_402_300_799


def parse_event_object(event: object) -> dict:
    """Check that a decoded body (or an item of GET /v1/events) is a usable Stripe event: every
    field Backstop stores or routes by has the type and shape Stripe gives it. A body that fails
    is refused with the reason and never stored."""
    if not isinstance(event, dict) or event.get("object") != "event":
        raise InvalidEvent("The body is not a Stripe event object.")
    if not isinstance(event.get("id"), str) or not _EVENT_ID.fullmatch(event["id"]):
        raise InvalidEvent("The event has no evt_ id.")
    if not isinstance(event.get("type"), str) or not _TYPE.fullmatch(event["type"]):
        raise InvalidEvent("The event has no type, or its type isn't a Stripe event type.")
    created = event.get("created")
    if not isinstance(created, int) or isinstance(created, bool) or not 0 < created <= _CREATED_MAX:
        raise InvalidEvent("The event's created time is missing or not a Unix time.")
    if "livemode" in event and not isinstance(event["livemode"], bool):
        raise InvalidEvent("The event's livemode is not true or false.")
    account = event.get("account")
    if account is not None and (not isinstance(account, str) or not _ACCOUNT_ID.fullmatch(account)):
        raise InvalidEvent("The event's account is not an acct_ id.")
    data = event.get("data")
    if not isinstance(data, dict):
        raise InvalidEvent("The event's data is not an object.")
    obj = data.get("object")
    if not isinstance(obj, dict):
        raise InvalidEvent("The event has no data.object.")
    object_id = obj.get("id")
    if object_id is not None and (
        not isinstance(object_id, str) or not object_id or len(object_id) > _OBJECT_ID_MAX
    ):
        raise InvalidEvent("The event's data.object.id is not a string id.")
    return event


_INSERT = (
    "INSERT OR IGNORE INTO stripe_events (workspace_id, event_id, type, object_id, created, livemode, "
    "payload, source, received_at, due_at) "
)


def _values(workspace_id: int, event: dict, source: str, payload: str | None) -> list:
    if payload is None:
        payload = json.dumps(event, separators=(",", ":"))
    now = clock.iso()
    return [
        workspace_id,
        event["id"],
        event["type"],
        event["data"]["object"].get("id"),
        event["created"],
        int(bool(event.get("livemode"))),
        payload,
        source,
        now,
        now,
    ]


def _existing_id(db: Database, workspace_id: int, event_id: str) -> int:
    row = one(
        db, "SELECT id FROM stripe_events WHERE workspace_id = ? AND event_id = ?", [workspace_id, event_id]
    )
    if row is None:  # ignored as a duplicate, yet gone: deleted in between; let the sender retry
        raise RuntimeError(f"event {event_id} was neither stored nor found")
    return row["id"]


def ingest_event(
    db: Database, workspace_id: int, event: dict, source: str, *, payload: str | None = None
) -> tuple[int, bool]:
    """Store the event once; return (row id, whether it was new). ``payload`` is the event's
    JSON as received (a webhook's verified body), kept as is; otherwise the event is encoded."""
    cur = db.execute(
        _INSERT + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _values(workspace_id, event, source, payload)
    )
    if cur.rowcount == 1:
        return cur.lastrowid, True
    return _existing_id(db, workspace_id, event["id"]), False


# A webhook's workspace must still be connected when its event is written: the web server keeps
# signing secrets for a few seconds, and a secret can outlive a disconnect by that long.
_CONNECTED = {
    False: "SELECT 1 FROM stripe_connections WHERE workspace_id = ? AND webhook_secret_enc IS NOT NULL",
    True: "SELECT 1 FROM stripe_connections WHERE workspace_id = ? AND method = 'oauth'",
}


def ingest_webhook(
    db: Database, workspace_id: int, event: dict, payload: str | None, *, platform: bool = False
) -> tuple[int, bool] | None:
    """``ingest_event`` for a verified delivery, in one statement that also checks the workspace
    is still connected (by signing secret, or by Connect for the platform endpoint). Returns
    None, writing nothing, when it is not. Needs no transaction of its own."""
    cur = db.execute(
        _INSERT + f"SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS ({_CONNECTED[platform]})",
        [*_values(workspace_id, event, "webhook", payload), workspace_id],
    )
    if cur.rowcount == 1:
        return cur.lastrowid, True
    if db.execute(_CONNECTED[platform], [workspace_id]).fetchone() is None:
        return None
    return _existing_id(db, workspace_id, event["id"]), False


def replay(db: Database, workspace_id: int, since: int | None = None) -> list[int]:
    """Put stored events (optionally from ``since``) back through processing, oldest first."""
    where = "workspace_id = ?" + (" AND created >= ?" if since is not None else "")
    params: list = [workspace_id] + ([since] if since is not None else [])
    ids = [
        r[0]
        for r in db.execute(
            f"SELECT id FROM stripe_events WHERE {where} ORDER BY created, id",  # noqa: S608
            params,
        ).fetchall()
    ]
    if ids:
        db.execute(
            f"UPDATE stripe_events SET work_state = 'pending', due_at = ?, claimed_until = NULL, "  # noqa: S608
            f"attempts = 0, outcome = NULL, last_error = NULL WHERE {where}",
            [clock.iso(), *params],
        )
    return ids


def process_event(
    db: Database,
    row_id: int,
    fetch_for: Callable[[int], Callable[..., dict]],
    settings: Settings | None = None,
) -> str | None:
    """Run the handlers of one stored event. Returns the outcome, or None if another worker
    holds it. ``fetch_for(workspace_id)`` gives a function that reads an object from Stripe."""
    if not _loaded:
        # Without the manifest an event whose handler module wasn't imported would be marked
        # "ignored" for good: refuse, leaving the row for a process that loaded it.
        raise RuntimeError("event handlers are not loaded: call backstop.manifest.load() first")
    if not workrows.claim(db, TABLE, row_id, lease=timedelta(minutes=2)):
        return None
    try:
        return _process_claimed(db, row_id, fetch_for, settings)
    except Exception as exc:  # unplanned (the handlers' own errors are handled below)
        workrows.release_failed(db, TABLE, row_id, exc)
        return "retrying"


def _process_claimed(
    db: Database, row_id: int, fetch_for: Callable[[int], Callable[..., dict]], settings: Settings | None
) -> str:
    row = one(db, "SELECT workspace_id, type, payload, attempts FROM stripe_events WHERE id = ?", [row_id])
    event = json.loads(row["payload"])
    handlers = HANDLERS.get(row["type"], [])
    if not handlers:
        _finish(db, row_id, "ignored")
        return "ignored"
    ctx = EventContext(db, row["workspace_id"], event, fetch_for(row["workspace_id"]), settings)
    try:
        with write_transaction(db):
            for handler in handlers:
                handler(ctx)
            _finish(db, row_id, "processed")
        return "processed"
    except Exception as exc:
        # The handler's writes were rolled back; the error is recorded outside that transaction.
        log.warning("event %s (%s) failed: %s", event["id"], row["type"], exc, exc_info=True)
        error = f"{exc.__class__.__name__}: {exc}"
        if row["attempts"] >= MAX_ATTEMPTS:
            workrows.fail(db, TABLE, row_id, error)
            db.execute("UPDATE stripe_events SET outcome = 'failed' WHERE id = ?", [row_id])
            return "failed"
        workrows.retry_later(db, TABLE, row_id, workrows.backoff(row["attempts"]), error)
        return "retrying"


def _finish(db: Database, row_id: int, outcome: str) -> None:
    workrows.complete(db, TABLE, row_id)
    db.execute(
        "UPDATE stripe_events SET outcome = ?, processed_at = ? WHERE id = ?", [outcome, clock.iso(), row_id]
    )
