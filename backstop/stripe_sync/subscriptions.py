"""Reading mirrored subscriptions for other domains (the ``stripe_subscriptions`` table is ours)."""

from __future__ import annotations

from sqlite_utils import Database

from backstop.db import one

PAYING = ("active", "trialing", "past_due")


def get_subscription(db: Database, workspace_id: int, subscription_id: str | None) -> dict | None:
    """The mirrored subscription (id, customer_id, status, price_id, ended_at …), or None."""
    if not subscription_id:
        return None
    return one(
        db,
        "SELECT id, customer_id, status, price_id, currency, canceled_at, ended_at "
        "FROM stripe_subscriptions WHERE workspace_id = ? AND id = ?",
        [workspace_id, subscription_id],
    )


def other_paying_subscription(
    db: Database, workspace_id: int, customer_id: str, except_id: str | None
) -> str | None:
    """Another subscription of the customer that is active, trialing or past due, if any."""
    row = one(
        db,
        "SELECT id FROM stripe_subscriptions WHERE workspace_id = ? AND customer_id = ? "
        "AND status IN ('active', 'trialing', 'past_due') AND id != ? LIMIT 1",
        [workspace_id, customer_id, except_id or ""],
    )
    return row["id"] if row else None
