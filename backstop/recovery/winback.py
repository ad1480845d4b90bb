"""Win-back: some days after a subscription ends, offer the customer a one-click restart.

A subscription that ends (canceled by the customer, or by recovery when a campaign was lost)
gets one ``winbacks`` row, a work row due ``winback_days`` after the end. When due, the
``winback`` email goes out (marketing: the suppression rules skip anyone who opted out) with a
signed link to the hosted "Restart <plan>" page; one click there creates a new subscription on
the old price with the card on file and records the restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlite_utils import Database

from backstop import clock
from backstop.connectors.stripe import StripeCardDeclined, StripeFailure, StripeGateway, StripeInvalidRequest
from backstop.db import all_rows, one, write_transaction
from backstop.lib import workrows
from backstop.recovery.campaigns import plan_for_price
from backstop.recovery.model import Campaign
from backstop.settings import Settings
from backstop.stripe_sync import lookups
from backstop.stripe_sync.events import EventContext, on
from backstop.stripe_sync.objects import ref_id

log = logging.getLogger("backstop.recovery")

TABLE = "winbacks"
LINK_MAX_AGE = 30 * 24 * 3600
DEFAULT_DAYS = 14


# -- links --------------------------------------------------------------------------------------


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="backstop.winback.v1")


def restart_token(secret_key: str, workspace_id: int, winback_id: int) -> str:
    return _serializer(secret_key).dumps({"w": workspace_id, "b": winback_id})


def restart_url(public_url: str, secret_key: str, workspace_id: int, winback_id: int) -> str:
    return f"{public_url}/win-back/{restart_token(secret_key, workspace_id, winback_id)}"


def read_restart_token(db: Database, secret_key: str, token: str) -> tuple[str, int | None, dict | None]:
    """("ok" | "expired" | "invalid", workspace id, winback row)."""
    serializer = _serializer(secret_key)
    try:
        data = serializer.loads(token, max_age=LINK_MAX_AGE)
    except SignatureExpired:
        valid, data = serializer.loads_unsafe(token)
        ws = data.get("w") if valid and isinstance(data, dict) and isinstance(data.get("w"), int) else None
        found = one(db, "SELECT id FROM workspaces WHERE id = ?", [ws]) if ws else None
        return "expired", found["id"] if found else None, None
    except BadSignature:
        return "invalid", None, None
    if not isinstance(data, dict) or not isinstance(data.get("w"), int) or not isinstance(data.get("b"), int):
        return "invalid", None, None
    row = one(db, "SELECT * FROM winbacks WHERE id = ? AND workspace_id = ?", [data["b"], data["w"]])
    if row is None:
        return "invalid", None, None
    return "ok", data["w"], row


# -- settings -----------------------------------------------------------------------------------


def settings_for(db: Database, workspace_id: int) -> tuple[int, str | None]:
    """(days after the end, coupon or None)."""
    row = one(
        db,
        "SELECT winback_days, winback_coupon FROM recovery_settings WHERE workspace_id = ?",
        [workspace_id],
    )
    if row is None:
        return DEFAULT_DAYS, None
    return row["winback_days"] or DEFAULT_DAYS, row["winback_coupon"] or None


# -- scheduling ---------------------------------------------------------------------------------


def schedule(db: Database, workspace_id: int, subscription: dict) -> int | None:
    """Plan the win-back of a canceled subscription (once). Returns the row id, or None."""
    if subscription.get("status") != "canceled":
        return None
    items = ((subscription.get("items") or {}).get("data")) or []
    price = (items[0].get("price") if items else None) or {}
    ended = subscription.get("ended_at") or subscription.get("canceled_at")
    lost = one(
        db,
        "SELECT id FROM campaigns WHERE workspace_id = ? AND subscription_id = ? AND status = 'lost'",
        [workspace_id, subscription["id"]],
    )
    return _plan(
        db,
        workspace_id,
        subscription["id"],
        ref_id(subscription.get("customer")),
        price if isinstance(price, dict) else {"id": ref_id(price)},
        datetime.fromtimestamp(ended, UTC) if ended else clock.now(),
        "lost" if lost else "canceled",
    )


def schedule_after_loss(db: Database, campaign: Campaign) -> int | None:
    """Plan the win-back of the subscription a lost campaign leaves unpaid (canceled, unpaid or
    left past due): its clock starts now, at the end of the campaign. Once per subscription: the
    ``customer.subscription.deleted`` that a cancel brings finds the row already there."""
    sub = lookups.get_subscription(db, campaign.workspace_id, campaign.subscription_id)
    if sub is None:
        return None
    return _plan(
        db,
        campaign.workspace_id,
        sub["id"],
        sub["customer_id"] or campaign.customer_id,
        {"id": sub["price_id"]},
        clock.now(),
        "lost",
    )


def _plan(
    db: Database,
    workspace_id: int,
    subscription_id: str,
    customer_id: str | None,
    price: dict,
    ended_at: datetime,
    reason: str,
) -> int | None:
    price_id = price.get("id")
    if not customer_id or not price_id:
        return None
    days, _ = settings_for(db, workspace_id)
    customer = lookups.customer_contact(db, workspace_id, customer_id)
    plan = plan_for_price(db, workspace_id, price_id)
    cur = db.execute(
        "INSERT OR IGNORE INTO winbacks (workspace_id, subscription_id, customer_id, customer_email, "
        "customer_name, price_id, plan_name, amount, currency, ended_at, reason, created_at, due_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            workspace_id,
            subscription_id,
            customer_id,
            (customer or {}).get("email"),
            (customer or {}).get("name"),
            price_id,
            plan.get("name") or lookups.plan_name_of(None, price.get("nickname")),
            plan.get("unit_amount") if plan else price.get("unit_amount"),
            plan.get("currency") or price.get("currency"),
            clock.iso(ended_at),
            reason,
            clock.iso(),
            clock.iso(ended_at + timedelta(days=days)),
        ],
    )
    return cur.lastrowid if cur.rowcount == 1 else None


@on("customer.subscription.deleted", stage=90)
def subscription_ended(ctx: EventContext) -> None:
    schedule(ctx.db, ctx.workspace_id, ctx.object)


# -- sending ------------------------------------------------------------------------------------


def due_ids(db: Database, limit: int = 200) -> list[int]:
    now = clock.iso()
    rows = db.execute(
        "SELECT w.id FROM winbacks w LEFT JOIN recovery_settings r ON r.workspace_id = w.workspace_id "
        "WHERE ((w.work_state = 'pending' AND w.due_at <= ?) OR (w.work_state = 'working' AND w.claimed_until < ?)) "
        "AND r.paused_at IS NULL ORDER BY w.due_at, w.id LIMIT ?",
        [now, now, limit],
    ).fetchall()
    return [r[0] for r in rows]


def _finish(db: Database, row_id: int, status: str, outcome: str, message_id: int | None = None) -> None:
    db.execute(
        "UPDATE winbacks SET status = ?, outcome = ?, email_message_id = COALESCE(?, email_message_id) "
        "WHERE id = ?",
        [status, outcome, message_id, row_id],
    )
    workrows.complete(db, TABLE, row_id)


def send(db: Database, row_id: int, settings: Settings) -> str | None:
    """Queue the win-back email of a due row (once); None when it isn't due or recovery is paused."""
    paused = db.execute(
        "SELECT r.paused_at FROM winbacks w JOIN recovery_settings r ON r.workspace_id = w.workspace_id "
        "WHERE w.id = ?",
        [row_id],
    ).fetchone()
    if paused and paused[0]:
        return None
    if not workrows.claim(db, TABLE, row_id):
        return None
    try:
        return _send_claimed(db, row_id, settings)
    except Exception as exc:  # unplanned: give the row back at once, with why
        workrows.release_failed(db, TABLE, row_id, exc)
        return "retrying"


def _send_claimed(db: Database, row_id: int, settings: Settings) -> str:
    from backstop.email.messages import queue_email

    row = one(db, "SELECT * FROM winbacks WHERE id = ?", [row_id])
    with write_transaction(db):
        if row["status"] != "scheduled":
            workrows.complete(db, TABLE, row_id)
            return row["status"]
        if not row["customer_email"]:
            _finish(db, row_id, "skipped", "no email address")
            return "skipped"
        # Paying again: another subscription, or this one paid after all (a subscription left past
        # due or unpaid by a lost campaign is still there, but not being paid).
        own = lookups.get_subscription(db, row["workspace_id"], row["subscription_id"])
        again = lookups.has_live_subscription(
            db, row["workspace_id"], row["customer_id"], except_subscription=row["subscription_id"]
        )
        if again or (own and own["status"] in ("active", "trialing")):
            _finish(db, row_id, "skipped", "subscribed again")
            return "skipped"
        _, coupon = settings_for(db, row["workspace_id"])
        queued = queue_email(
            db,
            settings,
            workspace_id=row["workspace_id"],
            kind="winback",
            to_email=row["customer_email"],
            to_name=row["customer_name"],
            context={
                "plan_name": row["plan_name"],
                "amount": row["amount"],
                "currency": row["currency"],
                "restart_url": restart_url(
                    settings.public_url, settings.secret_key, row["workspace_id"], row_id
                ),
                "coupon_text": _coupon_text(db, row["workspace_id"], coupon),
            },
            dedupe_key=f"winback:{row['subscription_id']}",
            customer_id=row["customer_id"],
        )
        if queued.status in ("queued", "sent"):
            _finish(db, row_id, "sent", "email queued", queued.id)
            _record_webhook_event(db, row, "reactivation.sent", email_id=queued.id)
            return "sent"
        _finish(db, row_id, "skipped", f"email {queued.status}", queued.id)
        return "skipped"


def _coupon_text(db: Database, workspace_id: int, coupon: str | None) -> str | None:
    return "A discount on your restart" if coupon else None


# -- restarting ---------------------------------------------------------------------------------


def card_on_file(db: Database, row: dict) -> dict | None:
    """The card to restart with: the one the ended subscription paid with (``lookups.paying_card``)."""
    return lookups.paying_card(db, row["workspace_id"], row["customer_id"], row["subscription_id"])


class RestartFailed(Exception):
    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state
        self.message = message


def restart(db: Database, row: dict, gateway_for: Callable[[int], StripeGateway]) -> str:
    """Create the new subscription (idempotently) and record the win-back; returns its id.

    With a win-back coupon set, the customer gets their own single-use copy of it
    (``max_redemptions: 1``), made once under an idempotency key and remembered on the row, so
    a second click or a double submit reuses it instead of making another."""
    if row["status"] == "restarted":
        return row["new_subscription_id"]
    card = card_on_file(db, row)
    if card is None:
        raise RestartFailed("no_card", "There's no card on file to restart with.")
    gateway = gateway_for(row["workspace_id"])
    params: dict = {
        "customer": row["customer_id"],
        "items": [{"price": row["price_id"]}],
        "default_payment_method": card["id"],
        "payment_behavior": "error_if_incomplete",
        "metadata": {
            "backstop_winback": str(row["id"]),
            "backstop_previous_subscription": row["subscription_id"],
        },
    }
    try:
        coupon = _customer_coupon(db, row, gateway)
        if coupon:
            params["discounts"] = [{"coupon": coupon}]
        sub = gateway.post("/v1/subscriptions", params, idempotency_key=f"backstop-winback-{row['id']}")
    except StripeCardDeclined as exc:
        raise RestartFailed("declined", exc.message) from None
    except StripeInvalidRequest as exc:
        raise RestartFailed("failed", exc.message) from None
    except StripeFailure as exc:
        raise RestartFailed("unreachable", exc.message) from None
    with write_transaction(db):
        cur = db.execute(
            "UPDATE winbacks SET status = 'restarted', new_subscription_id = ?, restarted_at = ?, "
            "outcome = 'restarted' WHERE id = ? AND status != 'restarted'",
            [sub["id"], clock.iso(), row["id"]],
        )
        if cur.rowcount == 1:
            _record_webhook_event(db, row, "winback.recorded", subscription_id=sub["id"], coupon=coupon)
    _end_previous(db, row, gateway)
    return sub["id"]


def _customer_coupon(db: Database, row: dict, gateway: StripeGateway) -> str | None:
    """The customer's own single-use copy of the workspace's win-back coupon, or None."""
    if row.get("coupon_id"):
        return row["coupon_id"]
    _, template_id = settings_for(db, row["workspace_id"])
    if not template_id:
        return None
    template = gateway.get(f"/v1/coupons/{template_id}")
    params: dict = {
        "duration": template.get("duration") or "once",
        "max_redemptions": 1,
        "name": (template.get("name") or "Win-back")[:40],
        "metadata": {
            "backstop_winback": str(row["id"]),
            "backstop_customer": row["customer_id"],
            "backstop_template": template_id,
        },
    }
    if template.get("percent_off"):
        params["percent_off"] = template["percent_off"]
    else:
        params["amount_off"] = template.get("amount_off")
        params["currency"] = template.get("currency")
    if params["duration"] == "repeating":
        params["duration_in_months"] = template.get("duration_in_months")
    coupon = gateway.post("/v1/coupons", params, idempotency_key=f"backstop-winback-{row['id']}-coupon")
    with write_transaction(db):
        db.execute(
            "UPDATE winbacks SET coupon_id = COALESCE(coupon_id, ?) WHERE id = ?", [coupon["id"], row["id"]]
        )
    return coupon["id"]


def _end_previous(db: Database, row: dict, gateway: StripeGateway) -> None:
    """A subscription a lost campaign left past due or unpaid ends when its customer restarts, so
    they pay for one subscription, not two."""
    previous = lookups.get_subscription(db, row["workspace_id"], row["subscription_id"])
    if previous is None or previous["status"] not in ("past_due", "unpaid", "incomplete"):
        return
    try:
        gateway.request(
            "delete",
            f"/v1/subscriptions/{row['subscription_id']}",
            idempotency_key=f"backstop-winback-{row['id']}-end-previous",
        )
    except StripeFailure as exc:
        log.info("win-back %s: previous subscription not canceled: %s", row["id"], exc.message)


def _record_webhook_event(db: Database, row: dict, event_type: str, **extra) -> None:
    from backstop.webhooks_out.events import record_event, winback_data

    record_event(db, row["workspace_id"], event_type, winback_data(row, **extra))


def for_workspace(db: Database, workspace_id: int) -> list[dict]:
    return all_rows(db, "SELECT * FROM winbacks WHERE workspace_id = ? ORDER BY id", [workspace_id])
