"""The Stripe mirror's part of an export: the customers, subscriptions and invoices Backstop
copied from Stripe, and how the account is connected (never its keys or webhook secret)."""

from __future__ import annotations

from sqlite_utils import Database

from backstop.lib.exports import ExportTable, select_table

_UNIX = "Unix time (seconds, UTC) as Stripe gives it"


def export_tables(db: Database, workspace_id: int) -> list[ExportTable]:
    return [
        select_table(
            db,
            "stripe_connection",
            "How the workspace is connected to Stripe (no keys or secrets).",
            [
                ("method", "oauth (Stripe Connect) or restricted_key."),
                ("account_id", "The Stripe account id, acct_…."),
                ("account_name", "The account's name in Stripe."),
                ("livemode", "1 for live mode, 0 for test mode."),
                ("status", "live, failing or revoked."),
                ("connected_at", "When it was connected (UTC)."),
            ],
            "stripe_connections",
            "workspace_id = ?",
            [workspace_id],
            "id",
        ),
        select_table(
            db,
            "customers",
            "Your Stripe customers, as mirrored from Stripe.",
            [
                ("id", "The Stripe customer id, cus_…."),
                ("email", "The customer's email address."),
                ("name", "The customer's name."),
                ("currency", "The customer's default currency."),
                ("delinquent", "1 when Stripe marks the customer delinquent."),
                ("created", f"When the customer was created in Stripe, {_UNIX}."),
                ("deleted", "1 when the customer was deleted in Stripe."),
                ("synced_at", "When Backstop last copied this customer (UTC)."),
            ],
            "stripe_customers",
            "workspace_id = ?",
            [workspace_id],
            "created, id",
        ),
        select_table(
            db,
            "subscriptions",
            "Your customers' subscriptions, as mirrored from Stripe.",
            [
                ("id", "The Stripe subscription id, sub_…."),
                ("customer_id", "The customer, cus_…."),
                ("status", "Stripe's status: active, past_due, canceled, …."),
                ("price_id", "The price of its first item, price_…."),
                ("product_id", "The product of that price, prod_…."),
                ("quantity", "The item's quantity."),
                ("currency", "The subscription's currency."),
                ("mrr", "Monthly recurring revenue in minor units (cents) of the currency."),
                ("current_period_end", f"When the current period ends, {_UNIX}."),
                ("cancel_at_period_end", "1 when it is set to cancel at the period's end."),
                ("canceled_at", f"When it was canceled, {_UNIX}."),
                ("ended_at", f"When it ended, {_UNIX}."),
                ("created", f"When it was created, {_UNIX}."),
            ],
            "stripe_subscriptions",
            "workspace_id = ?",
            [workspace_id],
            "created, id",
        ),
        select_table(
            db,
            "invoices",
            "Invoices, as mirrored from Stripe.",
            [
                ("id", "The Stripe invoice id, in_…."),
                ("customer_id", "The customer, cus_…."),
                ("subscription_id", "The subscription, sub_…, if any."),
                ("status", "Stripe's status: draft, open, paid, void, uncollectible."),
                ("number", "The invoice number."),
                ("currency", "The invoice's currency."),
                ("amount_due", "Amount due in minor units (cents)."),
                ("amount_paid", "Amount paid in minor units (cents)."),
                ("attempt_count", "Payment attempts Stripe counted."),
                ("created", f"When it was created, {_UNIX}."),
                ("paid_at", f"When it was paid, {_UNIX}."),
            ],
            "stripe_invoices",
            "workspace_id = ?",
            [workspace_id],
            "created, id",
        ),
    ]
