"""Invoices over HTTP, plus the payment objects behind them (invoice payments, payment intents, charges)."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..encoding import as_bool, metadata_update
from ..render import created_filter, render
from ..router import Ctx, route
from ..shapes import deleted
from ..shapes_billing import invoice
from ..state import Store
from .billing import (
    attempt_payment,
    finalize,
    mark_uncollectible,
    next_attempt,
    payment_for,
    subscription_of,
    void,
)
from .common import Change


def set_auto_advance(store: Store, inv: dict[str, Any], value: bool) -> dict[str, Any]:
    """`auto_advance=false` on an open invoice stops Stripe's automatic retries (Backstop takes over)."""
    with Change(store, inv, "invoice.updated"):
        inv["auto_advance"] = value
        if inv["status"] == "draft":
            inv["automatically_finalizes_at"] = inv["created"] + 3600 if value else None
        elif inv["status"] == "open":
            inv["next_payment_attempt"] = next_attempt(store, inv, store.now()) if value else None
    return inv


@route("POST", "/v1/invoices", "invoice")
def create(ctx: Ctx) -> dict:
    ctx.allow(
        "customer", "auto_advance", "collection_method", "description", "metadata", "days_until_due",
        "default_payment_method", "currency", "pending_invoice_items_behavior", "footer",
    )  # fmt: skip
    store = ctx.store
    cus = store.get("customer", ctx.require("customer"), "customer")
    inv = invoice(store.new_id("in"), store.now(), store.livemode, cus, ctx.params.get("currency", "usd"))
    inv["auto_advance"] = as_bool(ctx.params.get("auto_advance", False), "auto_advance")
    inv["automatically_finalizes_at"] = inv["created"] + 3600 if inv["auto_advance"] else None
    _apply(store, inv, ctx.params)
    store.put(inv)
    store.emit("invoice.created", inv)
    return ctx.render(inv)


def _apply(store: Store, inv: dict[str, Any], params: dict[str, Any]) -> None:
    for key in ("description", "footer", "collection_method"):
        if key in params:
            inv[key] = params[key] or None
    if "metadata" in params:
        inv["metadata"] = metadata_update(inv["metadata"], params["metadata"])
    if "default_payment_method" in params:
        value = params["default_payment_method"]
        inv["default_payment_method"] = (
            store.get("payment_method", value, "default_payment_method")["id"] if value else None
        )


@route("GET", "/v1/invoices/{id}", "invoice")
def retrieve(ctx: Ctx) -> dict:
    return ctx.render(ctx.store.get("invoice", ctx.path["id"]))


@route("POST", "/v1/invoices/{id}", "invoice")
def update(ctx: Ctx) -> dict:
    ctx.allow(
        "auto_advance", "description", "footer", "metadata", "default_payment_method", "collection_method"
    )
    inv = ctx.store.get("invoice", ctx.path["id"])
    if inv["status"] in ("paid", "void") and set(ctx.params) - {"metadata", "expand"}:
        raise errors.invalid_request(
            f"You can only update metadata on a {inv['status']} invoice.", code="invoice_not_editable"
        )
    if "auto_advance" in ctx.params:
        set_auto_advance(ctx.store, inv, as_bool(ctx.params["auto_advance"], "auto_advance"))
    with Change(ctx.store, inv, "invoice.updated"):
        _apply(ctx.store, inv, ctx.params)
    return ctx.render(inv)


@route("DELETE", "/v1/invoices/{id}", "invoice")
def delete(ctx: Ctx) -> dict:
    inv = ctx.store.get("invoice", ctx.path["id"])
    if inv["status"] != "draft":
        raise errors.invalid_request("You can only delete draft invoices.", code="invoice_not_editable")
    ctx.store.remove(inv)
    ctx.store.emit("invoice.deleted", inv)
    return deleted("invoice", inv["id"])


@route("POST", "/v1/invoices/{id}/finalize", "invoice")
def finalize_route(ctx: Ctx) -> dict:
    ctx.allow("auto_advance")
    inv = ctx.store.get("invoice", ctx.path["id"])
    if "auto_advance" in ctx.params:
        inv["auto_advance"] = as_bool(ctx.params["auto_advance"], "auto_advance")
    return ctx.render(finalize(ctx.store, inv))


@route("POST", "/v1/invoices/{id}/pay", "invoice")
def pay(ctx: Ctx) -> dict:
    ctx.allow("payment_method", "off_session", "paid_out_of_band", "forgive", "source", "mandate")
    store = ctx.store
    inv = store.get("invoice", ctx.path["id"])
    if inv["status"] == "paid":
        raise errors.invalid_request("Invoice is already paid", code="invoice_already_paid")
    if inv["status"] == "void":
        raise errors.invalid_request(
            "This invoice has been voided and can't be paid.", code="invoice_not_editable"
        )
    if as_bool(ctx.params.get("paid_out_of_band", False), "paid_out_of_band"):
        return ctx.render(_paid_out_of_band(store, inv))
    pm_id = ctx.params.get("payment_method") or None
    if pm_id:
        store.get("payment_method", pm_id, "payment_method")
    declined = attempt_payment(store, inv, pm_id, manual=True)
    if declined is not None:
        err = errors.card_error(declined["code"], declined["decline_code"], declined["message"])
        body = err.body["error"]
        body["advice_code"] = declined.get("advice_code")
        body["charge"] = declined["charge"]
        body["payment_intent"] = render(store, declined["payment_intent"])
        body["payment_method"] = body["payment_intent"]["last_payment_error"]["payment_method"]
        raise err
    return ctx.render(inv)


def _paid_out_of_band(store: Store, inv: dict[str, Any]) -> dict[str, Any]:
    if inv["status"] == "draft":
        finalize(store, inv)
    with Change(store, inv, None):
        inv.update(
            status="paid", amount_paid=inv["amount_due"], amount_remaining=0, next_payment_attempt=None
        )
        inv["amount_paid_off_stripe"] = inv["amount_due"]
        inv["status_transitions"]["paid_at"] = store.now()
    store.emit("invoice.paid", inv)
    sub = subscription_of(store, inv)
    if sub is not None:
        from .lifecycle import after_paid

        after_paid(store, sub, inv)
    return inv


@route("POST", "/v1/invoices/{id}/void", "invoice")
def void_route(ctx: Ctx) -> dict:
    ctx.allow()
    return ctx.render(void(ctx.store, ctx.store.get("invoice", ctx.path["id"])))


@route("POST", "/v1/invoices/{id}/mark_uncollectible", "invoice")
def uncollectible_route(ctx: Ctx) -> dict:
    ctx.allow()
    return ctx.render(mark_uncollectible(ctx.store, ctx.store.get("invoice", ctx.path["id"])))


@route("GET", "/v1/invoices", "invoice")
def list_invoices(ctx: Ctx) -> dict:
    ctx.allow(
        "limit", "starting_after", "ending_before", "customer", "subscription", "status", "created",
        "collection_method", "due_date",
    )  # fmt: skip
    params = ctx.params
    status = params.get("status")
    if status not in (None, "draft", "open", "paid", "uncollectible", "void"):
        raise errors.invalid_request(f"Invalid status: {status}", param="status")
    keep = created_filter(params)

    def wanted(inv: dict[str, Any]) -> bool:
        sub = ((inv.get("parent") or {}).get("subscription_details") or {}).get("subscription")
        return (
            keep(inv)
            and params.get("customer") in (None, inv["customer"])
            and params.get("subscription") in (None, sub)
            and status in (None, inv["status"])
            and params.get("collection_method") in (None, inv["collection_method"])
        )

    return ctx.list(i for i in ctx.store.all("invoice") if wanted(i))


@route("GET", "/v1/invoices/{id}/lines", "invoice")
def lines(ctx: Ctx) -> dict:
    ctx.allow("limit", "starting_after", "ending_before")
    inv = ctx.store.get("invoice", ctx.path["id"])
    return ctx.list(inv["lines"]["data"])


@route("GET", "/v1/invoice_payments", "invoice")
def list_invoice_payments(ctx: Ctx) -> dict:
    ctx.allow("limit", "starting_after", "ending_before", "invoice", "payment", "status")
    params = ctx.params
    payment = params.get("payment") if isinstance(params.get("payment"), dict) else {}
    rows = (
        ip
        for ip in ctx.store.all("invoice_payment")
        if params.get("invoice") in (None, ip["invoice"])
        and params.get("status") in (None, ip["status"])
        and payment.get("payment_intent") in (None, ip["payment"]["payment_intent"])
    )
    return ctx.list(rows)


@route("GET", "/v1/invoice_payments/{id}", "invoice")
def retrieve_invoice_payment(ctx: Ctx) -> dict:
    return ctx.render(ctx.store.get("invoice_payment", ctx.path["id"]))


@route("GET", "/v1/payment_intents/{id}", "payment_intent")
def retrieve_payment_intent(ctx: Ctx) -> dict:
    return ctx.render(ctx.store.get("payment_intent", ctx.path["id"]))


@route("GET", "/v1/payment_intents", "payment_intent")
def list_payment_intents(ctx: Ctx) -> dict:
    ctx.allow("limit", "starting_after", "ending_before", "customer", "created")
    customer = ctx.params.get("customer")
    keep = created_filter(ctx.params)
    return ctx.list(
        p for p in ctx.store.all("payment_intent") if keep(p) and customer in (None, p["customer"])
    )


@route("GET", "/v1/charges/{id}", "charge")
def retrieve_charge(ctx: Ctx) -> dict:
    return ctx.render(ctx.store.get("charge", ctx.path["id"]))


@route("GET", "/v1/charges", "charge")
def list_charges(ctx: Ctx) -> dict:
    ctx.allow("limit", "starting_after", "ending_before", "customer", "payment_intent", "created")
    params = ctx.params
    keep = created_filter(params)
    rows = (
        c
        for c in ctx.store.all("charge")
        if keep(c)
        and params.get("customer") in (None, c["customer"])
        and params.get("payment_intent") in (None, c["payment_intent"])
    )
    return ctx.list(rows)


__all__ = ["payment_for", "set_auto_advance"]
