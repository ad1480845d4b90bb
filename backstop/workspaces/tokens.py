"""REST API tokens: ``bk_test_…`` / ``bk_live_…``, shown once, stored as SHA-256 hashes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.db import all_rows, one
from backstop.lib.crypto import random_token, sha256_hex
from backstop.workspaces.errors import NotFound, ValidationError
from backstop.workspaces.workspaces import has_control_characters

PREFIX_SHOWN = 16  # "bk_test_" + 8 characters: enough to tell tokens apart in a list


@dataclass(frozen=True)
class TokenOwner:
    token_id: int
    workspace_id: int
    workspace_slug: str
    livemode: bool


def create_token(
    db: Database, workspace_id: int, name: str, livemode: bool, created_by: int | None = None
) -> tuple[int, str]:
    """Mint a token and return (id, raw token). The raw token is never stored."""
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("Name the token after what uses it, such as “billing backend”.", "name")
    if len(name) > 80:
        raise ValidationError("Keep the token name under 80 characters.", "name")
    if has_control_characters(name):
        raise ValidationError("Remove the invisible control characters from the name.", "name")
    raw = ("bk_live_" if livemode else "bk_test_") + random_token(32)
    cur = db.execute(
        "INSERT INTO api_tokens (workspace_id, name, token_hash, prefix, created_by, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [workspace_id, name, sha256_hex(raw), raw[:PREFIX_SHOWN], created_by, clock.iso()],
    )
    return cur.lastrowid, raw


def list_tokens(db: Database, workspace_id: int) -> list[dict]:
    return all_rows(
        db,
        "SELECT t.id, t.name, t.prefix, t.created_at, t.last_used_at, t.revoked_at, a.email AS created_by "
        "FROM api_tokens t LEFT JOIN admins a ON a.id = t.created_by "
        "WHERE t.workspace_id = ? ORDER BY t.revoked_at IS NOT NULL, t.created_at DESC, t.id DESC",
        [workspace_id],
    )


def revoke_token(db: Database, workspace_id: int, token_id: int) -> None:
    cur = db.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND workspace_id = ? AND revoked_at IS NULL",
        [clock.iso(), token_id, workspace_id],
    )
    if cur.rowcount == 0 and not one(
        db, "SELECT id FROM api_tokens WHERE id = ? AND workspace_id = ?", [token_id, workspace_id]
    ):
        raise NotFound(token_id)


def authenticate_token(db: Database, raw: str) -> TokenOwner | None:
    """The token's owner, or None for an unknown or revoked token. Looked up by hash, so the
    comparison happens inside SQLite's index on a digest, never on the secret itself."""
    if not raw or not raw.startswith(("bk_test_", "bk_live_")) or len(raw) > 200:
        return None
    row = one(
        db,
        "SELECT t.id, t.workspace_id, t.revoked_at, w.slug FROM api_tokens t "
        "JOIN workspaces w ON w.id = t.workspace_id WHERE t.token_hash = ?",
        [sha256_hex(raw)],
    )
    if row is None or row["revoked_at"] is not None:
        return None
    # At most one write a minute per token: "last used" is shown in minutes, and a busy token
    # shouldn't take SQLite's write lock on every request.
    db.execute(
        "UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
        [clock.iso(), row["id"], clock.iso(clock.now() - timedelta(minutes=1))],
    )
    return TokenOwner(row["id"], row["workspace_id"], row["slug"], raw.startswith("bk_live_"))


def active_token_ids_by_prefix(db: Database, workspace_id: int, prefix: str) -> list[int]:
    """Ids of the workspace's unrevoked tokens whose shown prefix is ``prefix``."""
    rows = db.execute(
        "SELECT id FROM api_tokens WHERE workspace_id = ? AND prefix = ? AND revoked_at IS NULL",
        [workspace_id, prefix[:16]],
    ).fetchall()
    return [r[0] for r in rows]
