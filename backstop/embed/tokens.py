"""Embed tokens: the short-lived JWT a founder's backend signs to open a cancel flow for one customer.

An HS256 JWT signed with the workspace's embed secret, with the claims ``sub`` (Stripe customer
id), ``ws`` (workspace slug), ``iat``, ``exp`` (at most 10 minutes after ``iat``), ``jti`` (one
session per token) and optionally ``sid`` (the subscription). PyJWT checks the signature; the
times are checked here against Backstop's clock so that one clock decides everywhere.

``check`` says what Backstop sees without using the token up; ``redeem`` uses it up, once, by
inserting its ``jti`` (the primary key makes two concurrent redeems race to one winner).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jwt
from sqlite_utils import Database

from backstop import clock
from backstop.db import one, write_transaction
from backstop.lib.crypto import SecretBox
from backstop.stripe_sync.customers import Customer, get_customer
from backstop.workspaces.workspaces import embed_secret, get_workspace_by_slug

MAX_LIFETIME = 600  # seconds from iat to exp
LEEWAY = 30  # seconds of clock difference tolerated between the signer and Backstop
MAX_TOKEN_LENGTH = 4096

# Every reason a token can be refused, with the sentence the founder (never the customer) sees.
REASONS = {
    "malformed": "The token is not a JWT with the claims Backstop needs.",
    "unsupported_alg": "The token must be signed with HS256; other algorithms are refused.",
    "unknown_workspace": "No workspace has the slug in the token's ws claim.",
    "bad_signature": "The signature does not match this workspace's embed secret.",
    "exp_too_far": "The token's exp is more than 10 minutes after its iat.",
    "expired": "The token has expired; sign a new one for each session.",
    "reused": "This token (its jti) has already opened a session; sign a new one for each session.",
    "unknown_customer": "The customer in the token's sub claim is not in this workspace's Stripe data.",
}


class TokenRejected(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class TokenCheck:
    valid: bool
    reason: str | None = None
    message: str | None = None
    workspace: dict | None = None  # id, slug, name
    customer_id: str | None = None
    subscription_id: str | None = None
    claims: dict = field(default_factory=dict)
    customer: Customer | None = None


def _reject(reason: str, detail: str | None = None) -> TokenRejected:
    return TokenRejected(reason, detail or REASONS[reason])


def _ts(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _reject("malformed", f"The {name} claim must be a number of seconds since 1970.")
    return int(value)


def _verify(db: Database, box: SecretBox, token: object) -> TokenCheck:
    """Every check but the jti's use; raises TokenRejected with the first reason that applies."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise _reject("malformed", "Send the token as a string (a JWT of three dot-separated parts).")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _reject(
            "malformed", "The token is not a JWT: it should be three base64url parts separated by dots."
        )
    if header.get("alg") != "HS256":
        raise _reject(
            "unsupported_alg",
            f"The token is signed with {str(header.get('alg'))[:20]!r}; only HS256 is accepted.",
        )
    slug = unverified.get("ws")
    if not isinstance(slug, str) or not slug:
        raise _reject("malformed", "The token has no ws claim (the workspace slug).")
    workspace = get_workspace_by_slug(db, slug[:100])
    if workspace is None:
        raise _reject("unknown_workspace", f"No workspace has the slug {slug[:40]!r}.")
    try:
        secret = embed_secret(db, box, workspace["id"])
    except ValueError:
        raise _reject(
            "bad_signature",
            "This workspace's embed secret can't be read; rotate it under Settings → General.",
        )
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            # Times are checked below against Backstop's clock.
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False},
        )
    except jwt.InvalidSignatureError:
        raise _reject("bad_signature")
    except jwt.PyJWTError:
        raise _reject("malformed")
    for name in ("sub", "jti"):
        if not isinstance(claims.get(name), str) or not claims[name] or len(claims[name]) > 255:
            raise _reject("malformed", f"The token has no {name} claim (a non-empty string).")
    if "iat" not in claims:
        raise _reject("malformed", "The token has no iat claim (when it was signed).")
    if "exp" not in claims:
        raise _reject("malformed", "The token has no exp claim; set it at most 10 minutes after iat.")
    iat, exp = _ts(claims["iat"], "iat"), _ts(claims["exp"], "exp")
    now = int(clock.now_ts())
    if exp - iat > MAX_LIFETIME:
        raise _reject("exp_too_far")
    if iat > now + LEEWAY:
        raise _reject("malformed", "The token's iat is in the future; check the signing server's clock.")
    if exp <= now - LEEWAY:
        raise _reject("expired")
    sid = claims.get("sid")
    if sid is not None and (not isinstance(sid, str) or not sid or len(sid) > 255):
        raise _reject("malformed", "The sid claim, when present, must be a subscription id string.")
    if one(
        db,
        "SELECT 1 AS x FROM embed_token_uses WHERE workspace_id = ? AND jti = ?",
        [workspace["id"], claims["jti"]],
    ):
        raise _reject("reused")
    customer = get_customer(db, workspace["id"], claims["sub"])
    if customer is None or customer.deleted:
        raise _reject(
            "unknown_customer", f"The customer {claims['sub'][:40]!r} is not in this workspace's Stripe data."
        )
    if sid is not None and sid not in {s.id for s in customer.subscriptions}:
        raise _reject("unknown_customer", f"The subscription {sid[:40]!r} is not one of this customer's.")
    return TokenCheck(
        valid=True,
        workspace=dict(workspace),
        customer_id=claims["sub"],
        subscription_id=sid,
        claims=claims,
        customer=customer,
    )


def check(db: Database, box: SecretBox, token: object) -> TokenCheck:
    """What Backstop sees in this token, without using it up."""
    try:
        return _verify(db, box, token)
    except TokenRejected as exc:
        return TokenCheck(valid=False, reason=exc.reason, message=exc.message)


def redeem(db: Database, box: SecretBox, token: object) -> TokenCheck:
    """Use the token up (once); raises TokenRejected. Call inside the write transaction that
    opens the session, so a token is used up exactly when its session exists."""
    result = _verify(db, box, token)
    expires = datetime.fromtimestamp(int(result.claims["exp"]) + LEEWAY, UTC)
    with write_transaction(db):
        try:
            db.execute(
                "INSERT INTO embed_token_uses (workspace_id, jti, used_at, expires_at) VALUES (?, ?, ?, ?)",
                [result.workspace["id"], result.claims["jti"], clock.iso(), clock.iso(expires)],
            )
        except sqlite3.IntegrityError:
            raise _reject("reused")
    return result


def forget_expired_uses(db: Database, keep: timedelta = timedelta(days=1)) -> int:
    """A used jti only matters until its token expires; keep a day on top, then drop it."""
    with write_transaction(db):
        cur = db.execute("DELETE FROM embed_token_uses WHERE expires_at < ?", [clock.iso(clock.now() - keep)])
    return cur.rowcount
