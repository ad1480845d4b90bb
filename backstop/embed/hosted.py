"""Opaque sessions for the portal and the Failed Payment Wall.

A signed token (the founder's JWT, or a link Backstop emailed) is used once to open a session;
the customer then works on `/portal/s/{key}` or `/wall/s/{key}`. No cookies (an iframe on
another site can't rely on them): the key in the URL is the credential, only its hash is
stored, and every POST also carries a per-session form token printed in the page.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.db import one, write_transaction
from backstop.lib.crypto import random_token, sha256_hex

LIFETIME = {"portal": timedelta(hours=2), "wall": timedelta(hours=2)}
KINDS = tuple(LIFETIME)


@dataclass(frozen=True)
class HostedSession:
    kind: str
    workspace_id: int
    customer_id: str
    subscription_id: str | None
    campaign_id: int | None
    invoice_id: str | None
    return_url: str | None
    form_token: str
    expires_at: str
    key: str | None = None  # only known right after opening


def open_hosted(
    db: Database,
    kind: str,
    workspace_id: int,
    customer_id: str,
    *,
    subscription_id: str | None = None,
    campaign_id: int | None = None,
    invoice_id: str | None = None,
    return_url: str | None = None,
) -> HostedSession:
    """Open a session (inside the caller's write transaction if there is one)."""
    if kind not in KINDS:
        raise ValueError(kind)
    key = random_token(24)
    form = random_token(16)
    expires = clock.iso(clock.now() + LIFETIME[kind])
    with write_transaction(db):
        db.execute(
            "INSERT INTO hosted_sessions (key_hash, kind, workspace_id, customer_id, subscription_id, "
            "campaign_id, invoice_id, return_url, form_token, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [sha256_hex(key), kind, workspace_id, customer_id, subscription_id, campaign_id, invoice_id,
             return_url, form, clock.iso(), expires],
        )  # fmt: skip
    return HostedSession(
        kind,
        workspace_id,
        customer_id,
        subscription_id,
        campaign_id,
        invoice_id,
        return_url,
        form,
        expires,
        key,
    )


def find(db: Database, kind: str, key: str) -> tuple[str, HostedSession | None]:
    """("ok" | "expired" | "unknown", session) for a key from a URL."""
    if not key or len(key) > 100:
        return "unknown", None
    row = one(db, "SELECT * FROM hosted_sessions WHERE key_hash = ? AND kind = ?", [sha256_hex(key), kind])
    if row is None:
        return "unknown", None
    session = HostedSession(
        row["kind"], row["workspace_id"], row["customer_id"], row["subscription_id"], row["campaign_id"],
        row["invoice_id"], row["return_url"], row["form_token"], row["expires_at"], key,
    )  # fmt: skip
    if row["expires_at"] <= clock.iso():
        return "expired", session
    return "ok", session


def form_ok(session: HostedSession, supplied: str | None) -> bool:
    return hmac.compare_digest(session.form_token.encode(), (supplied or "")[:100].encode())


def forget_expired(db: Database, keep: timedelta = timedelta(days=1)) -> int:
    with write_transaction(db):
        cur = db.execute("DELETE FROM hosted_sessions WHERE expires_at < ?", [clock.iso(clock.now() - keep)])
    return cur.rowcount


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]
