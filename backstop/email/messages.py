"""The queue of messages: every email is a row first, written in the caller's transaction.

``queue_email`` is the one call other domains make. It renders the message at once (what is
queued is exactly what the customer will read), applies the suppression rules, and leaves a
work row that ``sending.send_message`` claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from backstop import clock
from backstop.db import all_rows, one, write_transaction
from backstop.email import holds, suppression
from backstop.email.branding import get_branding
from backstop.email.kinds import get_kind
from backstop.email.policy import flatten_header, suppression_reason, valid_address
from backstop.email.render import render_email
from backstop.lib import workrows
from backstop.settings import Settings
from backstop.workspaces.errors import NotFound

TABLE = "email_messages"
STATUSES = ("queued", "sent", "blocked", "failed", "suppressed", "bounced", "complained")

# The one vocabulary the admin pages use for a message's state: the send-log filter, its counts,
# each row, the message page and the campaign timeline all read it. "In outbox" is a message the
# outbox transport kept on this machine (stored as sent, with transport 'outbox').
STATUS_LABELS = {
    "queued": "Queued",
    "outbox": "In outbox",
    "sent": "Sent",
    "blocked": "Blocked",
    "failed": "Failed",
    "suppressed": "Not sent",
    "bounced": "Bounced",
    "complained": "Complained",
}
_SHOWN_STATUS_SQL = "CASE WHEN status = 'sent' AND transport = 'outbox' THEN 'outbox' ELSE status END"


def shown_status(status: str, transport: str | None = None) -> str:
    """The key in STATUS_LABELS for a stored status (and the transport that handled it)."""
    return "outbox" if status == "sent" and transport == "outbox" else status


def status_label(status: str, transport: str | None = None) -> str:
    key = shown_status(status, transport)
    return STATUS_LABELS.get(key, key.replace("_", " ").capitalize())


@dataclass(frozen=True)
class QueuedEmail:
    id: int
    status: str
    created: bool  # False when the dedupe key matched an earlier message


def queue_email(
    db: Database,
    settings: Settings,
    *,
    workspace_id: int,
    kind: str,
    to_email: str,
    to_name: str | None = None,
    context: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    customer_id: str | None = None,
) -> QueuedEmail:
    """Queue one email of ``kind`` for a customer; call it inside the transaction of its cause.

    ``dedupe_key`` (for example ``dunning:in_123:step:2``) makes queuing idempotent: a second
    call with the same key returns the first message instead of adding another.
    """
    spec = get_kind(kind)
    if not settings.secret_key:
        raise RuntimeError("settings.secret_key is needed to sign unsubscribe links")
    if dedupe_key:
        existing = one(
            db,
            "SELECT id, status FROM email_messages WHERE workspace_id = ? AND dedupe_key = ?",
            [workspace_id, dedupe_key],
        )
        if existing:
            return QueuedEmail(existing["id"], existing["status"], False)
    address = (to_email or "").strip().lower()
    name = flatten_header(to_name or "", 100) or None
    unsubscribe = suppression.unsubscribe_url(settings.public_url, settings.secret_key, workspace_id, address)
    rendered = render_email(
        kind,
        {**(context or {}), "customer_name": name},
        get_branding(db, workspace_id),
        settings.public_url,
        unsubscribe,
    )
    status, reason, work_state = "queued", None, "pending"
    if held := holds.holds(db, workspace_id, kind):
        reason, work_state = held, "held"
    if not valid_address(address):
        status, reason, work_state = "failed", f"“{address[:80]}” isn't a valid email address.", "failed"
    elif why := suppression_reason(spec.category, suppression.state(db, workspace_id, address)):
        status, reason, work_state = "suppressed", why, "done"
    now = clock.iso()
    with write_transaction(db):
        cur = db.execute(
            "INSERT INTO email_messages (workspace_id, kind, category, dedupe_key, customer_id, "
            "to_email, to_name, subject, html, text, unsubscribe_url, status, status_reason, "
            "created_at, updated_at, work_state, due_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (workspace_id, dedupe_key) DO NOTHING",
            [
                workspace_id, kind, spec.category, dedupe_key, customer_id, address, name,
                rendered.subject, rendered.html, rendered.text, unsubscribe, status, reason,
                now, now, work_state, now,
            ],
        )  # fmt: skip
        if cur.rowcount == 0:  # a concurrent call with the same key won
            existing = one(
                db,
                "SELECT id, status FROM email_messages WHERE workspace_id = ? AND dedupe_key = ?",
                [workspace_id, dedupe_key],
            )
            return QueuedEmail(existing["id"], existing["status"], False)  # type: ignore[index]
        if work_state == "pending":
            workrows.ready_after_commit(db, TABLE, cur.lastrowid)  # type: ignore[arg-type]
    return QueuedEmail(cur.lastrowid, status, True)  # type: ignore[arg-type]


def release_held(db: Database, workspace_id: int) -> list[int]:
    """Blocked messages of the workspace become due now; returns their ids to enqueue. Mail a
    pause holds (``holds``) stays held until the pause is lifted."""
    if holds.hold_reason(db, workspace_id):
        return []
    now = clock.iso()
    rows = db.execute(
        "UPDATE email_messages SET status = 'queued', status_reason = NULL, work_state = 'pending', "
        "due_at = ?, claimed_until = NULL, updated_at = ? WHERE workspace_id = ? AND work_state = 'held' "
        "RETURNING id",
        [now, now, workspace_id],
    ).fetchall()
    return sorted(r[0] for r in rows)


def due_ids(db: Database, workspace_id: int) -> list[int]:
    """The workspace's messages waiting to be sent now, oldest first."""
    rows = db.execute(
        "SELECT id FROM email_messages WHERE workspace_id = ? AND work_state = 'pending' AND due_at <= ? "
        "ORDER BY id",
        [workspace_id, clock.iso()],
    ).fetchall()
    return [r[0] for r in rows]


def held_workspace_ids(db: Database) -> list[int]:
    return [
        r["workspace_id"]
        for r in all_rows(
            db,
            "SELECT DISTINCT workspace_id FROM email_messages WHERE work_state = 'held' "
            "AND workspace_id NOT IN (SELECT workspace_id FROM email_holds)",
        )
    ]


_LIST_COLUMNS = (
    "id, kind, category, to_email, to_name, subject, status, status_reason, transport, "
    "from_header, created_at, sent_at, updated_at, attempts, last_error, work_state, due_at"
)


def list_messages(
    db: Database,
    workspace_id: int,
    *,
    status: str | None = None,
    kind: str | None = None,
    search: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[dict]:
    where, params = ["workspace_id = ?"], [workspace_id]
    if status in STATUS_LABELS:
        where.append(f"{_SHOWN_STATUS_SQL} = ?")
        params.append(status)
    if kind:
        where.append("kind = ?")
        params.append(kind)
    if search:
        where.append("(to_email LIKE ? ESCAPE '\\' OR subject LIKE ? ESCAPE '\\')")
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params += [pattern, pattern]
    if before_id:
        where.append("id < ?")
        params.append(before_id)
    sql = f"SELECT {_LIST_COLUMNS} FROM email_messages WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?"  # noqa: S608
    return all_rows(db, sql, [*params, limit])


def status_counts(db: Database, workspace_id: int) -> dict[str, int]:
    rows = all_rows(
        db,
        f"SELECT {_SHOWN_STATUS_SQL} AS status, COUNT(*) AS n FROM email_messages "  # noqa: S608
        "WHERE workspace_id = ? GROUP BY 1",
        [workspace_id],
    )
    counts = dict.fromkeys(STATUS_LABELS, 0)
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


def get_message(db: Database, workspace_id: int, message_id: int) -> dict:
    row = one(
        db, "SELECT * FROM email_messages WHERE id = ? AND workspace_id = ?", [message_id, workspace_id]
    )
    if row is None:
        raise NotFound(message_id)
    return row


def send_again(db: Database, workspace_id: int, message_id: int) -> bool:
    """Put a failed message back in the queue (an admin's decision after reading why)."""
    now = clock.iso()
    cur = db.execute(
        "UPDATE email_messages SET status = 'queued', status_reason = NULL, work_state = 'pending', "
        "due_at = ?, claimed_until = NULL, handoff_at = NULL, attempts = 0, last_error = NULL, "
        "updated_at = ? WHERE id = ? AND workspace_id = ? AND status = 'failed'",
        [now, now, message_id, workspace_id],
    )
    return cur.rowcount == 1


def held_summary(db: Database, workspace_id: int) -> dict:
    """How many of the workspace's emails are held, and one reason why: ``{"n", "reason"}``."""
    return one(
        db,
        "SELECT COUNT(*) AS n, MAX(status_reason) AS reason FROM email_messages "
        "WHERE workspace_id = ? AND work_state = 'held'",
        [workspace_id],
    ) or {"n": 0, "reason": None}
