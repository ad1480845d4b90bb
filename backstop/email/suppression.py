"""Who asked not to be emailed, and who can't be: unsubscribes, bounces, spam complaints.

Kept per workspace and address. Unsubscribe links carry a signed (workspace, address) pair, so
the link works for as long as the secret key stays the same and can't be forged for another
address.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer
from sqlite_utils import Database

from backstop import clock
from backstop.db import one, write_transaction
from backstop.email.policy import Suppression

_SALT = "backstop.email.unsubscribe.v1"


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=_SALT)


def unsubscribe_token(secret_key: str, workspace_id: int, email: str) -> str:
    return _serializer(secret_key).dumps([workspace_id, email.lower()])


def read_unsubscribe_token(secret_key: str, token: str) -> tuple[int, str] | None:
    try:
        workspace_id, email = _serializer(secret_key).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(workspace_id, int) or not isinstance(email, str):
        return None
    return workspace_id, email


def unsubscribe_url(public_url: str, secret_key: str, workspace_id: int, email: str) -> str:
    return f"{public_url}/u/{unsubscribe_token(secret_key, workspace_id, email)}"


def state(db: Database, workspace_id: int, email: str) -> Suppression:
    row = one(
        db,
        "SELECT unsubscribed_at, bounced_at, complained_at FROM email_suppressions "
        "WHERE workspace_id = ? AND email = ?",
        [workspace_id, email],
    )
    if row is None:
        return Suppression()
    return Suppression(
        unsubscribed=bool(row["unsubscribed_at"]),
        hard_bounced=bool(row["bounced_at"]),
        complained=bool(row["complained_at"]),
    )


def record(db: Database, workspace_id: int, email: str, column: str, detail: str | None = None) -> bool:
    """Set ``column`` (unsubscribed_at | bounced_at | complained_at) unless already set.
    True when this call set it."""
    if column not in ("unsubscribed_at", "bounced_at", "complained_at"):
        raise ValueError(column)
    now = clock.iso()
    with write_transaction(db):
        db.execute(
            "INSERT INTO email_suppressions (workspace_id, email) VALUES (?, ?) "
            "ON CONFLICT (workspace_id, email) DO NOTHING",
            [workspace_id, email.lower()],
        )
        cur = db.execute(
            f"UPDATE email_suppressions SET {column} = ?"  # noqa: S608 - column checked above
            + (", bounce_detail = ?" if column == "bounced_at" else "")
            + f" WHERE workspace_id = ? AND email = ? AND {column} IS NULL",
            [now, *([detail] if column == "bounced_at" else []), workspace_id, email.lower()],
        )
    return cur.rowcount == 1


def unsubscribe(db: Database, secret_key: str, token: str) -> tuple[int, str] | None:
    """Apply an unsubscribe link; the (workspace id, address) it named, or None if forged."""
    target = read_unsubscribe_token(secret_key, token)
    if target is None:
        return None
    if not one(db, "SELECT id FROM workspaces WHERE id = ?", [target[0]]):
        return None
    record(db, target[0], target[1], "unsubscribed_at")
    return target


def resubscribe(db: Database, workspace_id: int, email: str) -> None:
    db.execute(
        "UPDATE email_suppressions SET unsubscribed_at = NULL WHERE workspace_id = ? AND email = ?",
        [workspace_id, email.lower()],
    )
