"""What a restricted key must be allowed to do, and probing a key for each permission.

A write permission is probed by updating an object that cannot exist: Stripe answers 404 when
the key may write that resource and a permission error when it may not. Nothing is changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from backstop.connectors.stripe import (
    StripeAuthFailed,
    StripeFailure,
    StripeGateway,
    StripeNotFound,
    StripePermissionMissing,
)

PROBE_ID = "backstop_permission_probe"


@dataclass(frozen=True)
class Permission:
    resource: str  # as named on Stripe's restricted-key form
    level: str  # "Read" or "Write"
    why: str
    method: str
    path: str
    required: bool = True


PERMISSIONS: tuple[Permission, ...] = (
    Permission(
        "Customers",
        "Write",
        "mirror customers and set a new card as their default",
        "post",
        f"/v1/customers/cus_{PROBE_ID}",
    ),
    Permission(
        "Subscriptions",
        "Write",
        "apply cancel-flow outcomes: pause, discount, switch plan, cancel",
        "post",
        f"/v1/subscriptions/sub_{PROBE_ID}",
    ),
    Permission(
        "Invoices",
        "Write",
        "take over retries (auto_advance) and retry failed invoices",
        "post",
        f"/v1/invoices/in_{PROBE_ID}",
    ),
    Permission(
        "PaymentMethods",
        "Read",
        "show the card on file (brand, last 4, expiry)",
        "get",
        f"/v1/payment_methods/pm_{PROBE_ID}",
    ),
    Permission(
        "SetupIntents",
        "Write",
        "let customers enter a new card on the update-card page",
        "post",
        f"/v1/setup_intents/seti_{PROBE_ID}",
    ),
    Permission("Coupons", "Write", "create single-use save-offer coupons", "post", f"/v1/coupons/{PROBE_ID}"),
    Permission("Products", "Read", "name your plans", "get", "/v1/products"),
    Permission("Prices", "Read", "know each plan's amount and interval", "get", "/v1/prices"),
    Permission("Charges", "Read", "read decline codes of failed payments", "get", "/v1/charges"),
    Permission("Events", "Read", "catch up on events a webhook missed", "get", "/v1/events"),
    Permission(
        "Webhook Endpoints",
        "Write",
        "create Backstop's webhook endpoint for you",
        "post",
        f"/v1/webhook_endpoints/we_{PROBE_ID}",
        required=False,
    ),
    Permission(
        "Customer portal",
        "Read",
        "check whether Stripe's portal still lets customers cancel",
        "get",
        "/v1/billing_portal/configurations",
        required=False,
    ),
)


@dataclass(frozen=True)
class ProbeResult:
    granted: list[Permission]
    missing: list[Permission]

    @property
    def missing_required(self) -> list[Permission]:
        return [p for p in self.missing if p.required]

    def has(self, resource: str) -> bool:
        return any(p.resource == resource for p in self.granted)


def describe(permission: Permission) -> str:
    return f"{permission.resource}: {permission.level}"


def missing_message(missing: list[Permission]) -> str:
    """Name exactly what to change on the key in Stripe."""
    first = missing[0]
    text = (
        f"This key can't {first.level.lower()} {first.resource}, which Backstop needs to {first.why}. "
        f"In Stripe → Developers → API keys, edit the key and set {first.resource} to {first.level}"
    )
    if len(missing) > 1:
        others = ", ".join(describe(p) for p in missing[1:])
        text += f"; also set {others}"
    return text + "."


def probe(gateway: StripeGateway, on_progress: Callable[[Permission], None] | None = None) -> ProbeResult:
    """Check every permission; raises StripeAuthFailed when the key itself is refused."""
    granted: list[Permission] = []
    missing: list[Permission] = []
    for permission in PERMISSIONS:
        if on_progress:
            on_progress(permission)
        try:
            params = {"limit": 1} if permission.method == "get" and PROBE_ID not in permission.path else None
            gateway.request(permission.method, permission.path, params)
            granted.append(permission)
        except StripeNotFound:
            granted.append(permission)
        except StripePermissionMissing:
            missing.append(permission)
        except StripeAuthFailed:
            raise
        except StripeFailure as exc:
            # A validation error on the probe object still proves the key may reach the resource.
            if exc.status in (400, 402):
                granted.append(permission)
            else:
                raise
    return ProbeResult(granted, missing)
