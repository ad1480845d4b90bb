"""The Failed Payment Wall: should this customer see a notice about a failed payment, and what
does it say?

Answered from the database alone (no Stripe call), so an app can ask on every page load.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.db import one
from backstop.embed import origins
from backstop.recovery import policy as rules
from backstop.stripe_sync import customers as mirror_customers


@dataclass(frozen=True)
class Due:
    """What the customer owes and why: from an in-flight campaign, or a past-due invoice."""

    amount: int
    currency: str
    reason: str
    campaign_id: int | None
    invoice_id: str
    subscription_id: str | None
    first_failed_at: str | None
    hosted_invoice_url: str | None = None


def due_for(db: Database, workspace_id: int, customer_id: str) -> Due | None:
    campaign = one(
        db,
        "SELECT id, amount_due, currency, decline_code, invoice_id, subscription_id, first_failed_at "
        "FROM campaigns WHERE workspace_id = ? AND customer_id = ? AND status = 'in_flight' "
        "ORDER BY id DESC LIMIT 1",
        [workspace_id, customer_id],
    )
    if campaign is not None:
        return Due(
            amount=campaign["amount_due"],
            currency=campaign["currency"],
            reason=rules.customer_message(campaign["decline_code"]),
            campaign_id=campaign["id"],
            invoice_id=campaign["invoice_id"],
            subscription_id=campaign["subscription_id"],
            first_failed_at=campaign["first_failed_at"],
        )
    invoice = mirror_customers.open_past_due_invoice(db, workspace_id, customer_id)
    if invoice is None:
        return None
    return Due(
        amount=invoice.amount_remaining or invoice.amount_due or 0,
        currency=invoice.currency or "usd",
        reason=rules.customer_message(None),
        campaign_id=None,
        invoice_id=invoice.id,
        subscription_id=invoice.subscription_id,
        first_failed_at=None,
        hosted_invoice_url=invoice.hosted_invoice_url,
    )


def mode_for(db: Database, workspace_id: int, due: Due) -> str:
    """ "blocking" once the grace days since the first failure are over in a blocking workspace;
    otherwise "dismissible"."""
    settings = origins.get_settings(db, workspace_id)
    if settings.wall_mode != "blocking":
        return "dismissible"
    grace = timedelta(days=settings.wall_grace_days)
    if due.first_failed_at and grace and clock.now() < clock.parse(due.first_failed_at) + grace:
        return "dismissible"
    return "blocking"


def settled(db: Database, workspace_id: int, customer_id: str, invoice_id: str | None) -> bool:
    """Has the invoice the wall was about been paid (or closed) since? The wall's status poll."""
    due = due_for(db, workspace_id, customer_id)
    return due is None or due.invoice_id != invoice_id
