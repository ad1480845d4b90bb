"""Connecting and disconnecting a workspace: the steps behind the Settings page and the CLI."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlite_utils import Database

from backstop.connectors.stripe import (
    StripeAuthFailed,
    StripeFailure,
    StripeOAuth,
    StripeUnavailable,
)
from backstop.db import write_transaction
from backstop.lib.crypto import SecretBox
from backstop.settings import Settings
from backstop.stripe_sync import backfill, connection, events, mirror, permissions
from backstop.workspaces.errors import ValidationError

# Events Backstop asks Stripe to send, beyond those the mirror handles.
EXTRA_EVENTS = ("setup_intent.succeeded", "charge.failed", "account.application.deauthorized")


def webhook_event_types() -> list[str]:
    return sorted(set(events.HANDLERS) | set(EXTRA_EVENTS))


def public_base_url(settings: Settings) -> str | None:
    """The base URL if Stripe could reach it (https, not loopback or a private address)."""
    if not settings.base_url or not settings.base_url.startswith("https://"):
        return None
    host = urlsplit(settings.base_url).hostname or ""
    if host == "localhost" or host.endswith((".local", ".localhost", ".internal")):
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return settings.base_url
    return None if (address.is_private or address.is_loopback or address.is_link_local) else settings.base_url


@dataclass(frozen=True)
class Connected:
    livemode: bool
    webhook: str  # "pasted", "created" or "polling"
    missing_optional: list[str]
    backfill_id: int


def connect_restricted_key(
    db: Database,
    box: SecretBox,
    settings: Settings,
    workspace_id: int,
    slug: str,
    key: str,
    webhook_secret: str | None = None,
    *,
    create_endpoint: bool = False,
) -> Connected:
    key, livemode = connection.check_restricted_key(key)
    secret = connection.check_webhook_secret(webhook_secret)
    gateway = connection.gateway_for_key(settings, key, max_attempts=2)
    try:
        result = permissions.probe(gateway)
    except StripeAuthFailed:
        raise ValidationError(
            "Stripe doesn't accept this key: it may have been deleted or rolled. Create a new restricted key.",
            "key",
        )
    except StripeUnavailable:
        raise ValidationError("Stripe couldn't be reached to check the key; try again in a minute.", "key")
    except StripeFailure as exc:
        raise ValidationError(f"Stripe refused the key check: {exc.message}", "key")
    if result.missing_required:
        raise ValidationError(permissions.missing_message(result.missing_required), "key")
    endpoint_id = None
    how = "pasted" if secret else "polling"
    base = public_base_url(settings)
    if not secret and create_endpoint and base and result.has("Webhook Endpoints"):
        endpoint = gateway.post(
            "/v1/webhook_endpoints",
            {
                "url": f"{base}/stripe/webhooks/{slug}",
                "enabled_events": webhook_event_types(),
                "description": "Backstop",
            },
        )
        secret, endpoint_id, how = endpoint.get("secret"), endpoint.get("id"), "created"
    with write_transaction(db):
        _forget_other_account(db, workspace_id, livemode)
        connection.save_key_connection(
            db, box, workspace_id, key, livemode, webhook_secret=secret, polling=secret is None
        )
        if endpoint_id:
            connection.set_webhook(db, box, workspace_id, secret, endpoint_id)
        backfill_id = backfill.start(db, workspace_id)
    return Connected(livemode, how, [p.resource for p in result.missing if not p.required], backfill_id)


def _forget_other_account(
    db: Database, workspace_id: int, livemode: bool, account_id: str | None = None
) -> None:
    """Reconnecting the same account keeps the mirror (the backfill brings it up to date); a
    switch of mode or of Connect account would mix two accounts' data, so it starts empty."""
    previous = connection.get(db, workspace_id)
    if previous is None:
        return
    switched = previous.livemode != livemode or (
        account_id is not None and previous.account_id is not None and previous.account_id != account_id
    )
    if switched:
        mirror.purge(db, workspace_id)
        db.execute(
            "UPDATE stripe_connections SET events_cursor = NULL WHERE workspace_id = ?", [workspace_id]
        )


def oauth(settings: Settings) -> StripeOAuth:
    if not settings.stripe_platform_configured:
        raise ValidationError(
            "Connect OAuth isn't configured on this instance; connect with a restricted key."
        )
    return StripeOAuth(
        settings.stripe_client_id,
        settings.stripe_secret_key,
        api_base=settings.stripe_api_base,
        connect_base=settings.stripe_connect_base,
    )


def oauth_start_url(db: Database, settings: Settings, workspace_id: int, admin_id: int) -> str:
    state = connection.new_oauth_state(db, workspace_id, admin_id)
    return oauth(settings).authorize_url(state, f"{settings.public_url}/stripe/oauth/callback")


def oauth_finish(db: Database, settings: Settings, admin_id: int, code: str, state: str) -> tuple[int, int]:
    """Finish the consent screen round trip; return (workspace id, backfill row id)."""
    workspace_id = connection.consume_oauth_state(db, state, admin_id)
    if not code:
        raise ValidationError("Stripe didn't send an authorisation code; start again from Connect Stripe.")
    try:
        grant = oauth(settings).exchange_code(code)
    except StripeAuthFailed as exc:
        raise ValidationError(
            f"Stripe refused the authorisation ({exc.message}); start again from Connect Stripe."
        )
    except StripeUnavailable:
        raise ValidationError("Stripe couldn't be reached to finish connecting; start again in a minute.")
    with write_transaction(db):
        _forget_other_account(db, workspace_id, grant["livemode"], grant["stripe_user_id"])
        connection.save_oauth_connection(
            db,
            workspace_id,
            grant["stripe_user_id"],
            grant["livemode"],
            grant["scope"],
            polling=public_base_url(settings) is None or not settings.stripe_webhook_secret,
        )
        backfill_id = backfill.start(db, workspace_id)
    return workspace_id, backfill_id


def disconnect(db: Database, box: SecretBox, settings: Settings, workspace_id: int) -> None:
    """Revoke what we can in Stripe, then forget the connection and the mirrored data."""
    current = connection.get(db, workspace_id)
    if current is None:
        return
    try:
        if current.method == "oauth" and current.account_id and settings.stripe_platform_configured:
            oauth(settings).deauthorize(current.account_id)
        elif current.webhook_endpoint_id and current.status == "live":
            connection.gateway(db, box, settings, workspace_id, max_attempts=1).request(
                "delete", f"/v1/webhook_endpoints/{current.webhook_endpoint_id}"
            )
    except StripeFailure:
        pass  # Stripe may already have forgotten us; disconnecting here must still work.
    connection.remove(db, workspace_id)
