"""Settings → Embed: the origins allowed to frame Backstop's hosted pages, and the Failed
Payment Wall's behaviour.

An origin is exactly what a browser sends in ``event.origin`` and what ``frame-ancestors``
matches: ``https://host[:port]``. Plain ``http`` is accepted only for ``localhost`` and
``127.0.0.1`` so a founder can try the embed on their laptop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlite_utils import Database

from backstop import clock
from backstop.db import all_rows, one, write_transaction
from backstop.workspaces.errors import ValidationError

MAX_ORIGINS = 20
DEV_HOSTS = ("localhost", "127.0.0.1")
WALL_MODES = ("dismissible", "blocking")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_origin(raw: str) -> str:
    """The canonical origin for what was typed, or ValidationError saying what to change."""
    value = (raw or "").strip()
    if not value:
        raise ValidationError("Enter an origin such as https://app.example.com.", "origin")
    if "*" in value:
        raise ValidationError("Wildcards aren't allowed: list each origin your app runs on.", "origin")
    if "://" not in value:
        raise ValidationError(
            f"Start the origin with https:// — for example https://{value.strip('/')}.", "origin"
        )
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValidationError("That port isn't a number between 1 and 65535.", "origin") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if parts.username or parts.password:
        raise ValidationError("An origin has no user name or password in it.", "origin")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValidationError(
            "An origin is only the scheme, host and port — remove the path, query or fragment.", "origin"
        )
    if scheme not in ("https", "http"):
        raise ValidationError("Only https:// origins can frame hosted pages.", "origin")
    if not host:
        raise ValidationError("That origin has no host name.", "origin")
    if scheme == "http" and host not in DEV_HOSTS:
        raise ValidationError(
            "Plain http:// is allowed only for localhost and 127.0.0.1; use https:// for your site.",
            "origin",
        )
    if host not in DEV_HOSTS:
        labels = host.split(".")
        if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
            raise ValidationError(f"“{host}” isn't a valid host name.", "origin")
    default_port = 443 if scheme == "https" else 80
    suffix = f":{port}" if port and port != default_port else ""
    return f"{scheme}://{host}{suffix}"


def list_origins(db: Database, workspace_id: int) -> list[str]:
    return [
        row["origin"]
        for row in all_rows(
            db,
            "SELECT origin FROM embed_origins WHERE workspace_id = ? ORDER BY created_at, origin",
            [workspace_id],
        )
    ]


def is_allowed(db: Database, workspace_id: int, origin: str | None) -> bool:
    if not origin:
        return False
    return (
        one(
            db,
            "SELECT 1 AS x FROM embed_origins WHERE workspace_id = ? AND origin = ?",
            [workspace_id, origin],
        )
        is not None
    )


def add_origin(db: Database, workspace_id: int, raw: str) -> str:
    origin = normalize_origin(raw)
    with write_transaction(db):
        existing = list_origins(db, workspace_id)
        if origin in existing:
            raise ValidationError(f"{origin} is already on the list.", "origin")
        if len(existing) >= MAX_ORIGINS:
            raise ValidationError(
                f"A workspace can list up to {MAX_ORIGINS} origins; remove one first.", "origin"
            )
        db.execute(
            "INSERT INTO embed_origins (workspace_id, origin, created_at) VALUES (?, ?, ?)",
            [workspace_id, origin, clock.iso()],
        )
    return origin


def remove_origin(db: Database, workspace_id: int, origin: str) -> bool:
    with write_transaction(db):
        cur = db.execute(
            "DELETE FROM embed_origins WHERE workspace_id = ? AND origin = ?", [workspace_id, origin]
        )
    return cur.rowcount > 0


@dataclass(frozen=True)
class EmbedSettings:
    wall_mode: str = "dismissible"
    wall_grace_days: int = 0
    first_session_at: str | None = None
    portal_cancel_enabled: bool | None = None
    portal_checked_at: str | None = None
    portal_check_error: str | None = None


def get_settings(db: Database, workspace_id: int) -> EmbedSettings:
    row = one(db, "SELECT * FROM embed_settings WHERE workspace_id = ?", [workspace_id])
    if row is None:
        return EmbedSettings()
    enabled = row["portal_cancel_enabled"]
    return EmbedSettings(
        wall_mode=row["wall_mode"],
        wall_grace_days=row["wall_grace_days"],
        first_session_at=row["first_session_at"],
        portal_cancel_enabled=None if enabled is None else bool(enabled),
        portal_checked_at=row["portal_checked_at"],
        portal_check_error=row["portal_check_error"],
    )


def _ensure_row(db: Database, workspace_id: int) -> None:
    db.execute(
        "INSERT OR IGNORE INTO embed_settings (workspace_id, updated_at) VALUES (?, ?)",
        [workspace_id, clock.iso()],
    )


def save_wall_settings(db: Database, workspace_id: int, mode: str, grace_days_raw: str) -> EmbedSettings:
    if mode not in WALL_MODES:
        raise ValidationError("Choose whether the wall can be dismissed or blocks the app.", "wall_mode")
    try:
        grace = int((grace_days_raw or "0").strip())
    except ValueError:
        raise ValidationError("Grace days must be a whole number from 0 to 60.", "wall_grace_days") from None
    if not 0 <= grace <= 60:
        raise ValidationError("Grace days must be a whole number from 0 to 60.", "wall_grace_days")
    with write_transaction(db):
        _ensure_row(db, workspace_id)
        db.execute(
            "UPDATE embed_settings SET wall_mode = ?, wall_grace_days = ?, updated_at = ? WHERE workspace_id = ?",
            [mode, grace, clock.iso(), workspace_id],
        )
    return get_settings(db, workspace_id)


def note_session_opened(db: Database, workspace_id: int) -> None:
    """The embed (or the hosted redirect) opened a session: half of checklist step 4's proof.
    Call inside the caller's write transaction."""
    _ensure_row(db, workspace_id)
    db.execute(
        "UPDATE embed_settings SET first_session_at = COALESCE(first_session_at, ?) WHERE workspace_id = ?",
        [clock.iso(), workspace_id],
    )


def record_portal_check(
    db: Database, workspace_id: int, cancel_enabled: bool | None, error: str | None
) -> None:
    with write_transaction(db):
        _ensure_row(db, workspace_id)
        db.execute(
            "UPDATE embed_settings SET portal_cancel_enabled = ?, portal_checked_at = ?, portal_check_error = ? "
            "WHERE workspace_id = ?",
            [None if cancel_enabled is None else int(cancel_enabled), clock.iso(), error, workspace_id],
        )
