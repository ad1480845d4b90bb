"""Stripe events that open, advance and close recovery campaigns.

These run after the mirror's handlers for the same event (registration order), inside the same
transaction, so the mirror already holds the invoice and customer they read.
"""

from __future__ import annotations

from backstop.recovery import campaigns
from backstop.recovery.model import CampaignStatus
from backstop.stripe_sync import lookups
from backstop.stripe_sync.events import EventContext, on
from backstop.stripe_sync.objects import invoice_subscription_id, ref_id


def _decline_details(ctx: EventContext, invoice_id: str) -> tuple[str | None, str | None]:
    """The decline code of the invoice's latest payment. In this API version it lives on the
    payment intent behind the invoice's payments, not on the invoice."""
    page = ctx.fetch(
        "/v1/invoice_payments", {"invoice": invoice_id, "expand": ["data.payment.payment_intent"]}
    )
    for payment in page.get("data") or []:
        intent = (payment.get("payment") or {}).get("payment_intent")
        if isinstance(intent, dict) and intent.get("last_payment_error"):
            error = intent["last_payment_error"]
            return error.get("decline_code") or error.get("code"), error.get("advice_code")
    return None, None


def _customer(ctx: EventContext, customer_id: str | None, invoice: dict) -> tuple[str | None, str | None]:
    row = lookups.customer_contact(ctx.db, ctx.workspace_id, customer_id)
    email = (row or {}).get("email") or invoice.get("customer_email")
    name = (row or {}).get("name") or invoice.get("customer_name")
    return email, name


def _settled_in_mirror(ctx: EventContext, invoice_id: str) -> bool:
    """Whether the mirror (updated by this event's own handlers just before, which keep the
    newest version) already knows the invoice as paid, void or uncollectible. Events can arrive
    out of order: the failure's payload still says "open" after the payment was seen."""
    return lookups.invoice_settled(ctx.db, ctx.workspace_id, invoice_id)


@on("invoice.payment_failed")
def open_or_update_campaign(ctx: EventContext) -> None:
    invoice = ctx.object
    subscription_id = invoice_subscription_id(invoice)
    if not subscription_id or invoice.get("status") != "open":
        return  # one-off invoices, or already settled by the time we see the event
    existing = campaigns.find_by_invoice(ctx.db, ctx.workspace_id, invoice["id"])
    if existing is not None:
        ctx.db.execute(
            "UPDATE campaigns SET stripe_attempts = MAX(stripe_attempts, ?) WHERE id = ?",
            [invoice.get("attempt_count") or 0, existing.id],
        )
        return
    if _settled_in_mirror(ctx, invoice["id"]):
        return  # a later event (invoice.paid, voided) arrived first: nothing to recover
    decline_code, advice_code = _decline_details(ctx, invoice["id"])
    customer_id = ref_id(invoice.get("customer"))
    email, name = _customer(ctx, customer_id, invoice)
    campaigns.open_campaign(
        ctx.db,
        ctx.workspace_id,
        campaigns.FailedInvoice(
            invoice_id=invoice["id"],
            customer_id=customer_id,
            subscription_id=subscription_id,
            amount_due=invoice.get("amount_remaining") or invoice.get("amount_due") or 0,
            currency=invoice.get("currency") or "usd",
            attempt_count=invoice.get("attempt_count") or 1,
            decline_code=decline_code,
            advice_code=advice_code,
            customer_email=email,
            customer_name=name,
        ),
    )


@on("invoice.paid", "invoice.payment_succeeded")
def close_recovered(ctx: EventContext) -> None:
    campaign = campaigns.find_by_invoice(ctx.db, ctx.workspace_id, ctx.object["id"])
    if campaign and campaign.is_open:
        ctx.db.execute(  # Stripe's count includes the attempt that paid
            "UPDATE campaigns SET stripe_attempts = MAX(stripe_attempts, ?) WHERE id = ?",
            [ctx.object.get("attempt_count") or 0, campaign.id],
        )
        campaigns.close(
            ctx.db, campaign.id, CampaignStatus.RECOVERED, "The invoice was paid", event=ctx.event["id"]
        )


@on("invoice.voided", "invoice.deleted", "invoice.marked_uncollectible")
def close_abandoned_invoice(ctx: EventContext) -> None:
    campaign = campaigns.find_by_invoice(ctx.db, ctx.workspace_id, ctx.object["id"])
    if campaign and campaign.is_open:
        what = ctx.event["type"].split(".", 1)[1].replace("_", " ")
        campaigns.close(
            ctx.db,
            campaign.id,
            CampaignStatus.ABANDONED,
            f"The invoice was {what} in Stripe",
            event=ctx.event["id"],
        )


@on("customer.subscription.deleted")
def close_abandoned_subscription(ctx: EventContext) -> None:
    for campaign in campaigns.in_flight_for(ctx.db, ctx.workspace_id, subscription_id=ctx.object["id"]):
        campaigns.close(
            ctx.db,
            campaign.id,
            CampaignStatus.ABANDONED,
            "The subscription was canceled outside recovery",
            event=ctx.event["id"],
        )


@on("customer.deleted")
def close_abandoned_customer(ctx: EventContext) -> None:
    for campaign in campaigns.in_flight_for(ctx.db, ctx.workspace_id, customer_id=ctx.object["id"]):
        campaigns.close(
            ctx.db,
            campaign.id,
            CampaignStatus.ABANDONED,
            "The customer was deleted in Stripe",
            event=ctx.event["id"],
        )


@on("payment_method.attached", "setup_intent.succeeded")
def new_card(ctx: EventContext) -> None:
    customer_id = ref_id(ctx.object.get("customer"))
    card = (
        ctx.object["id"]
        if ctx.object.get("object") == "payment_method"
        else ref_id(ctx.object.get("payment_method"))
    )
    if customer_id and card:
        campaigns.card_changed(ctx.db, ctx.workspace_id, customer_id, ctx.event["type"], card)


@on("customer.updated")
def default_card_changed(ctx: EventContext) -> None:
    previous = (ctx.event.get("data") or {}).get("previous_attributes") or {}
    changed = "default_payment_method" in (previous.get("invoice_settings") or {})
    card = ref_id((ctx.object.get("invoice_settings") or {}).get("default_payment_method"))
    if changed and card:
        campaigns.card_changed(ctx.db, ctx.workspace_id, ctx.object["id"], "customer.updated", card)
