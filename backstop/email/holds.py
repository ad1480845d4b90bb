"""Holding a workspace's customer email: while a hold stands (recovery is paused), every email to a
customer is still queued, rendered and kept, but waits with ``work_state = 'held'`` instead of
going out. Lifting the hold makes the waiting mail due again, oldest first.

Email to an admin (the send diagnostic) is never held: it is how a founder checks the mail setup.
"""

from __future__ import annotations

from sqlite_utils import Database

from backstop import clock
from backstop.db import all_rows, one
from backstop.email.kinds import get_kind

PAUSED = "Recovery is paused: this email goes out when recovery is resumed."


def hold_reason(db: Database, workspace_id: int) -> str | None:
    row = one(db, "SELECT reason FROM email_holds WHERE workspace_id = ?", [workspace_id])
    return row["reason"] if row else None


def holds(db: Database, workspace_id: int, kind: str) -> str | None:
    """Why an email of ``kind`` must wait now, or None when it may go."""
    if not get_kind(kind).to_customer:
        return None
    return hold_reason(db, workspace_id)


def hold(db: Database, workspace_id: int, reason: str = PAUSED) -> None:
    """Hold the workspace's customer email; call it in the transaction that pauses."""
    db.execute(
        "INSERT INTO email_holds (workspace_id, reason, since) VALUES (?, ?, ?) "
        "ON CONFLICT (workspace_id) DO UPDATE SET reason = excluded.reason",
        [workspace_id, reason, clock.iso()],
    )


def lift(db: Database, workspace_id: int) -> list[dict]:
    """Lift the hold; the mail it kept becomes due now. Returns the released messages (id,
    kind, created_at), oldest first, for the caller to send in that order."""
    db.execute("DELETE FROM email_holds WHERE workspace_id = ?", [workspace_id])
    now = clock.iso()
    rows = db.execute(
        "UPDATE email_messages SET status_reason = NULL, work_state = 'pending', due_at = ?, "
        "claimed_until = NULL, updated_at = ? WHERE workspace_id = ? AND work_state = 'held' "
        "AND status = 'queued' RETURNING id, kind, created_at",
        [now, now, workspace_id],
    ).fetchall()
    return sorted(
        ({"id": r[0], "kind": r[1], "created_at": r[2]} for r in rows),
        key=lambda r: (r["created_at"], r["id"]),
    )


def waiting_by_kind(db: Database, workspace_id: int) -> dict[str, int]:
    """Customer email kept by the hold, counted per kind."""
    rows = all_rows(
        db,
        "SELECT kind, COUNT(*) AS n FROM email_messages WHERE workspace_id = ? AND work_state = 'held' "
        "AND status = 'queued' GROUP BY kind ORDER BY kind",
        [workspace_id],
    )
    return {r["kind"]: r["n"] for r in rows}
