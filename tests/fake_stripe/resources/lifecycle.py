"""What happens to a subscription over time: its first invoice, trials, renewals, cancellation,
pausing, and how payment outcomes move its status (active → past_due → canceled/unpaid, and back).
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..clock import DAY, add_interval
from ..shapes import subscription_item
from ..state import Store
from .billing import (
    attempt_payment,
    finalize,
    mark_uncollectible,
    subscription_invoice,
)
from .billing import void as void_invoice
from .common import Change

UPDATED = "customer.subscription.updated"


def sub_event(store: Store, sub: dict[str, Any], event_type: str) -> str | None:
    """While a subscription is being created its intermediate states emit nothing (Stripe sends one
    `customer.subscription.created` with the outcome)."""
    return None if sub["id"] in store.state.quiet else event_type


def interval_of(sub: dict[str, Any]) -> tuple[str, int]:
    rec = sub["items"]["data"][0]["price"]["recurring"] if sub["items"]["data"] else None
    return (rec["interval"], rec["interval_count"]) if rec else ("month", 1)


def period_of(sub: dict[str, Any]) -> tuple[int, int]:
    item = sub["items"]["data"][0]
    return item["current_period_start"], item["current_period_end"]


def add_item(store: Store, sub: dict[str, Any], price: dict[str, Any], quantity: int, start: int) -> dict:
    rec = price["recurring"]
    end = add_interval(start, rec["interval"], rec["interval_count"])
    item = subscription_item(store.new_id("si"), store.now(), sub["id"], price, quantity, start, end)
    sub["items"]["data"].append(item)
    return store.put(item)


def _set_period(sub: dict[str, Any], start: int, end: int) -> None:
    for item in sub["items"]["data"]:
        item["current_period_start"], item["current_period_end"] = start, end


def set_trial_end(store: Store, sub: dict[str, Any], end: int, start: int | None = None) -> None:
    begin = start if start is not None else (sub["trial_start"] or store.now())
    sub["trial_start"], sub["trial_end"] = begin, end
    _set_period(sub, begin, end)


def first_invoice(store: Store, sub: dict[str, Any], behaviour: str, *, trial: bool) -> dict[str, Any]:
    inv = subscription_invoice(store, sub, "subscription_create", period_of(sub), trial=trial)
    sub["latest_invoice"] = inv["id"]
    if sub["collection_method"] == "send_invoice":
        inv["due_date"] = store.now() + (sub["days_until_due"] or 30) * DAY
        finalize(store, inv)
        if not trial:
            sub["status"] = "active"
    elif trial or behaviour == "default_incomplete":
        finalize(store, inv)
    else:
        attempt_payment(store, inv)
    if trial:
        sub["status"] = "trialing"
    return inv


def cancel_now(
    store: Store,
    sub: dict[str, Any],
    *,
    reason: str = "cancellation_requested",
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    now = store.now()
    sub.update(status="canceled", canceled_at=now, ended_at=now)
    sub["cancellation_details"]["reason"] = reason
    for key in ("comment", "feedback"):
        if details and key in details:
            sub["cancellation_details"][key] = details[key] or None
    for inv in store.all("invoice"):
        if _belongs(inv, sub) and inv["status"] == "open" and inv["next_payment_attempt"] is not None:
            with Change(store, inv, "invoice.updated"):
                inv["next_payment_attempt"] = None
    if sub_event(store, sub, "x"):
        store.emit("customer.subscription.deleted", sub)
    return sub


def _belongs(inv: dict[str, Any], sub: dict[str, Any]) -> bool:
    details = (inv.get("parent") or {}).get("subscription_details") or {}
    return details.get("subscription") == sub["id"]


def renew(store: Store, sub: dict[str, Any]) -> dict[str, Any] | None:
    """Start the subscription's next period now: cancel if it was set to, else invoice and collect.
    Returns the renewal invoice (None when the subscription ended or paused instead)."""
    now = store.now()
    if sub["status"] in ("canceled", "incomplete_expired", "incomplete", "paused"):
        raise errors.invalid_request(f"A {sub['status']} subscription does not renew ({sub['id']}).")
    if sub["cancel_at_period_end"] or (sub["cancel_at"] is not None and sub["cancel_at"] <= now):
        return cancel_now(store, sub) and None
    trial_ending = sub["status"] == "trialing"
    if trial_ending and default_payment_method_for(store, sub) is None:
        behaviour = sub["trial_settings"]["end_behavior"]["missing_payment_method"]
        if behaviour == "pause":
            with Change(store, sub, UPDATED):
                sub["status"] = "paused"
            store.emit("customer.subscription.paused", sub, {"status": "trialing"})
            return None
        if behaviour == "cancel":
            return cancel_now(store, sub) and None
    interval, count = interval_of(sub)
    previous_start = period_of(sub)[0]
    with Change(store, sub, UPDATED):
        _set_period(sub, now, add_interval(now, interval, count))
        if trial_ending:
            sub["status"] = "active"
    inv = subscription_invoice(store, sub, "subscription_cycle", period_of(sub))
    inv["period_start"] = previous_start
    with Change(store, sub, UPDATED):
        sub["latest_invoice"] = inv["id"]
    collect(store, sub, inv)
    return inv


def collect(store: Store, sub: dict[str, Any], inv: dict[str, Any]) -> None:
    """Finalize and charge a renewal invoice, unless collection is paused or the sub is unpaid."""
    pause = sub["pause_collection"]
    if pause is not None:
        if pause["behavior"] == "keep_as_draft":
            inv["auto_advance"] = False
            return
        finalize(store, inv)
        if inv["status"] == "open":
            (void_invoice if pause["behavior"] == "void" else mark_uncollectible)(store, inv)
        return
    if sub["status"] == "unpaid":
        inv["auto_advance"] = False
        finalize(store, inv)
        return
    if sub["collection_method"] == "send_invoice":
        inv["due_date"] = store.now() + (sub["days_until_due"] or 30) * DAY
        finalize(store, inv)
        return
    attempt_payment(store, inv)


def default_payment_method_for(store: Store, sub: dict[str, Any]) -> str | None:
    cus = store.find(sub["customer"])
    return sub["default_payment_method"] or (
        cus["invoice_settings"]["default_payment_method"] if cus else None
    )


def end_trial_now(store: Store, sub: dict[str, Any]) -> dict[str, Any]:
    now = store.now()
    interval, count = interval_of(sub)
    with Change(store, sub, UPDATED):
        sub["trial_end"] = now
        _set_period(sub, now, add_interval(now, interval, count))
        sub["status"] = "active"
    inv = subscription_invoice(store, sub, "subscription_update", period_of(sub))
    with Change(store, sub, UPDATED):
        sub["latest_invoice"] = inv["id"]
    attempt_payment(store, inv)
    return sub


def resume(store: Store, sub: dict[str, Any]) -> dict[str, Any]:
    if sub["status"] != "paused":
        raise errors.invalid_request(f"Subscription cannot be resumed because its status is {sub['status']}.")
    now = store.now()
    interval, count = interval_of(sub)
    with Change(store, sub, UPDATED):
        sub["status"] = "active"
        _set_period(sub, now, add_interval(now, interval, count))
    store.emit("customer.subscription.resumed", sub, {"status": "paused"})
    inv = subscription_invoice(store, sub, "subscription_cycle", period_of(sub))
    with Change(store, sub, UPDATED):
        sub["latest_invoice"] = inv["id"]
    collect(store, sub, inv)
    return sub


def after_failed_payment(store: Store, sub: dict[str, Any], inv: dict[str, Any]) -> None:
    if sub["status"] in ("active", "trialing") and inv["billing_reason"] != "subscription_create":
        with Change(store, sub, sub_event(store, sub, UPDATED)):
            sub["status"] = "past_due"
    settings = store.state.billing
    final = (
        inv["auto_advance"]
        and inv["billing_reason"] != "subscription_create"
        and inv["attempt_count"] > len(settings.retry_days)
    )
    if not final:
        return
    if settings.invoice_after_final_failure == "uncollectible" and inv["status"] == "open":
        mark_uncollectible(store, inv)
    if settings.after_final_failure == "canceled" and sub["status"] not in ("canceled", "incomplete_expired"):
        cancel_now(store, sub, reason="payment_failed")
    elif settings.after_final_failure == "unpaid" and sub["status"] == "past_due":
        with Change(store, sub, UPDATED):
            sub["status"] = "unpaid"


def after_paid(store: Store, sub: dict[str, Any], inv: dict[str, Any]) -> None:
    if sub["status"] not in ("incomplete", "past_due", "unpaid"):
        return
    still_open = [
        other
        for other in store.all("invoice")
        if _belongs(other, sub) and other["id"] != inv["id"] and other["status"] == "open"
    ]
    if not still_open:
        with Change(store, sub, sub_event(store, sub, UPDATED)):
            sub["status"] = "active"


def expire_incomplete(store: Store, sub: dict[str, Any]) -> None:
    """An `incomplete` subscription whose first invoice stays unpaid for 23 hours expires."""
    with Change(store, sub, UPDATED):
        sub.update(status="incomplete_expired", ended_at=store.now())
    inv = store.find(sub["latest_invoice"])
    if inv is not None and inv["status"] == "open":
        void_invoice(store, inv)
