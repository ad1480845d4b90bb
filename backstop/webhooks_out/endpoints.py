"""A workspace's webhook endpoints: where events go, which ones, and the secret that signs them.

The signing secret (``whsec_`` + base64 of 24 random bytes, usable by Stripe's libraries as is
and by Standard Webhooks libraries) is shown once and stored encrypted. Rotating keeps the old
secret signing beside the new one for 24 hours.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.connectors import http
from backstop.db import all_rows, one, write_transaction
from backstop.lib.crypto import SecretBox
from backstop.webhooks_out.events import EVENT_TYPES

ROTATION_OVERLAP = timedelta(hours=24)
MAX_ENDPOINTS = 16
MAX_DESCRIPTION = 200


class EndpointError(ValueError):
    """Bad input, with the field it concerns and one sentence."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Endpoint:
    id: int
    public_id: str
    workspace_id: int
    url: str
    description: str | None
    events: list[str]
    enabled: bool
    failing_since: str | None
    disabled_at: str | None
    disabled_reason: str | None
    rotating_until: str | None
    created_at: str

    @classmethod
    def from_row(cls, row: dict) -> Endpoint:
        rotating = row["previous_secret_expires_at"]
        if rotating and rotating <= clock.iso():
            rotating = None
        return cls(
            id=row["id"],
            public_id=row["public_id"],
            workspace_id=row["workspace_id"],
            url=row["url"],
            description=row["description"],
            events=json.loads(row["events"]),
            enabled=bool(row["enabled"]),
            failing_since=row["failing_since"],
            disabled_at=row["disabled_at"],
            disabled_reason=row["disabled_reason"],
            rotating_until=rotating,
            created_at=row["created_at"],
        )


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def clean_events(events: list[str] | None) -> list[str]:
    chosen = sorted({e.strip() for e in events or [] if e and e.strip()})
    if not chosen:
        raise EndpointError("events", "Choose at least one event to send to this endpoint.")
    unknown = [e for e in chosen if e not in EVENT_TYPES]
    if unknown:
        raise EndpointError(
            "events", f"{unknown[0]!r} is not an event Backstop sends; pick from {', '.join(EVENT_TYPES)}."
        )
    return chosen


def clean_url(url: str, *, allow_private: bool, resolver: http.Resolver | None = None) -> str:
    try:
        return http.check_url(url, allow_private=allow_private, resolver=resolver).url
    except http.Refused as exc:
        raise EndpointError("url", str(exc)) from None


def clean_description(description: str | None) -> str | None:
    text = " ".join((description or "").split())
    if len(text) > MAX_DESCRIPTION:
        raise EndpointError("description", f"Keep the description under {MAX_DESCRIPTION} characters.")
    return text or None


def list_endpoints(db: Database, workspace_id: int) -> list[Endpoint]:
    rows = all_rows(db, "SELECT * FROM webhook_endpoints WHERE workspace_id = ? ORDER BY id", [workspace_id])
    return [Endpoint.from_row(r) for r in rows]


def get_endpoint(db: Database, workspace_id: int, public_id: str) -> Endpoint | None:
    row = one(
        db,
        "SELECT * FROM webhook_endpoints WHERE workspace_id = ? AND public_id = ?",
        [workspace_id, public_id],
    )
    return Endpoint.from_row(row) if row else None


def get_by_row_id(db: Database, endpoint_id: int) -> Endpoint | None:
    row = one(db, "SELECT * FROM webhook_endpoints WHERE id = ?", [endpoint_id])
    return Endpoint.from_row(row) if row else None


def create_endpoint(
    db: Database,
    box: SecretBox,
    workspace_id: int,
    *,
    url: str,
    events: list[str],
    description: str | None = None,
    enabled: bool = True,
    allow_private: bool = False,
    resolver: http.Resolver | None = None,
) -> tuple[Endpoint, str]:
    """Validate and save an endpoint; returns it and its signing secret (shown once)."""
    chosen = clean_events(events)
    text = clean_description(description)
    checked = clean_url(url, allow_private=allow_private, resolver=resolver)  # DNS: before the lock
    secret = new_secret()
    now = clock.iso()
    public_id = "we_" + secrets.token_hex(12)
    with write_transaction(db):
        count = db.execute(
            "SELECT COUNT(*) FROM webhook_endpoints WHERE workspace_id = ?", [workspace_id]
        ).fetchone()[0]
        if count >= MAX_ENDPOINTS:
            raise EndpointError(
                "url", f"A workspace can have up to {MAX_ENDPOINTS} endpoints; delete one first."
            )
        db.execute(
            "INSERT INTO webhook_endpoints (public_id, workspace_id, url, description, events, enabled, "
            "secret_enc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                public_id,
                workspace_id,
                checked,
                text,
                json.dumps(chosen),
                int(enabled),
                box.encrypt(secret),
                now,
                now,
            ],
        )
    return get_endpoint(db, workspace_id, public_id), secret  # type: ignore[return-value]


def update_endpoint(
    db: Database,
    workspace_id: int,
    public_id: str,
    *,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    allow_private: bool = False,
    resolver: http.Resolver | None = None,
) -> Endpoint | None:
    """Change what is given; re-enabling clears the failure streak. None when not found."""
    current = get_endpoint(db, workspace_id, public_id)
    if current is None:
        return None
    changes: dict = {}
    if url is not None and url.strip() != current.url:
        changes["url"] = clean_url(url, allow_private=allow_private, resolver=resolver)
    if events is not None:
        changes["events"] = json.dumps(clean_events(events))
    if description is not None:
        changes["description"] = clean_description(description)
    if enabled is not None and enabled != current.enabled:
        changes["enabled"] = int(enabled)
        if enabled:
            changes.update(failing_since=None, disabled_at=None, disabled_reason=None)
    if changes:
        changes["updated_at"] = clock.iso()
        sets = ", ".join(f"{k} = ?" for k in changes)
        with write_transaction(db):
            db.execute(
                f"UPDATE webhook_endpoints SET {sets} WHERE id = ?",  # noqa: S608 - the keys are ours
                [*changes.values(), current.id],
            )
    return get_endpoint(db, workspace_id, public_id)


def delete_endpoint(db: Database, workspace_id: int, public_id: str) -> bool:
    """Remove the endpoint with its deliveries and their log; the event log stays."""
    with write_transaction(db):
        cur = db.execute(
            "DELETE FROM webhook_endpoints WHERE workspace_id = ? AND public_id = ?",
            [workspace_id, public_id],
        )
    return cur.rowcount == 1


def rotate_secret(
    db: Database, box: SecretBox, workspace_id: int, public_id: str
) -> tuple[Endpoint, str] | None:
    """A new secret signs from now on; the current one keeps signing beside it for 24 hours."""
    secret = new_secret()
    now = clock.now()
    with write_transaction(db):
        row = one(
            db,
            "SELECT id, secret_enc FROM webhook_endpoints WHERE workspace_id = ? AND public_id = ?",
            [workspace_id, public_id],
        )
        if row is None:
            return None
        db.execute(
            "UPDATE webhook_endpoints SET secret_enc = ?, previous_secret_enc = ?, "
            "previous_secret_expires_at = ?, updated_at = ? WHERE id = ?",
            [
                box.encrypt(secret),
                row["secret_enc"],
                clock.iso(now + ROTATION_OVERLAP),
                clock.iso(now),
                row["id"],
            ],
        )
    return get_endpoint(db, workspace_id, public_id), secret  # type: ignore[return-value]


def resolver_for(settings) -> http.Resolver | None:
    """The DNS servers BACKSTOP_DNS_RESOLVERS names, or the system's resolver."""
    return http.dns_resolver(settings.dns_resolvers) if settings.dns_resolvers else None


def signing_secrets(db: Database, box: SecretBox, endpoint_id: int) -> list[str]:
    """The secrets that sign a delivery now: the current one, then the previous one while the
    rotation overlap lasts."""
    row = one(
        db,
        "SELECT secret_enc, previous_secret_enc, previous_secret_expires_at FROM webhook_endpoints WHERE id = ?",
        [endpoint_id],
    )
    if row is None:
        return []
    out = [box.decrypt(row["secret_enc"])]
    if row["previous_secret_enc"] and (row["previous_secret_expires_at"] or "") > clock.iso():
        out.append(box.decrypt(row["previous_secret_enc"]))
    return out


def find_by_public_id(db: Database, public_id: str) -> Endpoint | None:
    """An endpoint by its id alone, for the operator's command line (ids are unique)."""
    row = one(db, "SELECT * FROM webhook_endpoints WHERE public_id = ?", [public_id])
    return Endpoint.from_row(row) if row else None
