"""The Stripe bypass: while "Cancel subscriptions" is on in Stripe's own customer portal,
customers can cancel there without ever seeing the cancel flow. Backstop reads the connected
account's portal configurations (the restricted key asks for that permission) and says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.cancel_flows import reach
from backstop.connectors.stripe import StripeFailure, StripeGateway, StripePermissionMissing
from backstop.embed import origins

log = logging.getLogger("backstop.embed")

FRESH_FOR = timedelta(minutes=10)
SETTINGS_PATH = (
    "Stripe Dashboard → Settings → Billing → Customer portal → Subscriptions → Cancel subscriptions"
)


def check(
    db: Database, workspace_id: int, gateway_for: Callable[[int], StripeGateway]
) -> origins.EmbedSettings:
    """Ask Stripe now and remember the answer: cancel is "on" when any active configuration lets
    customers cancel."""
    try:
        found = gateway_for(workspace_id).get(
            "/v1/billing_portal/configurations", {"limit": 100, "active": "true"}
        )
    except StripePermissionMissing:
        origins.record_portal_check(
            db,
            workspace_id,
            None,
            "The Stripe key can't read customer-portal settings (billing_portal/configurations).",
        )
    except StripeFailure as exc:
        log.info("billing portal check for workspace %s failed: %s", workspace_id, exc)
        origins.record_portal_check(db, workspace_id, None, "Stripe didn't answer; try again in a minute.")
    else:
        configs = [c for c in found.get("data") or [] if c.get("active", True)]
        enabled = any(
            ((c.get("features") or {}).get("subscription_cancel") or {}).get("enabled") for c in configs
        )
        origins.record_portal_check(db, workspace_id, enabled, None)
    return origins.get_settings(db, workspace_id)


def check_if_stale(
    db: Database, workspace_id: int, gateway_for: Callable[[int], StripeGateway] | None
) -> origins.EmbedSettings:
    current = origins.get_settings(db, workspace_id)
    if gateway_for is None:
        return current
    if current.portal_checked_at and clock.parse(current.portal_checked_at) > clock.now() - FRESH_FOR:
        return current
    return check(db, workspace_id, gateway_for)


def hint(db: Database, workspace_id: int) -> str | None:
    """One sentence for the checklist, or None before Backstop has looked."""
    current = origins.get_settings(db, workspace_id)
    if current.portal_cancel_enabled is True:
        return "Stripe's customer portal still lets customers cancel: turn off “Cancel subscriptions” there."
    if current.portal_cancel_enabled is False:
        return "Stripe's customer portal no longer lets customers cancel."
    return current.portal_check_error


def step_done_by_itself(db: Database, workspace_id: int) -> bool:
    """Step 4 ticks itself once a session was opened from the founder's site and Stripe's
    portal no longer offers cancelling."""
    return origins.get_settings(db, workspace_id).portal_cancel_enabled is False and reach.opened_from_site(
        db, workspace_id
    )
