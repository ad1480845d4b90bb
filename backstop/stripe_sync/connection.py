"""A workspace's Stripe connection: how it was made, its secrets (encrypted), its health."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlite_utils import Database

from backstop import clock
from backstop.connectors.stripe import StripeConfig, StripeGateway
from backstop.db import one, write_transaction
from backstop.lib.crypto import SecretBox, random_token
from backstop.settings import Settings
from backstop.workspaces.errors import ValidationError

KEY_RE = re.compile(r"^(rk|sk)_(test|live)_[A-Za-z0-9]{10,250}$")
WHSEC_RE = re.compile(r"^whsec_[A-Za-z0-9+/=_-]{8,250}$")


@dataclass(frozen=True)
class Connection:
    workspace_id: int
    method: str
    account_id: str | None
    livemode: bool
    status: str
    status_reason: str | None
    polling: bool
    has_webhook_secret: bool
    webhook_endpoint_id: str | None
    connected_at: str
    last_event_at: str | None
    last_polled_at: str | None
    publishable_key: str | None = None

    @property
    def mode(self) -> str:
        return "livemode" if self.livemode else "testmode"


def row_of(db: Database, workspace_id: int) -> dict | None:
    """The workspace's connection row as stored (status, livemode, …), or None."""
    return one(db, "SELECT * FROM stripe_connections WHERE workspace_id = ?", [workspace_id])


def live_workspace_ids(db: Database, *, polling_only: bool = False) -> list[int]:
    """Workspaces whose connection is live (and, with ``polling_only``, fetches events itself)."""
    rows = db.execute(
        "SELECT workspace_id FROM stripe_connections WHERE status = 'live' AND (polling = 1 OR ? = 0) "
        "ORDER BY workspace_id",
        [int(polling_only)],
    ).fetchall()
    return [r[0] for r in rows]


def get(db: Database, workspace_id: int) -> Connection | None:
    row = one(db, "SELECT * FROM stripe_connections WHERE workspace_id = ?", [workspace_id])
    if row is None:
        return None
    return Connection(
        workspace_id=row["workspace_id"],
        method=row["method"],
        account_id=row["account_id"],
        livemode=bool(row["livemode"]),
        status=row["status"],
        status_reason=row["status_reason"],
        polling=bool(row["polling"]),
        has_webhook_secret=row["webhook_secret_enc"] is not None,
        webhook_endpoint_id=row["webhook_endpoint_id"],
        connected_at=row["connected_at"],
        last_event_at=row["last_event_at"],
        last_polled_at=row["last_polled_at"],
        publishable_key=row.get("publishable_key"),
    )


def check_restricted_key(key: str) -> tuple[str, bool]:
    """Validate a pasted key; return (key, livemode). Full secret keys are refused on purpose."""
    key = (key or "").strip()
    if not key:
        raise ValidationError("Paste the restricted key you created in Stripe (it starts with rk_).", "key")
    if key.startswith(("sk_test_", "sk_live_")):
        raise ValidationError(
            "That is your account's full secret key. Backstop never needs it: create a restricted "
            "key (rk_…) with the permissions listed below and paste that instead.",
            "key",
        )
    if key.startswith(("pk_test_", "pk_live_")):
        raise ValidationError("That is a publishable key; Backstop needs a restricted key (rk_…).", "key")
    if not KEY_RE.match(key):
        raise ValidationError(
            "That doesn't look like a Stripe restricted key (rk_test_… or rk_live_…).", "key"
        )
    return key, key.split("_")[1] == "live"


PK_RE = re.compile(r"^pk_(test|live)_[A-Za-z0-9]{10,250}$")


def check_publishable_key(key: str | None, livemode: bool) -> str | None:
    """Validate a pasted publishable key (empty clears it); it must match the connection's mode."""
    key = (key or "").strip()
    if not key:
        return None
    if key.startswith(("sk_", "rk_")):
        raise ValidationError(
            "That is a secret key. Paste the publishable key (pk_…) instead: it is the one that is "
            "safe to show in a customer's browser.",
            "publishable_key",
        )
    if not PK_RE.match(key):
        raise ValidationError(
            "That doesn't look like a Stripe publishable key (pk_test_… or pk_live_…).", "publishable_key"
        )
    if (key.split("_")[1] == "live") != livemode:
        mode = "live" if livemode else "test"
        raise ValidationError(
            f"This workspace is connected in {mode} mode; paste the pk_{mode}_… key of the same account.",
            "publishable_key",
        )
    return key


def set_publishable_key(db: Database, workspace_id: int, key: str | None) -> None:
    db.execute(
        "UPDATE stripe_connections SET publishable_key = ?, updated_at = ? WHERE workspace_id = ?",
        [key, clock.iso(), workspace_id],
    )


def browser_keys(db: Database, settings: Settings, workspace_id: int) -> tuple[str, str | None] | None:
    """(publishable key, Stripe-Account or None) for Stripe.js on this workspace's pages, or None
    when no publishable key is known yet."""
    row = one(
        db,
        "SELECT method, account_id, publishable_key FROM stripe_connections WHERE workspace_id = ?",
        [workspace_id],
    )
    if row is None:
        return None
    if row["method"] == "oauth":
        if not settings.stripe_publishable_key or not row["account_id"]:
            return None
        return settings.stripe_publishable_key, row["account_id"]
    return (row["publishable_key"], None) if row["publishable_key"] else None


def check_webhook_secret(secret: str | None) -> str | None:
    secret = (secret or "").strip()
    if not secret:
        return None
    if not WHSEC_RE.match(secret):
        raise ValidationError(
            "The signing secret starts with whsec_; copy it from the webhook endpoint's page in Stripe.",
            "webhook_secret",
        )
    return secret


def save_key_connection(
    db: Database,
    box: SecretBox,
    workspace_id: int,
    key: str,
    livemode: bool,
    *,
    webhook_secret: str | None,
    polling: bool,
    account_id: str | None = None,
) -> None:
    now = clock.iso()
    db.execute(
        "INSERT INTO stripe_connections (workspace_id, method, account_id, livemode, api_key_enc, "
        "webhook_secret_enc, status, polling, connected_at, updated_at) "
        "VALUES (?, 'restricted_key', ?, ?, ?, ?, 'live', ?, ?, ?) "
        "ON CONFLICT (workspace_id) DO UPDATE SET method = excluded.method, account_id = excluded.account_id, "
        "livemode = excluded.livemode, api_key_enc = excluded.api_key_enc, "
        "webhook_secret_enc = excluded.webhook_secret_enc, status = 'live', status_reason = NULL, "
        "polling = excluded.polling, updated_at = excluded.updated_at",
        [
            workspace_id,
            account_id,
            int(livemode),
            box.encrypt(key),
            box.encrypt(webhook_secret) if webhook_secret else None,
            int(polling),
            now,
            now,
        ],
    )


def save_oauth_connection(
    db: Database, workspace_id: int, account_id: str, livemode: bool, scope: str | None, *, polling: bool
) -> None:
    existing = one(
        db,
        "SELECT workspace_id FROM stripe_connections WHERE account_id = ? AND livemode = ? AND workspace_id != ?",
        [account_id, int(livemode), workspace_id],
    )
    if existing:
        raise ValidationError(
            f"This Stripe account ({account_id}) is already connected to another workspace in the same mode."
        )
    now = clock.iso()
    db.execute(
        "INSERT INTO stripe_connections (workspace_id, method, account_id, livemode, scope, status, polling, "
        "connected_at, updated_at) VALUES (?, 'oauth', ?, ?, ?, 'live', ?, ?, ?) "
        "ON CONFLICT (workspace_id) DO UPDATE SET method = 'oauth', account_id = excluded.account_id, "
        "livemode = excluded.livemode, scope = excluded.scope, api_key_enc = NULL, webhook_secret_enc = NULL, "
        "status = 'live', status_reason = NULL, polling = excluded.polling, updated_at = excluded.updated_at",
        [workspace_id, account_id, int(livemode), scope, int(polling), now, now],
    )


def set_webhook(
    db: Database, box: SecretBox, workspace_id: int, secret: str | None, endpoint_id: str | None = None
) -> None:
    db.execute(
        "UPDATE stripe_connections SET webhook_secret_enc = ?, webhook_endpoint_id = COALESCE(?, webhook_endpoint_id), "
        "updated_at = ? WHERE workspace_id = ?",
        [box.encrypt(secret) if secret else None, endpoint_id, clock.iso(), workspace_id],
    )


def set_polling(db: Database, workspace_id: int, polling: bool) -> None:
    db.execute(
        "UPDATE stripe_connections SET polling = ?, updated_at = ? WHERE workspace_id = ?",
        [int(polling), clock.iso(), workspace_id],
    )


def mark_revoked(db: Database, workspace_id: int, reason: str) -> None:
    db.execute(
        "UPDATE stripe_connections SET status = 'revoked', status_reason = ?, updated_at = ? WHERE workspace_id = ?",
        [reason, clock.iso(), workspace_id],
    )


def mark_failing(db: Database, workspace_id: int, reason: str) -> None:
    db.execute(
        "UPDATE stripe_connections SET status = 'failing', status_reason = ?, updated_at = ? "
        "WHERE workspace_id = ? AND status = 'live'",
        [reason, clock.iso(), workspace_id],
    )


def mark_healthy(db: Database, workspace_id: int) -> None:
    db.execute(
        "UPDATE stripe_connections SET status = 'live', status_reason = NULL, updated_at = ? "
        "WHERE workspace_id = ? AND status = 'failing'",
        [clock.iso(), workspace_id],
    )


def remove(db: Database, workspace_id: int) -> None:
    from backstop.stripe_sync import mirror

    with write_transaction(db):
        db.execute("DELETE FROM stripe_connections WHERE workspace_id = ?", [workspace_id])
        db.execute("DELETE FROM stripe_backfills WHERE workspace_id = ?", [workspace_id])
        mirror.purge(db, workspace_id)


def workspace_for_account(db: Database, account_id: str, livemode: bool) -> int | None:
    row = one(
        db,
        "SELECT workspace_id FROM stripe_connections WHERE account_id = ? AND livemode = ? AND method = 'oauth'",
        [account_id, int(livemode)],
    )
    return row["workspace_id"] if row else None


def webhook_secrets(db: Database, box: SecretBox, workspace_id: int) -> list[str]:
    row = one(db, "SELECT webhook_secret_enc FROM stripe_connections WHERE workspace_id = ?", [workspace_id])
    if not row or not row["webhook_secret_enc"]:
        return []
    return [box.decrypt(row["webhook_secret_enc"])]


def gateway(
    db: Database, box: SecretBox, settings: Settings, workspace_id: int, **overrides
) -> StripeGateway:
    """A gateway that calls Stripe as this workspace's connection."""
    row = one(
        db,
        "SELECT method, account_id, api_key_enc FROM stripe_connections WHERE workspace_id = ?",
        [workspace_id],
    )
    if row is None:
        raise ValidationError("Stripe isn't connected for this workspace.")
    if row["method"] == "oauth":
        if not settings.stripe_secret_key:
            raise ValidationError(
                "This workspace uses Connect OAuth, but BACKSTOP_STRIPE_SECRET_KEY isn't set."
            )
        key, account = settings.stripe_secret_key, row["account_id"]
    else:
        key, account = box.decrypt(row["api_key_enc"]), None
    config = StripeConfig(
        api_key=key,
        account=account,
        api_base=settings.stripe_api_base,
        connect_base=settings.stripe_connect_base,
        rate=settings.stripe_rate_limit,
        bucket_key=f"ws:{workspace_id}",
        **overrides,
    )
    return StripeGateway(config)


def gateway_for_key(settings: Settings, key: str, **overrides) -> StripeGateway:
    return StripeGateway(
        StripeConfig(
            api_key=key,
            api_base=settings.stripe_api_base,
            connect_base=settings.stripe_connect_base,
            rate=settings.stripe_rate_limit,
            bucket_key=f"probe:{key[-8:]}",
            **overrides,
        )
    )


def new_oauth_state(db: Database, workspace_id: int, admin_id: int) -> str:
    nonce = random_token(24)
    db.execute(
        "INSERT INTO stripe_oauth_states (nonce, workspace_id, admin_id, created_at) VALUES (?, ?, ?, ?)",
        [nonce, workspace_id, admin_id, clock.iso()],
    )
    return nonce


OAUTH_STATE_MAX_AGE = 15 * 60


def consume_oauth_state(db: Database, nonce: str, admin_id: int) -> int:
    """Use a state once; return its workspace id. Raises ValidationError when it can't be used."""
    row = one(
        db,
        "SELECT workspace_id, admin_id, created_at, used_at FROM stripe_oauth_states WHERE nonce = ?",
        [nonce or ""],
    )
    if row is None or row["admin_id"] != admin_id:
        raise ValidationError("This Stripe authorisation didn't start here; start again from Connect Stripe.")
    if row["used_at"]:
        raise ValidationError("This Stripe authorisation was already used; start again from Connect Stripe.")
    if (clock.now() - clock.parse(row["created_at"])).total_seconds() > OAUTH_STATE_MAX_AGE:
        raise ValidationError(
            "This Stripe authorisation took too long and expired; start again from Connect Stripe."
        )
    cur = db.execute(
        "UPDATE stripe_oauth_states SET used_at = ? WHERE nonce = ? AND used_at IS NULL", [clock.iso(), nonce]
    )
    if cur.rowcount != 1:
        raise ValidationError("This Stripe authorisation was already used; start again from Connect Stripe.")
    return row["workspace_id"]


def record_event_seen(db: Database, workspace_id: int) -> None:
    db.execute(
        "UPDATE stripe_connections SET last_event_at = ? WHERE workspace_id = ?", [clock.iso(), workspace_id]
    )
