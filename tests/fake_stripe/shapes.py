"""Builders for the JSON objects the fake answers with.

Each builder returns every field Stripe documents for the resource in the pinned API version
(2026-10-28.endive), with realistic defaults. `test_shapes.py` compares their keys with Stripe's own
example objects so a drift shows up as a failing test. Expandable fields hold ids; `expand.py`
swaps in objects when a request asks.

Fields of this API version that older code often expects and that are *gone*: `invoice.subscription`
(now `invoice.parent.subscription_details.subscription`), `invoice.charge`/`payment_intent` (now
`invoice.payments`, an includable list of `invoice_payment`), `subscription.current_period_*` (now on
each subscription item), `discount.coupon` (now `discount.source.coupon`).
"""

from __future__ import annotations

from typing import Any

API_VERSION = "2026-10-28.endive"


def address() -> dict[str, Any]:
    return {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None}


def lst(url: str, data: list[Any] | None = None, has_more: bool = False) -> dict[str, Any]:
    return {"object": "list", "data": data or [], "has_more": has_more, "url": url}


def deleted(kind: str, object_id: str) -> dict[str, Any]:
    return {"id": object_id, "object": kind, "deleted": True}


def customer(cid: str, created: int, livemode: bool, prefix: str) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "customer",
        "address": None,
        "balance": 0,
        "business_name": None,
        "created": created,
        "currency": None,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": None,
        "individual_name": None,
        "invoice_prefix": prefix,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": livemode,
        "metadata": {},
        "name": None,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def product(pid: str, created: int, livemode: bool, name: str) -> dict[str, Any]:
    return {
        "id": pid,
        "object": "product",
        "active": True,
        "created": created,
        "default_price": None,
        "description": None,
        "images": [],
        "livemode": livemode,
        "marketing_features": [],
        "metadata": {},
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": created,
        "url": None,
    }


def price(
    pid: str,
    created: int,
    livemode: bool,
    product_id: str,
    unit_amount: int,
    currency: str,
    recurring: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "id": pid,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": livemode,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": product_id,
        "recurring": recurring,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def recurring(interval: str, interval_count: int, trial_period_days: int | None) -> dict[str, Any]:
    return {
        "interval": interval,
        "interval_count": interval_count,
        "meter": None,
        "trial_period_days": trial_period_days,
        "usage_type": "licensed",
    }


def plan_from_price(p: dict[str, Any]) -> dict[str, Any]:
    """Subscription items still carry the legacy `plan` view of their price."""
    rec = p.get("recurring") or recurring("month", 1, None)
    return {
        "id": p["id"],
        "object": "plan",
        "active": p["active"],
        "amount": p["unit_amount"],
        "amount_decimal": p["unit_amount_decimal"],
        "billing_scheme": p["billing_scheme"],
        "created": p["created"],
        "currency": p["currency"],
        "interval": rec["interval"],
        "interval_count": rec["interval_count"],
        "livemode": p["livemode"],
        "metadata": dict(p["metadata"]),
        "meter": None,
        "nickname": p["nickname"],
        "product": p["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": rec["trial_period_days"],
        "usage_type": rec["usage_type"],
    }


def card_details(brand: str, last4: str, exp_month: int, exp_year: int, funding: str, fp: str) -> dict:
    return {
        "brand": brand,
        "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
        "country": "US",
        "display_brand": brand,
        "exp_month": exp_month,
        "exp_year": exp_year,
        "fingerprint": fp,
        "funding": funding,
        "generated_from": None,
        "last4": last4,
        "networks": {"available": [brand], "preferred": None},
        "regulated_status": "unregulated",
        "three_d_secure_usage": {"supported": True},
        "wallet": None,
    }


def payment_method(pmid: str, created: int, livemode: bool, card: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": pmid,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {"address": address(), "email": None, "name": None, "phone": None, "tax_id": None},
        "card": card,
        "created": created,
        "customer": None,
        "customer_account": None,
        "livemode": livemode,
        "metadata": {},
        "type": "card",
    }


def setup_intent(sid: str, created: int, livemode: bool, secret: str) -> dict[str, Any]:
    return {
        "id": sid,
        "object": "setup_intent",
        "application": None,
        "automatic_payment_methods": None,
        "cancellation_reason": None,
        "client_secret": secret,
        "created": created,
        "customer": None,
        "customer_account": None,
        "description": None,
        "excluded_payment_method_types": None,
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "livemode": livemode,
        "mandate": None,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {"mandate_options": None, "network": None, "request_three_d_secure": "automatic"}
        },
        "payment_method_types": ["card"],
        "single_use_mandate": None,
        "status": "requires_payment_method",
        "usage": "off_session",
    }


def subscription(sid: str, created: int, livemode: bool, customer_id: str, currency: str) -> dict[str, Any]:
    return {
        "id": sid,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": created,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"flexible": None, "type": "classic"},
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "customer": customer_id,
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": lst(f"/v1/subscription_items?subscription={sid}"),
        "latest_invoice": None,
        "livemode": livemode,
        "managed_payments": None,
        "metadata": {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": created,
        "status": "incomplete",
        "test_clock": None,
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
    }


def subscription_item(
    siid: str, created: int, sub_id: str, p: dict[str, Any], quantity: int, start: int, end: int
) -> dict[str, Any]:
    return {
        "id": siid,
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": created,
        "current_period_end": end,
        "current_period_start": start,
        "discounts": [],
        "metadata": {},
        "plan": plan_from_price(p),
        "price": p,
        "quantity": quantity,
        "subscription": sub_id,
        "tax_rates": [],
    }


def coupon(cid: str, created: int, livemode: bool) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "coupon",
        "amount_off": None,
        "applies_to": None,
        "created": created,
        "currency": None,
        "duration": "once",
        "duration_in_months": None,
        "livemode": livemode,
        "max_redemptions": None,
        "metadata": {},
        "name": None,
        "percent_off": None,
        "redeem_by": None,
        "times_redeemed": 0,
        "valid": True,
    }


def discount(did: str, start: int, coupon_id: str, customer_id: str | None) -> dict[str, Any]:
    return {
        "id": did,
        "object": "discount",
        "checkout_session": None,
        "customer": customer_id,
        "customer_account": None,
        "end": None,
        "invoice": None,
        "invoice_item": None,
        "promotion_code": None,
        "source": {"coupon": coupon_id, "type": "coupon"},
        "start": start,
        "subscription": None,
        "subscription_item": None,
    }
