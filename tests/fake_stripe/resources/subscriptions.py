"""Subscriptions over HTTP: create, retrieve, update, cancel, resume, list, and their items."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..encoding import as_bool, as_int, as_list, metadata_update
from ..render import created_filter
from ..router import Ctx, route
from ..shapes import deleted, subscription
from ..state import Store
from .common import Change
from .lifecycle import (
    add_item,
    cancel_now,
    end_trial_now,
    first_invoice,
    resume,
    set_trial_end,
    sub_event,
)

CREATE_PARAMS = (
    "customer", "items", "default_payment_method", "trial_end", "trial_period_days", "trial_from_plan",
    "cancel_at_period_end", "cancel_at", "payment_behavior", "collection_method", "days_until_due",
    "metadata", "description", "discounts", "trial_settings", "off_session", "proration_behavior",
    "currency", "automatic_tax", "payment_settings", "backdate_start_date", "billing_cycle_anchor",
)  # fmt: skip
UPDATE_PARAMS = (
    "items", "default_payment_method", "trial_end", "cancel_at_period_end", "cancel_at", "pause_collection",
    "payment_behavior", "collection_method", "days_until_due", "metadata", "description", "discounts",
    "trial_settings", "off_session", "proration_behavior", "proration_date", "cancellation_details",
    "payment_settings", "billing_cycle_anchor", "automatic_tax", "trial_from_plan",
)  # fmt: skip
PAYMENT_BEHAVIORS = ("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete")


def create_subscription(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    cus = store.get("customer", params.get("customer") or _missing("customer"), "customer")
    items = as_list(params.get("items"), "items")
    if not items:
        raise errors.missing_param("items")
    prices = [
        store.get("price", (i or {}).get("price") or _missing(f"items[{n}][price]"), f"items[{n}][price]")
        for n, i in enumerate(items)
    ]
    for n, p in enumerate(prices):
        if p["type"] != "recurring":
            raise errors.invalid_request(
                "The price specified is set to `type=one_time` but this field only accepts prices with "
                "`type=recurring`.",
                param=f"items[{n}][price]",
            )
    behaviour = params.get("payment_behavior", "allow_incomplete")
    if behaviour not in PAYMENT_BEHAVIORS:
        raise errors.invalid_request(f"Invalid payment_behavior: {behaviour}", param="payment_behavior")
    now = store.now()
    sub = subscription(store.new_id("sub"), now, store.livemode, cus["id"], prices[0]["currency"])
    if params.get("default_payment_method"):
        sub["default_payment_method"] = _own_payment_method(store, cus, params["default_payment_method"])
    _apply_simple(store, sub, params)
    trial_end = _trial_end(store, params, prices)
    store.put(sub)
    store.state.quiet.add(sub["id"])
    try:
        for n, (spec, p) in enumerate(zip(items, prices, strict=True)):
            add_item(store, sub, p, as_int((spec or {}).get("quantity", 1), f"items[{n}][quantity]"), now)
        for d in as_list(params.get("discounts"), "discounts"):
            sub["discounts"].append(_discount_for(store, sub, d))
        if trial_end:
            set_trial_end(store, sub, trial_end, start=now)
            sub["status"] = "trialing"
        _apply_cancel(store, sub, params)
        if behaviour == "error_if_incomplete" and not trial_end:
            _refuse_if_declining(store, sub)
        first_invoice(store, sub, behaviour, trial=bool(trial_end))
    finally:
        store.state.quiet.discard(sub["id"])
    store.emit("customer.subscription.created", sub)
    return sub


def _missing(param: str) -> Any:
    raise errors.missing_param(param)


def _own_payment_method(store: Store, cus: dict[str, Any], pm_id: str) -> str:
    pm = store.find(pm_id)
    if pm is None or pm["object"] != "payment_method":
        raise errors.no_such("PaymentMethod", pm_id, "default_payment_method")
    if pm["customer"] != cus["id"]:
        raise errors.invalid_request(
            f"The customer does not have a payment method with the ID {pm_id}. The payment method must be "
            "attached to the customer.",
            param="default_payment_method",
        )
    return pm["id"]


def _trial_end(store: Store, params: dict[str, Any], prices: list[dict[str, Any]]) -> int | None:
    value = params.get("trial_end")
    if value == "now":
        return None
    if value not in (None, ""):
        end = as_int(value, "trial_end")
        if end <= store.now():
            raise errors.invalid_request(
                "Invalid timestamp: must be an integer Unix timestamp in the future.", param="trial_end"
            )
        return end
    days = params.get("trial_period_days")
    if days in (None, "") and as_bool(params.get("trial_from_plan", False), "trial_from_plan"):
        days = (prices[0]["recurring"] or {}).get("trial_period_days")
    if days not in (None, "") and as_int(days, "trial_period_days") > 0:
        return store.now() + as_int(days, "trial_period_days") * 86_400
    return None


def _apply_simple(store: Store, sub: dict[str, Any], params: dict[str, Any]) -> None:
    if "metadata" in params:
        sub["metadata"] = metadata_update(sub["metadata"], params["metadata"])
    if "description" in params:
        sub["description"] = params["description"] or None
    if "collection_method" in params:
        sub["collection_method"] = params["collection_method"]
    if params.get("days_until_due") not in (None, ""):
        sub["days_until_due"] = as_int(params["days_until_due"], "days_until_due")
    settings = params.get("trial_settings")
    if isinstance(settings, dict) and isinstance(settings.get("end_behavior"), dict):
        behaviour = settings["end_behavior"].get("missing_payment_method", "create_invoice")
        sub["trial_settings"]["end_behavior"]["missing_payment_method"] = behaviour


def _apply_cancel(store: Store, sub: dict[str, Any], params: dict[str, Any]) -> None:
    period_end = min((i["current_period_end"] for i in sub["items"]["data"]), default=None)
    if "cancel_at_period_end" in params:
        if as_bool(params["cancel_at_period_end"], "cancel_at_period_end"):
            sub.update(cancel_at_period_end=True, cancel_at=period_end, canceled_at=store.now())
        else:
            sub.update(cancel_at_period_end=False, cancel_at=None, canceled_at=None)
            sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": None}
    if "cancel_at" in params:
        value = params["cancel_at"]
        if value == "":
            sub.update(cancel_at=None, canceled_at=None, cancel_at_period_end=False)
        else:
            at = period_end if value == "max_period_end" else as_int(value, "cancel_at")
            sub.update(cancel_at=at, canceled_at=store.now(), cancel_at_period_end=at == period_end)
    details = params.get("cancellation_details")
    if isinstance(details, dict):
        for key in ("comment", "feedback"):
            if key in details:
                sub["cancellation_details"][key] = details[key] or None
    if sub["cancel_at"] is not None and sub["cancellation_details"]["reason"] is None:
        sub["cancellation_details"]["reason"] = "cancellation_requested"


def _discount_for(store: Store, sub: dict[str, Any], spec: Any) -> str:
    from .catalog import redeem

    if not isinstance(spec, dict) or not (spec.get("coupon") or spec.get("discount")):
        raise errors.invalid_request(
            "Each discount needs a coupon or an existing discount.", param="discounts"
        )
    if spec.get("discount"):
        return store.get("discount", spec["discount"], "discounts")["id"]
    return redeem(store, spec["coupon"], customer=sub["customer"], subscription=sub["id"], param="discounts")[
        "id"
    ]


def _refuse_if_declining(store: Store, sub: dict[str, Any]) -> None:
    cus = store.get("customer", sub["customer"])
    pm_id = sub["default_payment_method"] or cus["invoice_settings"]["default_payment_method"]
    declined = store.state.card_declines.get(pm_id) if pm_id else None
    if declined:
        store.remove(sub, keep_stub=False)
        raise errors.card_error(declined["code"], declined["decline_code"], declined["message"])


def update_subscription(store: Store, sub: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    if sub["status"] in ("canceled", "incomplete_expired"):
        allowed = {"metadata", "cancellation_details", "expand"}
        extra = set(params) - allowed
        if extra:
            raise errors.invalid_request(
                "A canceled subscription can only update its cancellation_details and metadata.",
                param=sorted(extra)[0],
            )
    with Change(store, sub, sub_event(store, sub, "customer.subscription.updated")):
        _apply_simple(store, sub, params)
        if "default_payment_method" in params:
            value = params["default_payment_method"]
            cus = store.get("customer", sub["customer"])
            sub["default_payment_method"] = _own_payment_method(store, cus, value) if value else None
        if "items" in params:
            _update_items(store, sub, as_list(params["items"], "items"))
        if "discounts" in params:
            specs = as_list(params["discounts"], "discounts")
            sub["discounts"] = [_discount_for(store, sub, d) for d in specs]
        if "pause_collection" in params:
            _pause(sub, params["pause_collection"])
        _apply_cancel(store, sub, params)
        trial_end = params.get("trial_end")
    if trial_end == "now" and sub["status"] == "trialing":
        end_trial_now(store, sub)
    elif trial_end not in (None, "", "now"):
        with Change(store, sub, sub_event(store, sub, "customer.subscription.updated")):
            set_trial_end(store, sub, as_int(trial_end, "trial_end"))
            sub["status"] = "trialing"
    return sub


def _pause(sub: dict[str, Any], value: Any) -> None:
    if value == "":
        sub["pause_collection"] = None
        return
    if not isinstance(value, dict) or value.get("behavior") not in (
        "keep_as_draft",
        "mark_uncollectible",
        "void",
    ):
        raise errors.invalid_request(
            "pause_collection[behavior] must be one of keep_as_draft, mark_uncollectible, void.",
            param="pause_collection[behavior]",
        )
    resumes = value.get("resumes_at")
    sub["pause_collection"] = {
        "behavior": value["behavior"],
        "resumes_at": as_int(resumes, "pause_collection[resumes_at]") if resumes not in (None, "") else None,
    }


def _update_items(store: Store, sub: dict[str, Any], specs: list[Any]) -> None:
    current = {i["id"]: i for i in sub["items"]["data"]}
    for n, spec in enumerate(specs):
        spec = spec or {}
        if spec.get("id"):
            item = current.get(spec["id"]) or _no_item(spec["id"], n)
            if as_bool(spec.get("deleted", False), f"items[{n}][deleted]"):
                sub["items"]["data"].remove(item)
                store.remove(item)
                continue
            if spec.get("price"):
                p = store.get("price", spec["price"], f"items[{n}][price]")
                from ..shapes import plan_from_price

                item["price"], item["plan"] = p, plan_from_price(p)
            if "quantity" in spec:
                item["quantity"] = as_int(spec["quantity"], f"items[{n}][quantity]")
            if "metadata" in spec:
                item["metadata"] = metadata_update(item["metadata"], spec["metadata"])
        else:
            p = store.get("price", spec.get("price") or _missing(f"items[{n}][price]"), f"items[{n}][price]")
            first = sub["items"]["data"][0] if sub["items"]["data"] else None
            item = add_item(
                store, sub, p, as_int(spec.get("quantity", 1), f"items[{n}][quantity]"), store.now()
            )
            if first is not None:
                item["current_period_start"] = first["current_period_start"]
                item["current_period_end"] = first["current_period_end"]


def _no_item(item_id: str, n: int) -> Any:
    raise errors.invalid_request(
        f"Subscription item {item_id} does not belong to this subscription.", param=f"items[{n}][id]"
    )


@route("POST", "/v1/subscriptions", "subscription")
def create(ctx: Ctx) -> dict:
    ctx.allow(*CREATE_PARAMS)
    return ctx.render(create_subscription(ctx.store, ctx.params))


@route("GET", "/v1/subscriptions/{id}", "subscription")
def retrieve(ctx: Ctx) -> dict:
    return ctx.render(ctx.store.get("subscription", ctx.path["id"]))


@route("POST", "/v1/subscriptions/{id}", "subscription")
def update(ctx: Ctx) -> dict:
    ctx.allow(*UPDATE_PARAMS)
    sub = ctx.store.get("subscription", ctx.path["id"])
    return ctx.render(update_subscription(ctx.store, sub, ctx.params))


@route("DELETE", "/v1/subscriptions/{id}", "subscription")
def cancel(ctx: Ctx) -> dict:
    ctx.allow("invoice_now", "prorate", "cancellation_details")
    sub = ctx.store.get("subscription", ctx.path["id"])
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise errors.invalid_request(
            f"A canceled subscription can't be canceled again ({sub['id']}).", code="resource_missing"
        )
    details = ctx.params.get("cancellation_details")
    return ctx.render(cancel_now(ctx.store, sub, details=details if isinstance(details, dict) else None))


@route("POST", "/v1/subscriptions/{id}/resume", "subscription")
def resume_route(ctx: Ctx) -> dict:
    ctx.allow("billing_cycle_anchor", "proration_behavior", "proration_date")
    return ctx.render(resume(ctx.store, ctx.store.get("subscription", ctx.path["id"])))


@route("GET", "/v1/subscriptions", "subscription")
def list_subscriptions(ctx: Ctx) -> dict:
    ctx.allow(
        "limit", "starting_after", "ending_before", "customer", "price", "status", "created",
        "collection_method", "test_clock", "current_period_end", "current_period_start", "automatic_tax",
    )  # fmt: skip
    status = ctx.params.get("status")
    customer, price = ctx.params.get("customer"), ctx.params.get("price")
    keep = created_filter(ctx.params)

    def wanted(sub: dict[str, Any]) -> bool:
        if status in (None, ""):
            ok = sub["status"] not in ("canceled", "incomplete_expired")
        elif status == "all":
            ok = True
        elif status == "ended":
            ok = sub["status"] in ("canceled", "incomplete_expired")
        else:
            ok = sub["status"] == status
        return (
            ok
            and keep(sub)
            and customer in (None, sub["customer"])
            and (price is None or any(i["price"]["id"] == price for i in sub["items"]["data"]))
        )

    return ctx.list(s for s in ctx.store.all("subscription") if wanted(s))


@route("GET", "/v1/subscription_items", "subscription")
def list_items(ctx: Ctx) -> dict:
    ctx.allow("limit", "starting_after", "ending_before", "subscription")
    sub = ctx.store.get("subscription", ctx.require("subscription"), "subscription")
    return ctx.list(reversed(sub["items"]["data"]))


@route("GET", "/v1/subscription_items/{id}", "subscription")
def retrieve_item(ctx: Ctx) -> dict:
    return ctx.render(ctx.store.get("subscription_item", ctx.path["id"]))


@route("DELETE", "/v1/subscription_items/{id}", "subscription")
def delete_item(ctx: Ctx) -> dict:
    item = ctx.store.get("subscription_item", ctx.path["id"])
    sub = ctx.store.get("subscription", item["subscription"])
    with Change(ctx.store, sub, "customer.subscription.updated"):
        sub["items"]["data"].remove(item)
        ctx.store.remove(item)
    return deleted("subscription_item", item["id"])
