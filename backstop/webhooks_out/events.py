"""The local event log: an outbox written in the transaction of the change that caused it.

``record_event`` is the one call other domains make. It stores the event body exactly as it will
be sent (redeliveries and replays send the same bytes) and one delivery work row per enabled
endpoint subscribed to the type. When the enclosing transaction commits, the new deliveries are
handed to the delivery job at once (``workrows.ready_after_commit``); the sweeper is only the
safety net.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime

from sqlite_utils import Database

from backstop import clock
from backstop.db import all_rows, one, write_transaction
from backstop.lib import workrows

log = logging.getLogger("backstop.webhooks_out")

# The types a receiver can subscribe to, with the one-line meaning the settings page shows.
EVENT_TYPES: dict[str, str] = {
    "recovery.opened": "A renewal payment failed and a recovery campaign started.",
    "recovery.recovered": "A failed invoice was paid: the campaign recovered the revenue.",
    "recovery.lost": "A campaign ended without payment (its final action ran).",
    "cancel.saved": "A customer in the cancel flow kept their subscription.",
    "cancel.lost": "A customer finished the cancel flow and canceled.",
    "trial.reminder_sent": "The trial-ending reminder email was queued for a customer.",
    "reactivation.sent": "The win-back email was queued for a customer whose subscription ended.",
    "winback.recorded": "A customer restarted their subscription from the win-back page.",
}
# Sent only by "Send test"; not subscribable.
PING = "ping"

TABLE = "webhook_deliveries"  # the work rows the delivery job claims


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(12)


def _livemode(db: Database, workspace_id: int) -> bool:
    from backstop.workspaces.checklist import mode_label

    return mode_label(db, workspace_id) == "livemode"


def encode_body(public_id: str, type: str, created_at: str, livemode: bool, data: dict) -> str:
    body = {"id": public_id, "type": type, "created_at": created_at, "livemode": livemode, "data": data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, sort_keys=False)


def record_event(db: Database, workspace_id: int, type: str, data: dict) -> str | None:
    """Write the event and a delivery row per subscribed, enabled endpoint, inside the caller's
    open write transaction. Returns the event id (``evt_…``).

    The event is logged even when no endpoint wants it yet, so a replay can send it later.
    """
    if type not in EVENT_TYPES and type != PING:
        raise ValueError(f"{type!r} is not an outbound webhook event type")
    # Called outside a transaction (a script, a change written without one), the event still
    # gets its own all-or-nothing write, just not the cause's.
    with write_transaction(db):
        return _record(db, workspace_id, type, data)


def _record(db: Database, workspace_id: int, type: str, data: dict) -> str:
    public_id = new_event_id()
    now = clock.now()
    created_at = now.isoformat(timespec="seconds").replace("+00:00", "Z")
    livemode = _livemode(db, workspace_id)
    body = encode_body(public_id, type, created_at, livemode, data)
    event_row = db.execute(
        "INSERT INTO webhook_events (public_id, workspace_id, type, livemode, body, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [public_id, workspace_id, type, int(livemode), body, clock.iso(now)],
    ).lastrowid
    if type == PING:
        return public_id
    endpoint_ids = [
        e["id"]
        for e in all_rows(
            db,
            "SELECT id, events FROM webhook_endpoints WHERE workspace_id = ? AND enabled = 1",
            [workspace_id],
        )
        if type in json.loads(e["events"])
    ]
    for endpoint_id in endpoint_ids:
        enqueue_delivery(db, workspace_id, event_row, endpoint_id, "event")
    return public_id


def enqueue_delivery(
    db: Database, workspace_id: int, event_row_id: int, endpoint_id: int, reason: str
) -> int:
    """A delivery work row, handed to the delivery job as soon as the transaction commits."""
    now = clock.iso()
    delivery_id = db.execute(
        "INSERT INTO webhook_deliveries (workspace_id, event_id, endpoint_id, reason, created_at, due_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [workspace_id, event_row_id, endpoint_id, reason, now, now],
    ).lastrowid
    workrows.ready_after_commit(db, TABLE, delivery_id)  # type: ignore[arg-type]
    return delivery_id  # type: ignore[return-value]


def get_event(db: Database, workspace_id: int, public_id: str) -> dict | None:
    return one(
        db, "SELECT * FROM webhook_events WHERE workspace_id = ? AND public_id = ?", [workspace_id, public_id]
    )


def events_between(db: Database, workspace_id: int, since: str, until: str | None = None) -> list[dict]:
    """Logged events of the workspace from ``since`` (inclusive) to ``until`` (exclusive), oldest
    first; ``ping`` events are not part of the log a replay sends."""
    return all_rows(
        db,
        "SELECT * FROM webhook_events WHERE workspace_id = ? AND type != 'ping' AND created_at >= ? "
        "AND created_at < ? ORDER BY created_at, id",
        [workspace_id, since, until or "9999"],
    )


# -- the documented data of each type --------------------------------------------------------------


def money(amount: int | None, currency: str | None) -> dict | None:
    if amount is None or not currency:
        return None
    return {"amount": int(amount), "currency": currency.lower()}


def _iso_z(value: str | None) -> str | None:
    return clock.parse(value).isoformat(timespec="seconds").replace("+00:00", "Z") if value else None


def campaign_data(campaign: dict) -> dict:
    """``data`` of the recovery.* events: the campaign as it stands after the change."""
    return {
        "campaign_id": campaign["id"],
        "invoice_id": campaign["invoice_id"],
        "customer_id": campaign["customer_id"],
        "customer_email": campaign["customer_email"],
        "subscription_id": campaign["subscription_id"],
        "amount_due": money(campaign["amount_due"], campaign["currency"]),
        "decline_code": campaign["decline_code"],
        "decline_class": campaign["decline_class"],
        "status": campaign["status"],
        "close_reason": campaign.get("close_reason"),
        "opened_at": _iso_z(campaign["opened_at"]),
        "closed_at": _iso_z(campaign.get("closed_at")),
    }


def trial_reminder_data(
    *,
    customer_id: str,
    customer_email: str | None,
    subscription_id: str,
    trial_end: int,
    price_id: str | None,
    plan_name: str | None,
    amount: int | None,
    currency: str | None,
    email_id: int,
) -> dict:
    """``data`` of trial.reminder_sent."""
    return {
        "customer_id": customer_id,
        "customer_email": customer_email,
        "subscription_id": subscription_id,
        "trial_end": clock.iso(datetime.fromtimestamp(trial_end, UTC)).replace("+00:00", "Z"),
        "price_id": price_id,
        "plan_name": plan_name,
        "amount": money(amount, currency),
        "email_id": email_id,
    }


def winback_data(row: dict, **extra) -> dict:
    """``data`` of reactivation.sent and winback.recorded, from the win-back row."""
    return {
        "winback_id": row["id"],
        "customer_id": row["customer_id"],
        "customer_email": row["customer_email"],
        "previous_subscription_id": row["subscription_id"],
        "price_id": row["price_id"],
        "plan_name": row["plan_name"],
        "amount": money(row["amount"], row["currency"]),
        "ended_at": _iso_z(row["ended_at"]),
        "ended_reason": row["reason"],
        **extra,
    }
