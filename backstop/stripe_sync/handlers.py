"""The mirror's event handlers: each re-reads the object's current state and upserts it."""

from __future__ import annotations

from backstop.stripe_sync import connection, mirror
from backstop.stripe_sync.events import MIRROR_STAGE, EventContext, on

_PATHS = {
    "customer": "/v1/customers/{}",
    "subscription": "/v1/subscriptions/{}",
    "invoice": "/v1/invoices/{}",
    "payment_method": "/v1/payment_methods/{}",
    "product": "/v1/products/{}",
    "price": "/v1/prices/{}",
}
_EXPAND = {
    "customer": ["invoice_settings.default_payment_method"],
    "subscription": ["default_payment_method"],
}


def _refetcher(ctx: EventContext, obj: dict):
    kind = obj.get("object")
    if kind not in _PATHS:
        return None

    def refetch() -> dict | None:
        fresh = ctx.fetch(_PATHS[kind].format(obj["id"]), {"expand": _EXPAND.get(kind, [])})
        if fresh is not None and kind == "invoice":
            fresh = mirror.complete_invoice_lines(ctx.fetch, fresh)
        return fresh

    return refetch


@on(
    "customer.created",
    "customer.updated",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.pending_update_applied",
    "customer.subscription.pending_update_expired",
    "customer.subscription.trial_will_end",
    "payment_method.attached",
    "payment_method.updated",
    "payment_method.detached",
    "payment_method.automatically_updated",
    "product.created",
    "product.updated",
    "price.created",
    "price.updated",
    stage=MIRROR_STAGE,
)
def upsert_object(ctx: EventContext) -> None:
    mirror.apply_object(ctx.db, ctx.workspace_id, ctx.object, ctx.version, _refetcher(ctx, ctx.object))


@on(
    "invoice.created",
    "invoice.finalized",
    "invoice.updated",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.payment_succeeded",
    "invoice.payment_action_required",
    "invoice.voided",
    "invoice.marked_uncollectible",
    "invoice.overdue",
    "invoice.will_be_due",
    stage=MIRROR_STAGE,
)
def upsert_invoice(ctx: EventContext) -> None:
    invoice = mirror.complete_invoice_lines(ctx.fetch, ctx.object)
    mirror.apply_object(ctx.db, ctx.workspace_id, invoice, ctx.version, _refetcher(ctx, invoice))


@on("customer.deleted", "product.deleted", "price.deleted", "invoice.deleted", stage=MIRROR_STAGE)
def mark_deleted(ctx: EventContext) -> None:
    kind = ctx.object.get("object")
    if kind in mirror.TABLES:
        mirror.apply_object(ctx.db, ctx.workspace_id, ctx.object, ctx.version)
        mirror.mark_deleted(ctx.db, ctx.workspace_id, kind, ctx.object["id"], ctx.version)


@on("account.application.deauthorized", stage=MIRROR_STAGE)
def deauthorized(ctx: EventContext) -> None:
    connection.mark_revoked(
        ctx.db, ctx.workspace_id, "Backstop's access was removed in Stripe (the Connect grant was revoked)."
    )
