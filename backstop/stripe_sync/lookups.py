"""Reading the Stripe mirror from other capabilities: one function, and one rule, per fact.

The ``stripe_*`` tables belong to ``stripe_sync``; recovery, email, the web layer and the jobs
read them only through this module (``tests/test_architecture.py`` fails on SQL naming a
``stripe_`` table anywhere else). The rules:

- **Plan name**: the product's name, else the price's nickname. Stripe hides a price's nickname
  from customers ("a brief description of the price, hidden from customers"), so the name a
  customer knows comes first. ``None`` when neither is known; callers word their own fallback.
- **Paying card** of a subscription: the subscription's ``default_payment_method``, else the
  customer's ``invoice_settings.default_payment_method`` — the card Stripe charges for the
  subscription's invoices. None once the customer was deleted in Stripe.
- **Card on file** of a customer (the customer pages): the customer's default, else the card one of
  their subscriptions pays with (see ``backstop.stripe_sync.customers``).
"""

from __future__ import annotations

from sqlite_utils import Database

from backstop.db import all_rows, one

# The plan-name rule in SQL, for queries that join ``stripe_products prod`` and ``stripe_prices p``.
PLAN_NAME_SQL = "COALESCE(prod.name, p.nickname)"


def plan_name_of(product_name: str | None, nickname: str | None) -> str | None:
    """The plan-name rule for values already at hand."""
    return product_name or nickname or None


def subscription_plan_name(db: Database, workspace_id: int, subscription_id: str | None) -> str | None:
    if not subscription_id:
        return None
    row = one(
        db,
        f"SELECT {PLAN_NAME_SQL} AS name FROM stripe_subscriptions s "  # noqa: S608
        "LEFT JOIN stripe_prices p ON p.workspace_id = s.workspace_id AND p.id = s.price_id "
        "LEFT JOIN stripe_products prod ON prod.workspace_id = s.workspace_id "
        "AND prod.id = COALESCE(s.product_id, p.product_id) "
        "WHERE s.workspace_id = ? AND s.id = ?",
        [workspace_id, subscription_id],
    )
    return row["name"] if row else None


def price_summary(db: Database, workspace_id: int, price_id: str | None) -> dict:
    """A price's ``unit_amount``, ``currency`` and plan ``name``; ``{}`` if the mirror lacks it."""
    if not price_id:
        return {}
    row = one(
        db,
        f"SELECT p.unit_amount, p.currency, {PLAN_NAME_SQL} AS name FROM stripe_prices p "  # noqa: S608
        "LEFT JOIN stripe_products prod ON prod.workspace_id = p.workspace_id AND prod.id = p.product_id "
        "WHERE p.workspace_id = ? AND p.id = ?",
        [workspace_id, price_id],
    )
    return row or {}


def paying_card(
    db: Database, workspace_id: int, customer_id: str | None, subscription_id: str | None = None
) -> dict | None:
    """The card Stripe charges (see the module's rule): ``id``, ``card_brand``, ``card_last4``,
    ``card_exp_month``, ``card_exp_year``; ``None`` without a usable card."""
    if not customer_id:
        return None
    row = one(
        db,
        "SELECT pm.id, pm.card_brand, pm.card_last4, pm.card_exp_month, pm.card_exp_year "
        "FROM stripe_payment_methods pm WHERE pm.workspace_id = :ws AND pm.id = COALESCE("
        "(SELECT s.default_payment_method FROM stripe_subscriptions s WHERE s.workspace_id = :ws AND s.id = :sub), "
        "(SELECT c.default_payment_method FROM stripe_customers c WHERE c.workspace_id = :ws AND c.id = :cus)) "
        "AND NOT EXISTS (SELECT 1 FROM stripe_customers c WHERE c.workspace_id = :ws AND c.id = :cus AND c.deleted = 1)",
        {"ws": workspace_id, "sub": subscription_id, "cus": customer_id},
    )
    return row if row and row["card_last4"] else None


def default_card_ids(
    db: Database, workspace_id: int, customer_id: str | None, subscription_id: str | None
) -> set[str]:
    """Every card that is a default for this subscription's invoices (the subscription's and the
    customer's): a new card among them means the next charge may work."""
    found: set[str] = set()
    if subscription_id:
        row = db.execute(
            "SELECT default_payment_method FROM stripe_subscriptions WHERE workspace_id = ? AND id = ?",
            [workspace_id, subscription_id],
        ).fetchone()
        if row and row[0]:
            found.add(row[0])
    if customer_id:
        row = db.execute(
            "SELECT default_payment_method FROM stripe_customers WHERE workspace_id = ? AND id = ?",
            [workspace_id, customer_id],
        ).fetchone()
        if row and row[0]:
            found.add(row[0])
    return found


def customer_contact(
    db: Database, workspace_id: int, customer_id: str | None, *, include_deleted: bool = True
) -> dict | None:
    """``{"email", "name"}`` of a mirrored customer, or None."""
    if not customer_id:
        return None
    return one(
        db,
        "SELECT email, name FROM stripe_customers WHERE workspace_id = ? AND id = ? AND (deleted = 0 OR ?)",
        [workspace_id, customer_id, int(include_deleted)],
    )


def invoice_settled(db: Database, workspace_id: int, invoice_id: str) -> bool:
    """Whether the mirror knows the invoice as paid, void, uncollectible or deleted."""
    row = one(
        db,
        "SELECT status, deleted FROM stripe_invoices WHERE workspace_id = ? AND id = ?",
        [workspace_id, invoice_id],
    )
    return bool(row and (row["deleted"] or row["status"] not in (None, "open", "draft")))


def subscription_of_customer(
    db: Database, workspace_id: int, subscription_id: str | None, customer_id: str | None
) -> dict | None:
    """``{"id", "customer_id"}`` when the subscription exists and belongs to that customer."""
    return one(
        db,
        "SELECT id, customer_id FROM stripe_subscriptions WHERE workspace_id = ? AND id = ? AND customer_id = ?",
        [workspace_id, subscription_id, customer_id],
    )


def has_live_subscription(
    db: Database, workspace_id: int, customer_id: str, except_subscription: str | None = None
) -> bool:
    """Whether the customer pays again (an active, trialing or past-due subscription), leaving
    ``except_subscription`` out of the question."""
    return (
        db.execute(
            "SELECT 1 FROM stripe_subscriptions WHERE workspace_id = ? AND customer_id = ? "
            "AND status IN ('active', 'trialing', 'past_due') AND id != ? LIMIT 1",
            [workspace_id, customer_id, except_subscription or ""],
        ).fetchone()
        is not None
    )


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


def renewing_subscriptions_with_cards(db: Database, workspace_id: int | None = None) -> list[dict]:
    """Active subscriptions that renew, with their customer's contact, paying card and plan name."""
    return all_rows(
        db,
        "SELECT s.workspace_id, s.id AS subscription_id, s.customer_id, s.current_period_end, "  # noqa: S608
        "c.email, c.name, pm.id AS pm_id, pm.card_brand, pm.card_last4, pm.card_exp_month, pm.card_exp_year, "
        f"{PLAN_NAME_SQL} AS plan_name "
        "FROM stripe_subscriptions s "
        "JOIN stripe_customers c ON c.workspace_id = s.workspace_id AND c.id = s.customer_id AND c.deleted = 0 "
        "JOIN stripe_payment_methods pm ON pm.workspace_id = s.workspace_id "
        "AND pm.id = COALESCE(s.default_payment_method, c.default_payment_method) "
        "LEFT JOIN stripe_prices p ON p.workspace_id = s.workspace_id AND p.id = s.price_id "
        "LEFT JOIN stripe_products prod ON prod.workspace_id = s.workspace_id "
        "AND prod.id = COALESCE(s.product_id, p.product_id) "
        "WHERE s.status = 'active' AND s.cancel_at_period_end = 0 AND pm.card_exp_year IS NOT NULL "
        "AND (? IS NULL OR s.workspace_id = ?) ORDER BY s.workspace_id, s.id",
        [workspace_id, workspace_id],
    )


# -- the payment evidence a policy backtest replays --------------------------------------------------
# Stripe's own record of failed invoices: each ``invoice.payment_failed`` event is one declined
# attempt (Stripe's or a retry Backstop asked for), the invoice row says whether and when it was
# finally paid, and each ``customer.updated`` that changed ``invoice_settings.default_payment_method``
# is a new default card. Decline codes are not in these payloads in the pinned API version; the
# recovery history holds them.


# Stripe retries an invoice for up to two months: failures this long before a period still tell
# whether an invoice failing in the period had first failed before it.
FAILURE_LOOKBACK = 62 * 86400


def payment_failures_since(db: Database, workspace_id: int, since_ts: int) -> dict[str, list[int]]:
    """The time (Unix seconds) of every failed attempt Stripe reported at or after ``since_ts``
    (and up to ``FAILURE_LOOKBACK`` before it, for the same invoices), oldest first, by invoice id."""
    found: dict[str, list[int]] = {}
    for invoice_id, created in db.execute(
        "SELECT object_id, created FROM stripe_events WHERE workspace_id = ? "
        "AND type = 'invoice.payment_failed' AND created >= ? ORDER BY created",
        [workspace_id, since_ts - FAILURE_LOOKBACK],
    ).fetchall():
        times = found.setdefault(invoice_id, [])
        if created not in times:  # one event seen twice (webhook and polling) is one attempt
            times.append(created)
    return {invoice_id: times for invoice_id, times in found.items() if times[-1] >= since_ts}


def invoices_by_id(db: Database, workspace_id: int, invoice_ids: list[str]) -> dict[str, dict]:
    """``id``, ``customer_id``, ``subscription_id``, ``status``, ``currency``, ``amount_due``,
    ``attempt_count``, ``paid_at`` and ``created`` of each mirrored invoice asked for."""
    rows: dict[str, dict] = {}
    for start in range(0, len(invoice_ids), 500):
        chunk = invoice_ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        for row in all_rows(
            db,
            "SELECT id, customer_id, subscription_id, status, currency, amount_due, attempt_count, "  # noqa: S608
            f"paid_at, created, deleted FROM stripe_invoices WHERE workspace_id = ? AND id IN ({marks})",
            [workspace_id, *chunk],
        ):
            rows[row["id"]] = row
    return rows


def default_card_changes_since(db: Database, workspace_id: int, since_ts: int) -> dict[str, list[int]]:
    """When (Unix seconds) each customer's default card for invoices changed at or after
    ``since_ts``, oldest first, by customer id."""
    found: dict[str, list[int]] = {}
    for customer_id, created in db.execute(
        "SELECT object_id, created FROM stripe_events WHERE workspace_id = ? AND type = 'customer.updated' "
        "AND created >= ? AND json_type(payload, '$.data.previous_attributes.invoice_settings."
        "default_payment_method') IS NOT NULL "
        "AND json_extract(payload, '$.data.object.invoice_settings.default_payment_method') IS NOT NULL "
        "ORDER BY object_id, created",
        [workspace_id, since_ts],
    ).fetchall():
        times = found.setdefault(customer_id, [])
        if created not in times:
            times.append(created)
    return found
