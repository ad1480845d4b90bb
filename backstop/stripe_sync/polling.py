"""Events polling (for installs Stripe can't reach) and the 72-hour reconciliation.

Both read ``GET /v1/events`` and hand every event to ``events.ingest_event``, the same path a
webhook takes, so an event seen twice is stored once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.connectors.stripe import StripeGateway, StripeNotFound
from backstop.db import one, write_transaction
from backstop.stripe_sync import backfill, events

log = logging.getLogger("backstop.stripe.polling")

RECONCILE_WINDOW = timedelta(hours=72)


def _ingest_all(db: Database, workspace_id: int, found: list[dict], source: str) -> list[int]:
    new_ids = []
    for event in sorted(found, key=lambda e: (e.get("created", 0), e["id"])):
        try:
            event = events.parse_event_object(event)
        except events.InvalidEvent:
            continue
        row_id, created = events.ingest_event(db, workspace_id, event, source)
        if created:
            new_ids.append(row_id)
    return new_ids


def poll(db: Database, workspace_id: int, gateway: StripeGateway) -> list[int]:
    """Take in events newer than the stored cursor; return the new event rows to process.

    The first poll only records where the stream is now: the backfill already copied the state
    those older events describe."""
    row = one(db, "SELECT events_cursor FROM stripe_connections WHERE workspace_id = ?", [workspace_id])
    if row is None:
        return []
    cursor = row["events_cursor"]
    now = clock.iso()
    if cursor is None:
        page = gateway.get("/v1/events", {"limit": 1})
        newest = (page.get("data") or [{}])[0].get("id")
        db.execute(
            "UPDATE stripe_connections SET events_cursor = ?, last_polled_at = ? WHERE workspace_id = ?",
            [newest or "", now, workspace_id],
        )
        return []
    found, newest, aged_out = _events_after(gateway, cursor)
    with write_transaction(db):
        new_ids = _ingest_all(db, workspace_id, found, "poll")
        db.execute(
            "UPDATE stripe_connections SET events_cursor = ?, last_polled_at = ? WHERE workspace_id = ?",
            [newest or cursor, now, workspace_id],
        )
        if aged_out:
            # Off for longer than the events can tell: copy the account afresh instead.
            backfill.start(db, workspace_id)
    return new_ids


def _events_after(gateway: StripeGateway, cursor: str) -> tuple[list[dict], str | None, bool]:
    """Every event newer than ``cursor``, the id of the newest one, and whether the cursor was
    too old for Stripe to know.

    An empty cursor means the account had no events at the first look, so all it has now is new.
    A cursor Stripe no longer knows (older than its 30-day window: the install was off for a
    month) gets the last 72 hours, like the reconciliation, and a fresh backfill for the rest:
    handlers shouldn't act on a month of old news."""
    params: dict = {}
    aged_out = False
    if cursor:
        try:
            return (*_walk_forward(gateway, cursor), False)
        except StripeNotFound:
            log.warning("the events cursor %s is older than Stripe keeps; syncing the account again", cursor)
            params = {"created": {"gte": int((clock.now() - RECONCILE_WINDOW).timestamp())}}
            aged_out = True
    found = [event for page, _ in gateway.list_pages("/v1/events", params) for event in page]
    return found, (found[0]["id"] if found else None), aged_out


def _walk_forward(gateway: StripeGateway, cursor: str) -> tuple[list[dict], str | None]:
    found: list[dict] = []
    newest = None
    before = cursor
    while True:
        page = gateway.get("/v1/events", {"limit": 100, "ending_before": before})
        data = page.get("data") or []
        if not data:
            break
        found.extend(data)
        newest = before = data[0]["id"]  # the newest of this page: ask for what came after it
        if not page.get("has_more"):
            break
    return found, newest


def reconcile(db: Database, workspace_id: int, gateway: StripeGateway) -> list[int]:
    """Read every event of the last 72 hours and take in any a webhook missed."""
    since = int((clock.now() - RECONCILE_WINDOW).timestamp())
    new_ids: list[int] = []
    for page, _ in gateway.list_pages("/v1/events", {"created": {"gte": since}}):
        with write_transaction(db):
            new_ids += _ingest_all(db, workspace_id, page, "reconcile")
    return new_ids
