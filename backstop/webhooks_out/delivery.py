"""Sending one delivery: claim the row, sign the stored body, POST it through the SSRF guard,
record the attempt, and decide what comes next (done, retry later, give up, disable the endpoint).

A delivery is a work row per (event, endpoint). The claim is a compare-and-set UPDATE with a
lease a little longer than the request's timeout, so a process killed mid-request leaves a row
that becomes claimable again: the receiver may then get the event twice (receivers dedupe by
event id), never zero times.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.connectors import http
from backstop.db import all_rows, one, write_transaction
from backstop.lib import workrows
from backstop.lib.crypto import SecretBox
from backstop.settings import Settings
from backstop.webhooks_out import endpoints as endpoint_store
from backstop.webhooks_out import policy, signing
from backstop.webhooks_out.events import TABLE, enqueue_delivery

log = logging.getLogger("backstop.webhooks_out")

LEASE = timedelta(seconds=30)  # the 10 s timeout plus room; a dead worker's row returns after it
RETRIED = ("event", "replay")  # "test" and "redeliver" are one attempt the admin watches


@dataclass
class Sender:
    """What a delivery needs from outside: the secret box, the guard's settings and a resolver."""

    box: SecretBox
    allow_private: bool = False
    resolver: http.Resolver | None = None
    timeout: float = http.DEFAULT_TIMEOUT
    rand: random.Random | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Sender:
        resolver = endpoint_store.resolver_for(settings)
        return cls(SecretBox(settings.secret_key or ""), settings.webhooks_allow_private, resolver)


def _load(db: Database, delivery_id: int) -> dict | None:
    return one(
        db,
        "SELECT d.*, e.public_id AS event_public_id, e.body, e.type AS event_type "
        "FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id WHERE d.id = ?",
        [delivery_id],
    )


def deliver(db: Database, settings: Settings, delivery_id: int, sender: Sender | None = None) -> str:
    """Make one attempt at a due delivery; returns what happened (for logs and tests)."""
    sender = sender or Sender.from_settings(settings)
    if not workrows.claim(db, TABLE, delivery_id, lease=LEASE):
        return "not_due"
    row = _load(db, delivery_id)
    if row is None:
        return "gone"
    endpoint = endpoint_store.get_by_row_id(db, row["endpoint_id"])
    if endpoint is None:
        return "gone"
    if not endpoint.enabled and row["reason"] in RETRIED:
        with write_transaction(db):
            db.execute("UPDATE webhook_deliveries SET status = 'canceled' WHERE id = ?", [delivery_id])
            workrows.fail(db, TABLE, delivery_id, "The endpoint is disabled.")
        return "canceled"
    body = row["body"].encode()
    headers = signing.headers_for(
        endpoint_store.signing_secrets(db, sender.box, endpoint.id),
        row["event_public_id"],
        int(clock.now_ts()),
        body,
    )
    attempted_at = clock.iso()
    status: int | None = None
    excerpt: bytes = b""
    error: str | None = None
    latency: int | None = None
    try:
        answer = http.post(
            endpoint.url,
            body,
            headers,
            allow_private=sender.allow_private,
            resolver=sender.resolver,
            timeout=sender.timeout,
        )
        status, excerpt, latency = answer.status, answer.excerpt, answer.elapsed_ms
        if 300 <= status < 400:
            error = f"The endpoint answered HTTP {status} (a redirect, which is never followed)."
        elif not 200 <= status < 300:
            error = f"The endpoint answered HTTP {status}."
    except (http.Refused, http.SendFailed) as exc:
        error = str(exc)
    return _record(
        db, settings, row, endpoint, attempted_at, headers, status, excerpt, error, latency, sender
    )


def _record(
    db, settings, row, endpoint, attempted_at, headers, status, excerpt, error, latency, sender
) -> str:
    now = clock.now()
    with write_transaction(db):
        db.execute(
            "INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt, attempted_at, request_headers, "
            "request_body, response_status, response_excerpt, error, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                row["id"], endpoint.id, row["attempts"], attempted_at, json.dumps(headers),
                row["body"], status, excerpt.decode("utf-8", "replace") if excerpt else None, error, latency,
            ],
        )  # fmt: skip
        if error is None:
            db.execute(
                "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = ? WHERE id = ?",
                [clock.iso(now), row["id"]],
            )
            workrows.complete(db, TABLE, row["id"])
            db.execute("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?", [endpoint.id])
            return "delivered"
        db.execute(
            "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?) WHERE id = ?",
            [attempted_at, endpoint.id],
        )
        first = one(
            db, "SELECT MIN(attempted_at) AS at FROM webhook_attempts WHERE delivery_id = ?", [row["id"]]
        )
        retry_at = (
            policy.next_attempt_at(clock.parse(first["at"]), now, row["attempts"], sender.rand)
            if row["reason"] in RETRIED
            else None
        )
        if retry_at is not None:
            workrows.retry_later(db, TABLE, row["id"], retry_at, error)
            outcome = "retry"
        else:
            db.execute("UPDATE webhook_deliveries SET status = 'failed' WHERE id = ?", [row["id"]])
            workrows.fail(db, TABLE, row["id"], error)
            outcome = "failed"
        fresh = one(db, "SELECT enabled, failing_since FROM webhook_endpoints WHERE id = ?", [endpoint.id])
        if fresh["enabled"] and policy.should_disable(clock.parse(fresh["failing_since"]), now):
            disable_for_failures(db, settings, endpoint)
            outcome = "disabled"
    return outcome


def disable_for_failures(db: Database, settings: Settings, endpoint: endpoint_store.Endpoint) -> None:
    """Stop sending to an endpoint that failed for 5 days and tell the workspace's owners."""
    from backstop.email.messages import queue_email
    from backstop.workspaces.workspaces import owner_emails

    reason = "Every delivery failed for 5 days."
    db.execute(
        "UPDATE webhook_endpoints SET enabled = 0, disabled_at = ?, disabled_reason = ?, updated_at = ? "
        "WHERE id = ?",
        [clock.iso(), reason, clock.iso(), endpoint.id],
    )
    last = one(
        db,
        "SELECT error FROM webhook_attempts WHERE endpoint_id = ? ORDER BY id DESC LIMIT 1",
        [endpoint.id],
    )
    slug = one(db, "SELECT slug FROM workspaces WHERE id = ?", [endpoint.workspace_id])["slug"]
    for email in owner_emails(db, endpoint.workspace_id):
        queue_email(
            db,
            settings,
            workspace_id=endpoint.workspace_id,
            kind="webhook_disabled",
            to_email=email,
            context={
                "endpoint_url": endpoint.url,
                "last_error": (last or {}).get("error") or "The endpoint did not accept the deliveries.",
                "settings_url": f"{settings.public_url}/w/{slug}/settings/webhooks/{endpoint.public_id}",
            },
            dedupe_key=f"webhook_disabled:{endpoint.public_id}:{clock.iso()}",
        )
    log.warning("webhook endpoint %s disabled after 5 days of failures", endpoint.public_id)


# -- admin actions ---------------------------------------------------------------------------------


def send_test(db: Database, workspace_id: int, endpoint_public_id: str) -> str | None:
    """Record a ``ping`` event and one delivery of it to the endpoint; returns the event id."""
    from backstop.webhooks_out.events import PING, record_event

    endpoint = endpoint_store.get_endpoint(db, workspace_id, endpoint_public_id)
    if endpoint is None:
        return None
    with write_transaction(db):
        event_id = record_event(
            db, workspace_id, PING, {"endpoint_id": endpoint.public_id, "url": endpoint.url}
        )
        event_row = one(db, "SELECT id FROM webhook_events WHERE public_id = ?", [event_id])["id"]
        enqueue_delivery(db, workspace_id, event_row, endpoint.id, "test")
    return event_id


def redeliver(db: Database, workspace_id: int, endpoint_public_id: str, delivery_id: int) -> int | None:
    """A new delivery of the same event (same id, same body) to the same endpoint."""
    endpoint = endpoint_store.get_endpoint(db, workspace_id, endpoint_public_id)
    if endpoint is None:
        return None
    with write_transaction(db):
        row = one(
            db,
            "SELECT event_id FROM webhook_deliveries WHERE id = ? AND endpoint_id = ? AND workspace_id = ?",
            [delivery_id, endpoint.id, workspace_id],
        )
        if row is None:
            return None
        new_id = enqueue_delivery(db, workspace_id, row["event_id"], endpoint.id, "redeliver")
    return new_id


def replay(
    db: Database, workspace_id: int, endpoint_public_id: str, since: str, until: str | None = None
) -> list[int] | None:
    """Queue every logged event of the period to one endpoint (whatever it subscribes to now is
    not consulted: a replay sends what the log holds). Returns the new delivery ids."""
    from backstop.webhooks_out.events import events_between

    endpoint = endpoint_store.get_endpoint(db, workspace_id, endpoint_public_id)
    if endpoint is None:
        return None
    with write_transaction(db):
        ids = [
            enqueue_delivery(db, workspace_id, e["id"], endpoint.id, "replay")
            for e in events_between(db, workspace_id, since, until)
        ]
    return ids


# -- the delivery log ------------------------------------------------------------------------------


def deliveries_for(db: Database, endpoint_id: int, limit: int = 50) -> list[dict]:
    return all_rows(
        db,
        "SELECT d.id, d.reason, d.status, d.attempts, d.created_at, d.delivered_at, d.due_at, d.work_state, "
        "d.last_error, e.public_id AS event_id, e.type AS event_type FROM webhook_deliveries d "
        "JOIN webhook_events e ON e.id = d.event_id WHERE d.endpoint_id = ? ORDER BY d.id DESC LIMIT ?",
        [endpoint_id, limit],
    )


def attempts_for(db: Database, delivery_id: int) -> list[dict]:
    rows = all_rows(db, "SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY id", [delivery_id])
    for r in rows:
        r["request_headers"] = json.loads(r["request_headers"])
    return rows


def delivery_of(db: Database, endpoint_id: int, delivery_id: int) -> dict | None:
    return one(
        db,
        "SELECT d.*, e.public_id AS event_public_id, e.type AS event_type, e.body FROM webhook_deliveries d "
        "JOIN webhook_events e ON e.id = d.event_id WHERE d.id = ? AND d.endpoint_id = ?",
        [delivery_id, endpoint_id],
    )


def due_ids(db: Database, limit: int = 500) -> list[int]:
    return workrows.due_ids(db, TABLE, limit)
