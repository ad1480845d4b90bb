"""Builders for account-level objects: webhook endpoints, portal configurations, accounts (see shapes.py)."""

from __future__ import annotations

from typing import Any

from .shapes import address, lst


def webhook_endpoint(weid: str, created: int, livemode: bool, url: str, events: list[str]) -> dict[str, Any]:
    return {
        "id": weid,
        "object": "webhook_endpoint",
        "api_version": None,
        "application": None,
        "created": created,
        "description": None,
        "enabled_events": events,
        "livemode": livemode,
        "metadata": {},
        "status": "enabled",
        "url": url,
    }


def portal_configuration(bpcid: str, created: int, livemode: bool) -> dict[str, Any]:
    return {
        "id": bpcid,
        "object": "billing_portal.configuration",
        "active": True,
        "application": None,
        "business_profile": {"headline": None, "privacy_policy_url": None, "terms_of_service_url": None},
        "created": created,
        "default_return_url": None,
        "features": {
            "customer_update": {"allowed_updates": ["email", "address"], "enabled": True},
            "invoice_history": {"enabled": True},
            "payment_method_update": {"enabled": True, "payment_method_configuration": None},
            "subscription_cancel": {
                "cancellation_reason": {"enabled": False, "options": []},
                "enabled": False,
                "mode": "at_period_end",
                "proration_behavior": "none",
            },
            "subscription_update": {
                "billing_cycle_anchor": None,
                "default_allowed_updates": [],
                "enabled": False,
                "proration_behavior": "none",
                "schedule_at_period_end": {"conditions": []},
                "trial_update_behavior": "end_trial",
            },
        },
        "is_default": False,
        "livemode": livemode,
        "login_page": {"enabled": False, "url": None},
        "metadata": {},
        "name": None,
        "updated": created,
    }


def account(acct_id: str, created: int, email: str | None, name: str | None) -> dict[str, Any]:
    return {
        "id": acct_id,
        "object": "account",
        "business_profile": {
            "annual_revenue": None,
            "estimated_worker_count": None,
            "mcc": None,
            "minority_owned_business_designation": None,
            "name": name,
            "product_description": None,
            "support_address": address(),
            "support_email": email,
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": {"type": "account"},
        "country": "US",
        "created": created,
        "default_currency": "usd",
        "details_submitted": True,
        "email": email,
        "external_accounts": lst(f"/v1/accounts/{acct_id}/external_accounts"),
        "future_requirements": None,
        "metadata": {},
        "payouts_enabled": True,
        "requirements": None,
        "settings": {"dashboard": {"display_name": name, "timezone": "Etc/UTC"}},
        "tos_acceptance": {"date": created},
        "type": "standard",
    }
