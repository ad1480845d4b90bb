"""Flattening Stripe objects (as the pinned API version shapes them) into mirror rows.

Pure functions: no I/O, so every shape quirk is testable with Stripe's own example objects.
Only card metadata is kept (brand, last4, expiry) — never a card number or CVC.
"""

from __future__ import annotations

import json
from typing import Any

# Months per billing interval, to express any price as a monthly amount (MRR).
_MONTHS = {"day": 12 / 365, "week": 12 / 52, "month": 1, "year": 12}


def ref_id(value: Any) -> str | None:
    """An id from a field that may hold the id or the expanded object."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value.get("id")
    return getattr(value, "id", None)


def _get(obj: dict | None, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _json(value: Any) -> str | None:
    return json.dumps(value, separators=(",", ":"), sort_keys=True) if value else None


def card_fields(pm: Any) -> dict:
    """Card metadata of an expanded payment method, or empty when it isn't a card."""
    if not isinstance(pm, dict):
        return {}
    card = pm.get("card") or {}
    return {
        "card_brand": card.get("display_brand") or card.get("brand"),
        "card_last4": card.get("last4"),
        "card_exp_month": card.get("exp_month"),
        "card_exp_year": card.get("exp_year"),
    }


def customer_row(obj: dict) -> dict:
    default_pm = _get(obj, "invoice_settings", "default_payment_method")
    return {
        "id": obj["id"],
        "email": obj.get("email"),
        "name": obj.get("name"),
        "currency": obj.get("currency"),
        "delinquent": int(bool(obj.get("delinquent"))),
        "default_payment_method": ref_id(default_pm),
        "default_source": ref_id(obj.get("default_source")),
        "metadata": _json(obj.get("metadata")),
        "created": obj.get("created"),
        "deleted": int(bool(obj.get("deleted"))),
    }


def payment_method_row(obj: dict) -> dict:
    return {
        "id": obj["id"],
        "customer_id": ref_id(obj.get("customer")),
        "type": obj.get("type"),
        **card_fields(obj),
        "created": obj.get("created"),
    }


def product_row(obj: dict) -> dict:
    return {
        "id": obj["id"],
        "name": obj.get("name"),
        "active": int(bool(obj.get("active", True))),
        "deleted": int(bool(obj.get("deleted"))),
    }


def price_row(obj: dict) -> dict:
    recurring = obj.get("recurring") or {}
    return {
        "id": obj["id"],
        "product_id": ref_id(obj.get("product")),
        "currency": obj.get("currency"),
        "unit_amount": obj.get("unit_amount"),
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count"),
        "nickname": obj.get("nickname"),
        "active": int(bool(obj.get("active", True))),
        "deleted": int(bool(obj.get("deleted"))),
    }


def monthly_amount(
    unit_amount: int | None, quantity: int | None, interval: str | None, count: int | None
) -> int:
    """A recurring price as minor units per month, rounded to the nearest unit."""
    if unit_amount is None or interval not in _MONTHS:
        return 0
    months = _MONTHS[interval] * (count or 1)
    return round(unit_amount * (quantity or 1) / months)


def subscription_row(obj: dict) -> dict:
    items = _get(obj, "items", "data") or []
    mrr = 0
    first_price: dict = {}
    first_item: dict = {}
    for index, item in enumerate(items):
        price = item.get("price") or {}
        if isinstance(price, str):
            price = {"id": price}
        recurring = price.get("recurring") or {}
        mrr += monthly_amount(
            price.get("unit_amount"),
            item.get("quantity"),
            recurring.get("interval"),
            recurring.get("interval_count"),
        )
        if index == 0:
            first_price, first_item = price, item
    discounts = obj.get("discounts") or []
    coupon = None
    if discounts and isinstance(discounts[0], dict):
        coupon = ref_id(_get(discounts[0], "source", "coupon")) or ref_id(discounts[0].get("coupon"))
    default_pm = obj.get("default_payment_method")
    return {
        "id": obj["id"],
        "customer_id": ref_id(obj.get("customer")),
        "status": obj.get("status"),
        "item_id": first_item.get("id"),
        "price_id": first_price.get("id"),
        "product_id": ref_id(first_price.get("product")),
        "quantity": first_item.get("quantity"),
        "currency": obj.get("currency") or first_price.get("currency"),
        "mrr": mrr,
        "current_period_start": first_item.get("current_period_start") or obj.get("current_period_start"),
        "current_period_end": first_item.get("current_period_end") or obj.get("current_period_end"),
        "cancel_at_period_end": int(bool(obj.get("cancel_at_period_end"))),
        "cancel_at": obj.get("cancel_at"),
        "canceled_at": obj.get("canceled_at"),
        "ended_at": obj.get("ended_at"),
        "trial_end": obj.get("trial_end"),
        "pause_collection": _json(obj.get("pause_collection")),
        "coupon_id": coupon,
        "default_payment_method": ref_id(default_pm),
        "latest_invoice": ref_id(obj.get("latest_invoice")),
        "collection_method": obj.get("collection_method"),
        "created": obj.get("created"),
    }


def invoice_subscription_id(obj: dict) -> str | None:
    """The invoice's subscription: ``parent.subscription_details.subscription`` in the current API
    version, the top-level ``subscription`` field in older payloads."""
    return ref_id(_get(obj, "parent", "subscription_details", "subscription")) or ref_id(
        obj.get("subscription")
    )


def invoice_row(obj: dict) -> dict:
    transitions = obj.get("status_transitions") or {}
    return {
        "id": obj["id"],
        "customer_id": ref_id(obj.get("customer")),
        "subscription_id": invoice_subscription_id(obj),
        "status": obj.get("status"),
        "number": obj.get("number"),
        "billing_reason": obj.get("billing_reason"),
        "collection_method": obj.get("collection_method"),
        "currency": obj.get("currency"),
        "amount_due": obj.get("amount_due"),
        "amount_paid": obj.get("amount_paid"),
        "amount_remaining": obj.get("amount_remaining"),
        "attempt_count": obj.get("attempt_count"),
        "attempted": int(bool(obj.get("attempted"))),
        "next_payment_attempt": obj.get("next_payment_attempt"),
        "auto_advance": int(bool(obj.get("auto_advance"))),
        "hosted_invoice_url": obj.get("hosted_invoice_url"),
        "invoice_pdf": obj.get("invoice_pdf"),
        "period_start": obj.get("period_start"),
        "period_end": obj.get("period_end"),
        "paid_at": transitions.get("paid_at"),
        "voided_at": transitions.get("voided_at"),
        "created": obj.get("created"),
        "deleted": int(bool(obj.get("deleted"))),
    }


def invoice_line_rows(invoice_id: str, lines: list[dict]) -> list[dict]:
    rows = []
    for position, line in enumerate(lines):
        pricing = line.get("pricing") or {}
        price = _get(pricing, "price_details", "price") or ref_id(line.get("price"))
        period = line.get("period") or {}
        rows.append(
            {
                "invoice_id": invoice_id,
                "id": line["id"],
                "position": position,
                "description": line.get("description"),
                "amount": line.get("amount"),
                "currency": line.get("currency"),
                "quantity": line.get("quantity"),
                "price_id": ref_id(price),
                "period_start": period.get("start"),
                "period_end": period.get("end"),
            }
        )
    return rows
