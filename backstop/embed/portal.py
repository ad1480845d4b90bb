"""The customer portal: what a customer sees about their subscription, and the two changes it
makes itself (resume; a new card goes through the update-card pages, cancelling through the
cancel flow).

Everything shown comes from the Stripe mirror; only "Resume" calls Stripe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlite_utils import Database

from backstop import clock
from backstop.connectors.stripe import StripeFailure, StripeGateway
from backstop.db import write_transaction
from backstop.embed.hosted import HostedSession
from backstop.recovery import campaigns
from backstop.stripe_sync import customers as mirror_customers
from backstop.stripe_sync import mirror
from backstop.stripe_sync.customers import Card, Customer, Invoice, Subscription

log = logging.getLogger("backstop.embed")

OPEN_STATUSES = ("active", "trialing", "past_due", "unpaid")
EMAIL_LINK_MAX_AGE = 14 * 24 * 3600
INVOICES_SHOWN = 12


@dataclass
class PortalView:
    customer: Customer
    subscription: Subscription | None
    state: str  # active | trialing | past_due | paused | ending | canceled | none
    card: Card | None
    invoices: list[Invoice] = field(default_factory=list)
    campaign: dict | None = None
    next_amount: int | None = None
    next_date: int | None = None

    @property
    def can_resume(self) -> bool:
        return self.state in ("paused", "ending")

    @property
    def can_cancel(self) -> bool:
        return self.subscription is not None and self.state in ("active", "trialing", "past_due")


def _pick(customer: Customer, subscription_id: str | None) -> Subscription | None:
    if subscription_id:
        found = next((s for s in customer.subscriptions if s.id == subscription_id), None)
        if found is not None:
            return found
    return customer.primary


def _state(sub: Subscription | None) -> str:
    if sub is None:
        return "none"
    if sub.status in ("canceled", "incomplete_expired"):
        return "canceled"
    if sub.pause_collection:
        return "paused"
    if sub.cancel_at_period_end or (sub.cancel_at and sub.status in OPEN_STATUSES):
        return "ending"
    if sub.status in ("past_due", "unpaid"):
        return "past_due"
    if sub.status == "trialing":
        return "trialing"
    if sub.status in ("active",):
        return "active"
    return "none"


def view(db: Database, session: HostedSession) -> PortalView | None:
    customer = mirror_customers.get_customer(db, session.workspace_id, session.customer_id)
    if customer is None or customer.deleted:
        return None
    sub = _pick(customer, session.subscription_id)
    state = _state(sub)
    result = PortalView(
        customer=customer,
        subscription=sub,
        state=state,
        card=customer.card,
        invoices=[
            i
            for i in mirror_customers.invoices(db, session.workspace_id, customer.id, INVOICES_SHOWN)
            if i.status in ("paid", "open", "uncollectible") and (i.hosted_invoice_url or i.invoice_pdf)
        ],
    )
    in_flight = campaigns.in_flight_for(db, session.workspace_id, customer_id=customer.id)
    result.campaign = in_flight[0] if in_flight else None
    if sub is not None and state in ("active", "trialing", "past_due") and sub.unit_amount is not None:
        result.next_amount = sub.unit_amount * (sub.quantity or 1)
        result.next_date = sub.trial_end if state == "trialing" and sub.trial_end else sub.current_period_end
    return result


class ResumeError(Exception):
    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def resume(db: Database, session: HostedSession, gateway_for: Callable[[int], StripeGateway]) -> str:
    """Undo a pause or a scheduled cancellation in Stripe, then mirror the answer. Returns
    "resumed" or "unpaused". The idempotency key names the subscription and its mirrored
    version, so a double click makes one change and a later pause can be resumed again."""
    current = view(db, session)
    if current is None or current.subscription is None or not current.can_resume:
        raise ResumeError("There's nothing to resume on this subscription.")
    sub = current.subscription
    if current.state == "paused":
        params, done = {"pause_collection": ""}, "unpaused"
    else:
        params, done = {"cancel_at_period_end": "false", "cancel_at": ""}, "resumed"
    version = mirror_customers.subscription_version(db, session.workspace_id, sub.id)
    key = f"backstop-portal-{done}-{sub.id}-{version}"
    try:
        obj = gateway_for(session.workspace_id).post(
            f"/v1/subscriptions/{sub.id}", params, idempotency_key=key
        )
    except StripeFailure as exc:
        log.warning("portal resume of %s failed: %s", sub.id, exc)
        raise ResumeError(
            "We couldn't reach our billing provider to make that change. Nothing changed; please try again.",
            503,
        ) from None
    with write_transaction(db):
        mirror.apply_object(db, session.workspace_id, obj, max(int(clock.now_ts()), (version or 0) + 1))
    return done


# -- links Backstop emails itself (trial reminders): signed, expiring, no founder backend needed --


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="backstop.portal-link.v1")


def email_link_token(
    secret_key: str, workspace_id: int, customer_id: str, subscription_id: str | None
) -> str:
    return _serializer(secret_key).dumps({"w": workspace_id, "cus": customer_id, "sub": subscription_id})


def read_email_link(secret_key: str, token: str) -> tuple[str, dict | None]:
    """("ok" | "expired" | "invalid", claims)."""
    try:
        data = _serializer(secret_key).loads(token, max_age=EMAIL_LINK_MAX_AGE)
    except SignatureExpired:
        return "expired", None
    except BadSignature:
        return "invalid", None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("w"), int)
        or not isinstance(data.get("cus"), str)
    ):
        return "invalid", None
    return "ok", data
