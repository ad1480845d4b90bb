"""One-time sign-in tokens: how the desktop window opens the admin already signed in.

The launcher mints a token for an admin and opens ``/desktop-login/<token>``; the route trades it
for a normal session cookie. A token is random, lives for a minute, works once, and only its
SHA-256 hash is stored, so a copy of the database or an access log is no way in.
"""

from __future__ import annotations

from datetime import timedelta
from enum import Enum

from sqlite_utils import Database

from backstop import clock
from backstop.db import one, write_transaction
from backstop.lib.crypto import random_token, sha256_hex
from backstop.workspaces.admins import Admin

LOGIN_TOKEN_LIFETIME = timedelta(seconds=60)
# Spent and expired rows are kept a while so a second use can say "already used", then removed.
KEEP_SPENT_FOR = timedelta(days=1)


class Refusal(Enum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


class LoginTokenRefused(Exception):
    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


def issue_login_token(db: Database, admin: Admin, lifetime: timedelta = LOGIN_TOKEN_LIFETIME) -> str:
    """Mint a token for ``admin`` and return it; the raw value is never stored."""
    token = random_token()
    now = clock.now()
    with write_transaction(db):
        db.execute("DELETE FROM login_tokens WHERE expires_at < ?", [clock.iso(now - KEEP_SPENT_FOR)])
        db.execute(
            "INSERT INTO login_tokens (token_hash, admin_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            [sha256_hex(token), admin.id, clock.iso(now), clock.iso(now + lifetime)],
        )
    return token


def redeem_login_token(db: Database, token: str) -> Admin:
    """Spend a token and return its admin, or raise ``LoginTokenRefused`` saying why not."""
    token_hash = sha256_hex(token or "")
    now = clock.iso()
    # Compare-and-set: of two requests racing with the same token, exactly one wins.
    spent = db.execute(
        "UPDATE login_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
        [now, token_hash, now],
    ).rowcount
    row = one(
        db,
        "SELECT t.used_at, a.id AS admin_id, a.email FROM login_tokens t "
        "JOIN admins a ON a.id = t.admin_id WHERE t.token_hash = ?",
        [token_hash],
    )
    if row is None:
        raise LoginTokenRefused(Refusal.UNKNOWN)
    if spent != 1:
        raise LoginTokenRefused(Refusal.USED if row["used_at"] else Refusal.EXPIRED)
    return Admin(row["admin_id"], row["email"])
