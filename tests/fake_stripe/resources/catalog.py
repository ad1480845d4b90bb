"""Products, prices, coupons, and the discounts coupons turn into."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..clock import add_interval
from ..encoding import as_bool, as_int, as_list, metadata_update
from ..render import created_filter
from ..router import Ctx, route
from ..shapes import coupon as coupon_shape
from ..shapes import deleted, discount, price, product, recurring
from ..state import Store
from .common import Change

# --- products --------------------------------------------------------------------------------


def create_product(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("name")
    if not name:
        raise errors.missing_param("name")
    prod = product(params.get("id") or store.new_id("prod"), store.now(), store.livemode, name)
    _apply_product(prod, params)
    store.put(prod)
    store.emit("product.created", prod)
    return prod


def _apply_product(prod: dict[str, Any], params: dict[str, Any]) -> None:
    for key in ("name", "description", "statement_descriptor", "unit_label", "url"):
        if key in params:
            prod[key] = params[key] or None
    if "active" in params:
        prod["active"] = as_bool(params["active"], "active")
    if "metadata" in params:
        prod["metadata"] = metadata_update(prod["metadata"], params["metadata"])


@route("POST", "/v1/products", "product")
def create_product_route(ctx: Ctx) -> dict:
    ctx.allow("id", "name", "active", "description", "metadata", "statement_descriptor", "unit_label", "url")
    return ctx.render(create_product(ctx.store, ctx.params))


@route("GET", "/v1/products/{id}", "product")
def retrieve_product(ctx: Ctx) -> dict:
    return ctx.render(ctx.store.get("product", ctx.path["id"]))


@route("POST", "/v1/products/{id}", "product")
def update_product(ctx: Ctx) -> dict:
    ctx.allow("name", "active", "description", "metadata", "default_price", "statement_descriptor", "url")
    prod = ctx.store.get("product", ctx.path["id"])
    with Change(ctx.store, prod, "product.updated"):
        _apply_product(prod, ctx.params)
        if "default_price" in ctx.params:
            prod["default_price"] = ctx.store.get("price", ctx.params["default_price"], "default_price")["id"]
        prod["updated"] = ctx.store.now()
    return ctx.render(prod)


@route("DELETE", "/v1/products/{id}", "product")
def delete_product(ctx: Ctx) -> dict:
    prod = ctx.store.get("product", ctx.path["id"])
    if any(p["product"] == prod["id"] for p in ctx.store.all("price")):
        raise errors.invalid_request(
            "This product cannot be deleted because it has one or more user-created prices."
        )
    ctx.store.remove(prod)
    ctx.store.emit("product.deleted", prod)
    return deleted("product", prod["id"])


@route("GET", "/v1/products", "product")
def list_products(ctx: Ctx) -> dict:
    ctx.allow("limit", "starting_after", "ending_before", "active", "ids", "created", "url")
    active = as_bool(ctx.params["active"], "active") if "active" in ctx.params else None
    ids = set(as_list(ctx.params.get("ids"), "ids"))
    keep = created_filter(ctx.params)
    rows = (
        p
        for p in ctx.store.all("product")
        if keep(p) and (active is None or p["active"] == active) and (not ids or p["id"] in ids)
    )
    return ctx.list(rows)


# --- prices ----------------------------------------------------------------------------------


def create_price(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    currency = str(params.get("currency") or "").lower()
    if not currency:
        raise errors.missing_param("currency")
    if params.get("product"):
        prod = store.get("product", params["product"], "product")
    elif isinstance(params.get("product_data"), dict):
        prod = create_product(store, params["product_data"])
    else:
        raise errors.missing_param("product")
    if "unit_amount" not in params:
        raise errors.missing_param("unit_amount")
    rec = None
    if isinstance(params.get("recurring"), dict):
        spec = params["recurring"]
        interval = spec.get("interval")
        if interval not in ("day", "week", "month", "year"):
            raise errors.invalid_request(
                f"Invalid recurring[interval]: {interval}", param="recurring[interval]"
            )
        trial = spec.get("trial_period_days")
        rec = recurring(
            interval,
            as_int(spec.get("interval_count", 1), "recurring[interval_count]"),
            as_int(trial, "recurring[trial_period_days]") if trial not in (None, "") else None,
        )
    p = price(
        store.new_id("price"),
        store.now(),
        store.livemode,
        prod["id"],
        as_int(params["unit_amount"], "unit_amount"),
        currency,
        rec,
    )
    _apply_price(p, params)
    store.put(p)
    if prod["default_price"] is None:
        prod["default_price"] = p["id"]
    store.emit("price.created", p)
    return p


def _apply_price(p: dict[str, Any], params: dict[str, Any]) -> None:
    for key in ("nickname", "lookup_key"):
        if key in params:
            p[key] = params[key] or None
    if "active" in params:
        p["active"] = as_bool(params["active"], "active")
    if "metadata" in params:
        p["metadata"] = metadata_update(p["metadata"], params["metadata"])


@route("POST", "/v1/prices", "price")
def create_price_route(ctx: Ctx) -> dict:
    ctx.allow(
        "currency", "unit_amount", "product", "product_data", "recurring", "nickname", "lookup_key",
        "metadata", "active", "tax_behavior", "billing_scheme",
    )  # fmt: skip
    return ctx.render(create_price(ctx.store, ctx.params))


@route("GET", "/v1/prices/{id}", "price")
def retrieve_price(ctx: Ctx) -> dict:
    return ctx.render(ctx.store.get("price", ctx.path["id"]))


@route("POST", "/v1/prices/{id}", "price")
def update_price(ctx: Ctx) -> dict:
    ctx.allow("active", "nickname", "lookup_key", "metadata", "tax_behavior")
    p = ctx.store.get("price", ctx.path["id"])
    with Change(ctx.store, p, "price.updated"):
        _apply_price(p, ctx.params)
    return ctx.render(p)


@route("GET", "/v1/prices", "price")
def list_prices(ctx: Ctx) -> dict:
    ctx.allow(
        "limit", "starting_after", "ending_before", "active", "product", "type", "currency", "lookup_keys",
        "created", "recurring",
    )  # fmt: skip
    params = ctx.params
    active = as_bool(params["active"], "active") if "active" in params else None
    lookup = set(as_list(params.get("lookup_keys"), "lookup_keys"))
    keep = created_filter(params)

    def wanted(p: dict[str, Any]) -> bool:
        return (
            keep(p)
            and (active is None or p["active"] == active)
            and params.get("product") in (None, p["product"])
            and params.get("type") in (None, p["type"])
            and params.get("currency") in (None, p["currency"])
            and (not lookup or p["lookup_key"] in lookup)
        )

    return ctx.list(p for p in ctx.store.all("price") if wanted(p))


# --- coupons and discounts -------------------------------------------------------------------


def create_coupon(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    cid = params.get("id") or store.state.ids.token(8)
    if store.find(cid) is not None:
        raise errors.invalid_request("Coupon already exists.", param="id", code="resource_already_exists")
    c = coupon_shape(cid, store.now(), store.livemode)
    has_percent, has_amount = (
        params.get("percent_off") not in (None, ""),
        params.get("amount_off") not in (None, ""),
    )
    if has_percent == has_amount:
        raise errors.invalid_request(
            "You must specify either percent_off or amount_off.", param="percent_off"
        )
    if has_percent:
        c["percent_off"] = float(params["percent_off"])
    else:
        c["amount_off"] = as_int(params["amount_off"], "amount_off")
        if not params.get("currency"):
            raise errors.missing_param("currency")
        c["currency"] = str(params["currency"]).lower()
    c["duration"] = params.get("duration", "once")
    if c["duration"] not in ("once", "repeating", "forever"):
        raise errors.invalid_request(f"Invalid duration: {c['duration']}", param="duration")
    if c["duration"] == "repeating":
        c["duration_in_months"] = as_int(params.get("duration_in_months"), "duration_in_months")
    for key in ("max_redemptions", "redeem_by"):
        if params.get(key) not in (None, ""):
            c[key] = as_int(params[key], key)
    c["name"] = params.get("name") or None
    c["metadata"] = metadata_update({}, params.get("metadata", {}))
    store.put(c)
    store.emit("coupon.created", c)
    return c


def redeem(
    store: Store, coupon_id: str, *, customer: str | None, subscription: str | None, param: str
) -> dict:
    """Turn a coupon into a discount (as applying it to a subscription or customer does)."""
    c = store.get("coupon", coupon_id, param)
    if not c["valid"]:
        raise errors.invalid_request(f"Coupon expired: {coupon_id}", param=param, code="coupon_expired")
    now = store.now()
    d = discount(store.new_id("di"), now, c["id"], customer)
    d["subscription"] = subscription
    if c["duration"] == "repeating":
        d["end"] = add_interval(now, "month", c["duration_in_months"])
    with Change(store, c, None):
        c["times_redeemed"] += 1
        if c["max_redemptions"] is not None and c["times_redeemed"] >= c["max_redemptions"]:
            c["valid"] = False
    return store.put(d)


@route("POST", "/v1/coupons", "coupon")
def create_coupon_route(ctx: Ctx) -> dict:
    ctx.allow(
        "id", "percent_off", "amount_off", "currency", "duration", "duration_in_months", "max_redemptions",
        "redeem_by", "name", "metadata", "applies_to",
    )  # fmt: skip
    return ctx.render(create_coupon(ctx.store, ctx.params))


@route("GET", "/v1/coupons/{id}", "coupon")
def retrieve_coupon(ctx: Ctx) -> dict:
    return ctx.render(ctx.store.get("coupon", ctx.path["id"]))


@route("POST", "/v1/coupons/{id}", "coupon")
def update_coupon(ctx: Ctx) -> dict:
    ctx.allow("name", "metadata")
    c = ctx.store.get("coupon", ctx.path["id"])
    with Change(ctx.store, c, "coupon.updated"):
        if "name" in ctx.params:
            c["name"] = ctx.params["name"] or None
        if "metadata" in ctx.params:
            c["metadata"] = metadata_update(c["metadata"], ctx.params["metadata"])
    return ctx.render(c)


@route("DELETE", "/v1/coupons/{id}", "coupon")
def delete_coupon(ctx: Ctx) -> dict:
    c = ctx.store.get("coupon", ctx.path["id"])
    ctx.store.remove(c)
    ctx.store.emit("coupon.deleted", c)
    return deleted("coupon", c["id"])


@route("GET", "/v1/coupons", "coupon")
def list_coupons(ctx: Ctx) -> dict:
    ctx.allow("limit", "starting_after", "ending_before", "created")
    keep = created_filter(ctx.params)
    return ctx.list(c for c in ctx.store.all("coupon") if keep(c))
