"""Customers: create, retrieve, update, delete, list, and their payment methods."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..encoding import as_int, metadata_update
from ..render import created_filter
from ..router import Ctx, route
from ..shapes import customer as customer_shape
from ..shapes import deleted
from ..state import Store
from .common import Change

FIELDS = ("email", "name", "description", "phone", "address", "shipping", "preferred_locales", "tax_exempt")


def create_customer(
    store: Store, params: dict[str, Any] | None = None, *, created: int | None = None
) -> dict:
    """Create a customer as `POST /v1/customers` would (also used directly by scenario helpers)."""
    params = dict(params or {})
    cid = params.pop("id", None) or store.new_id("cus")
    cus = customer_shape(cid, created or store.now(), store.livemode, store.state.ids.token(8).upper())
    payment_method = params.pop("payment_method", None)
    _apply(store, cus, params)
    store.put(cus)
    store.emit("customer.created", cus)
    if payment_method:
        from .payment_methods import attach

        attach(store, payment_method, cus["id"], param="payment_method")
    return cus


def _apply(store: Store, cus: dict[str, Any], params: dict[str, Any]) -> None:
    for name in FIELDS:
        if name in params:
            value = params[name]
            cus[name] = None if value == "" and name != "preferred_locales" else value
    if "balance" in params:
        cus["balance"] = as_int(params["balance"], "balance")
    if "metadata" in params:
        cus["metadata"] = metadata_update(cus["metadata"], params["metadata"])
    settings = params.get("invoice_settings")
    if isinstance(settings, dict) and "default_payment_method" in settings:
        pm_id = settings["default_payment_method"] or None
        if pm_id is not None:
            pm = store.find(pm_id)
            if pm is None or pm["object"] != "payment_method":
                raise errors.no_such("PaymentMethod", pm_id, "invoice_settings[default_payment_method]")
            if pm["customer"] != cus["id"]:
                raise errors.invalid_request(
                    f"The customer does not have a payment method with the ID {pm_id}. The payment method "
                    "must be attached to the customer.",
                    param="invoice_settings[default_payment_method]",
                )
        cus["invoice_settings"]["default_payment_method"] = pm_id


def update_customer(store: Store, cus: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    with Change(store, cus, "customer.updated"):
        _apply(store, cus, params)
    return cus


def delete_customer(store: Store, cus: dict[str, Any]) -> dict[str, Any]:
    from .subscriptions import cancel_now

    for sub in list(store.all("subscription")):
        if sub["customer"] == cus["id"] and sub["status"] not in ("canceled", "incomplete_expired"):
            cancel_now(store, sub, reason="cancellation_requested")
    store.remove(cus)
    store.emit("customer.deleted", cus)
    return deleted("customer", cus["id"])


def get_customer(store: Store, cid: str, param: str = "customer") -> dict[str, Any]:
    return store.get("customer", cid, param)


@route("POST", "/v1/customers", "customer")
def create(ctx: Ctx) -> dict:
    ctx.allow("payment_method", "metadata", "balance", "invoice_settings", *FIELDS)
    params = {k: v for k, v in ctx.params.items() if k != "expand"}
    return ctx.render(create_customer(ctx.store, params))


@route("GET", "/v1/customers/{id}", "customer")
def retrieve(ctx: Ctx) -> dict:
    cid = ctx.path["id"]
    if ctx.store.deleted.get(cid) == "customer":
        return deleted("customer", cid)
    return ctx.render(ctx.store.get("customer", cid))


@route("POST", "/v1/customers/{id}", "customer")
def update(ctx: Ctx) -> dict:
    ctx.allow("metadata", "balance", "invoice_settings", *FIELDS)
    cus = get_customer(ctx.store, ctx.path["id"], "id")
    return ctx.render(update_customer(ctx.store, cus, ctx.params))


@route("DELETE", "/v1/customers/{id}", "customer")
def delete(ctx: Ctx) -> dict:
    return delete_customer(ctx.store, get_customer(ctx.store, ctx.path["id"], "id"))


@route("GET", "/v1/customers", "customer")
def list_customers(ctx: Ctx) -> dict:
    ctx.allow("limit", "starting_after", "ending_before", "email", "created", "test_clock")
    email = ctx.params.get("email")
    keep = created_filter(ctx.params)
    rows = (c for c in ctx.store.all("customer") if keep(c) and (email is None or c["email"] == email))
    return ctx.list(rows)


@route("GET", "/v1/customers/{id}/payment_methods", "payment_method")
def customer_payment_methods(ctx: Ctx) -> dict:
    ctx.allow("limit", "starting_after", "ending_before", "type", "allow_redisplay")
    cus = get_customer(ctx.store, ctx.path["id"], "customer")
    kind = ctx.params.get("type")
    rows = (
        pm
        for pm in ctx.store.all("payment_method")
        if pm["customer"] == cus["id"] and (kind is None or pm["type"] == kind)
    )
    return ctx.list(rows)


@route("GET", "/v1/customers/{id}/payment_methods/{pm}", "payment_method")
def customer_payment_method(ctx: Ctx) -> dict:
    cus = get_customer(ctx.store, ctx.path["id"], "customer")
    pm = ctx.store.get("payment_method", ctx.path["pm"], "payment_method")
    if pm["customer"] != cus["id"]:
        raise errors.no_such("payment_method", pm["id"], "payment_method")
    return ctx.render(pm)
