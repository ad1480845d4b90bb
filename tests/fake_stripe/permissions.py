"""Restricted-key permissions, named the way Stripe's permission errors name them (`rak_<resource>_<access>`).

A key registered with {"invoices": "read"} may GET invoices but gets Stripe's 403 on a write;
"write" includes "read"; a resource missing from the dict is "none".
"""

from __future__ import annotations

from . import errors
from .state import Key

RESOURCES = (
    "account",
    "billing_portal",
    "charge",
    "coupon",
    "customer",
    "event",
    "invoice",
    "payment_intent",
    "payment_method",
    "price",
    "product",
    "setup_intent",
    "subscription",
    "webhook_endpoint",
)
_ALIASES = {name + "s": name for name in RESOURCES} | {
    "billing_portal_configurations": "billing_portal",
    "customer_portal": "billing_portal",
    "webhooks": "webhook_endpoint",
    "plans": "price",
}
LEVELS = {"none": 0, "read": 1, "write": 2}


def normalise(permissions: dict[str, str]) -> dict[str, str]:
    result = {}
    for name, level in permissions.items():
        canonical = _ALIASES.get(name, name)
        if canonical not in RESOURCES:
            raise ValueError(f"unknown permission resource {name!r}; one of {RESOURCES}")
        if level not in LEVELS:
            raise ValueError(f"permission level is 'none', 'read' or 'write', not {level!r}")
        result[canonical] = level
    return result


def check(key: Key, resource: str | None, access: str, account: str) -> None:
    if key.permissions is None or resource is None:
        return
    granted = LEVELS[key.permissions.get(resource, "none")]
    if granted >= LEVELS[access]:
        return
    raise errors.permission(
        f"The provided key '{errors.mask_key(key.secret)}' does not have the required permissions for "
        f"this endpoint on account '{account}'. Having the 'rak_{resource}_{access}' permission would "
        "allow this request to continue."
    )
