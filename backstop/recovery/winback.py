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
from backstop.settings import Settings
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
    """Plan the win-back of an ended subscription (once). Returns the row id, or None."""
    if subscription.get("status") != "canceled":
        return None
    customer_id = ref_id(subscription.get("customer"))
    items = ((subscription.get("items") or {}).get("data")) or []
    price = (items[0].get("price") if items else None) or {}
    price_id = ref_id(price)
    if not customer_id or not price_id:
        return None
    ended = subscription.get("ended_at") or subscription.get("canceled_at")
    ended_at = datetime.fromtimestamp(ended, UTC) if ended else clock.now()
    days, _ = settings_for(db, workspace_id)
    customer = one(
        db,
        "SELECT email, name FROM stripe_customers WHERE workspace_id = ? AND id = ?",
        [workspace_id, customer_id],
    )
    lost = one(
        db,
        "SELECT id FROM campaigns WHERE workspace_id = ? AND subscription_id = ? AND status = 'lost'",
        [workspace_id, subscription["id"]],
    )
    plan = plan_for_price(db, workspace_id, price_id)
    cur = db.execute(
        "INSERT OR IGNORE INTO winbacks (workspace_id, subscription_id, customer_id, customer_email, "
        "customer_name, price_id, plan_name, amount, currency, ended_at, reason, created_at, due_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            workspace_id,
            subscription["id"],
            customer_id,
            (customer or {}).get("email"),
            (customer or {}).get("name"),
            price_id,
            plan.get("name") or (price.get("nickname") if isinstance(price, dict) else None),
            plan.get("unit_amount")
            if plan
            else (price.get("unit_amount") if isinstance(price, dict) else None),
            plan.get("currency") or (price.get("currency") if isinstance(price, dict) else None),
            clock.iso(ended_at),
            "lost" if lost else "canceled",
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
        again = one(
            db,
            "SELECT id FROM stripe_subscriptions WHERE workspace_id = ? AND customer_id = ? "
            "AND status IN ('active', 'trialing', 'past_due')",
            [row["workspace_id"], row["customer_id"]],
        )
        if again:
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
                "plan_name": row["plan_name"] or "your plan",
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
            return "sent"
        _finish(db, row_id, "skipped", f"email {queued.status}", queued.id)
        return "skipped"


def _coupon_text(db: Database, workspace_id: int, coupon: str | None) -> str | None:
    return "A discount on your restart" if coupon else None


# -- restarting ---------------------------------------------------------------------------------


def card_on_file(db: Database, row: dict) -> dict | None:
    card = one(
        db,
        "SELECT pm.id, pm.card_brand, pm.card_last4, pm.card_exp_month, pm.card_exp_year "
        "FROM stripe_customers c JOIN stripe_payment_methods pm ON pm.workspace_id = c.workspace_id "
        "AND pm.id = c.default_payment_method WHERE c.workspace_id = ? AND c.id = ? AND c.deleted = 0",
        [row["workspace_id"], row["customer_id"]],
    )
    return card if card and card["card_last4"] else None


class RestartFailed(Exception):
    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state
        self.message = message


def restart(db: Database, row: dict, gateway_for: Callable[[int], StripeGateway]) -> str:
    """Create the new subscription (idempotently) and record the win-back; returns its id."""
    if row["status"] == "restarted":
        return row["new_subscription_id"]
    card = card_on_file(db, row)
    if card is None:
        raise RestartFailed("no_card", "There's no card on file to restart with.")
    _, coupon = settings_for(db, row["workspace_id"])
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
    if coupon:
        params["discounts"] = [{"coupon": coupon}]
    try:
        sub = gateway_for(row["workspace_id"]).post(
            "/v1/subscriptions", params, idempotency_key=f"backstop-winback-{row['id']}"
        )
    except StripeCardDeclined as exc:
        raise RestartFailed("declined", exc.message) from None
    except StripeInvalidRequest as exc:
        raise RestartFailed("failed", exc.message) from None
    except StripeFailure as exc:
        raise RestartFailed("unreachable", exc.message) from None
    db.execute(
        "UPDATE winbacks SET status = 'restarted', new_subscription_id = ?, restarted_at = ?, "
        "outcome = 'restarted' WHERE id = ? AND status != 'restarted'",
        [sub["id"], clock.iso(), row["id"]],
    )
    return sub["id"]


def for_workspace(db: Database, workspace_id: int) -> list[dict]:
    return all_rows(db, "SELECT * FROM winbacks WHERE workspace_id = ? ORDER BY id", [workspace_id])
