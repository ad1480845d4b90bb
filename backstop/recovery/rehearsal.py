"""“Simulate a failed renewal” in Stripe test mode: a real renewal fails in the founder's Stripe test
account, so Stripe sends ``invoice.payment_failed`` to Backstop like any other and a campaign opens
end to end (webhook or polling, mirror, campaign, first dunning email).

It takes three writes through the Stripe port, each with an idempotency key made of the workspace
and the rehearsal's nonce (the form carries it, so a double click makes one rehearsal):

1. a test customer with Stripe's test card ``pm_card_chargeCustomerFail`` (it attaches, then
   declines every charge), whose new card id is then read back;
2. a subscription to one of the account's own recurring prices, paid by that card, on a one-day
   trial (nothing is charged yet);
3. ``trial_end=now``: the trial ends at once, Stripe invoices the first paid period and charges the
   card, which declines. The invoice stays open and the subscription goes ``past_due``.

Live mode is refused before any call: this never touches real customers or real money.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlite_utils import Database

from backstop.lib.crypto import SecretBox
from backstop.settings import Settings
from backstop.workspaces.errors import ValidationError

FAILING_CARD = "pm_card_chargeCustomerFail"
_NONCE = re.compile(r"[0-9a-f]{8,32}")


class LiveModeRefused(ValidationError):
    """The workspace is connected in live mode."""


@dataclass(frozen=True)
class Rehearsal:
    customer_id: str
    subscription_id: str
    invoice_id: str | None
    email: str


def new_nonce() -> str:
    return secrets.token_hex(8)


def check_allowed(db: Database, workspace_id: int) -> None:
    """Raise unless the workspace is connected to Stripe in test mode."""
    from backstop.stripe_sync import connection

    conn = connection.get(db, workspace_id)
    if conn is None:
        raise ValidationError(
            "Connect Stripe with a test-mode key first: the failed renewal is made in your Stripe test account."
        )
    if conn.livemode:
        raise LiveModeRefused(
            "Simulating a failed renewal works only in Stripe test mode; this workspace is connected "
            "in live mode, where it would charge a real card."
        )


def _price(db: Database, workspace_id: int) -> str:
    from backstop.stripe_sync.prices import recurring_prices

    prices = recurring_prices(db, workspace_id)
    monthly = [p for p in prices if p.interval == "month"] or prices
    if not monthly:
        raise ValidationError(
            "Your Stripe test account has no active recurring price yet; add one in Stripe's dashboard "
            "(Product catalog), wait a moment for Backstop to see it, then try again."
        )
    return min(monthly, key=lambda p: (p.monthly_amount, p.id)).id


def fail_a_renewal(
    db: Database, box: SecretBox, settings: Settings, workspace_id: int, nonce: str | None = None
) -> Rehearsal:
    """Make a renewal fail in the workspace's Stripe test account (raises ValidationError with a
    sentence for the founder when it can't)."""
    from backstop.connectors.stripe import StripeCardDeclined, StripeFailure
    from backstop.stripe_sync import connection

    check_allowed(db, workspace_id)
    nonce = nonce if nonce and _NONCE.fullmatch(nonce) else new_nonce()
    price = _price(db, workspace_id)
    gateway = connection.gateway(db, box, settings, workspace_id)

    def key(step: str) -> str:
        return f"backstop-rehearsal-{workspace_id}-{nonce}-{step}"

    email = f"failed-renewal+{nonce}@example.com"
    marker = {"backstop_simulated": "failed_renewal"}
    try:
        customer = gateway.post(
            "/v1/customers",
            {
                "email": email,
                "name": "Test customer (simulated failed renewal)",
                "payment_method": FAILING_CARD,
                "metadata": marker,
            },
            idempotency_key=key("customer"),
        )
        # Attaching a test card gives it an id of its own: the customer's one card is it.
        cards = gateway.get(f"/v1/customers/{customer['id']}/payment_methods", {"limit": 1})["data"]
        card = cards[0]["id"] if cards else None
        subscription = gateway.post(
            "/v1/subscriptions",
            {
                "customer": customer["id"],
                "items": [{"price": price}],
                "trial_period_days": 1,
                **({"default_payment_method": card} if card else {}),
                "metadata": marker,
            },
            idempotency_key=key("subscription"),
        )
        try:
            renewed = gateway.post(
                f"/v1/subscriptions/{subscription['id']}",
                {"trial_end": "now", "proration_behavior": "none"},
                idempotency_key=key("renew"),
            )
        except StripeCardDeclined:  # some accounts answer the declined charge itself
            renewed = gateway.get(f"/v1/subscriptions/{subscription['id']}")
    except StripeFailure as exc:
        raise ValidationError(
            f"Stripe refused to set up the test renewal: {exc.message or 'no reason given'}"
        ) from None
    latest = renewed.get("latest_invoice")
    invoice_id = latest.get("id") if isinstance(latest, dict) else latest
    return Rehearsal(customer["id"], subscription["id"], invoice_id, email)
