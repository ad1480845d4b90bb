"""Pause recovery: hold every customer email and every charge of a workspace, and let them go,
in the order they came due and once each, when the pause is lifted.

What a pause holds:

- recovery steps (charge retries, dunning emails, taking collection over, the end action): they
  stay due and are not run (``steps.due_step_ids`` and ``steps.run_step`` skip paused workspaces);
- win-back emails: the ``winbacks`` rows stay due (``winback.due_ids`` and ``winback.send`` skip);
- every other customer email (card-expiry warnings, trial reminders, receipts, a resent dunning
  email): it is queued and kept with ``work_state = 'held'`` by the email hold (``email.holds``).

Nothing is dropped and nothing new is decided while paused: new failed renewals still open
campaigns, and their steps wait with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from backstop import clock
from backstop.db import all_rows, write_transaction
from backstop.email import holds
from backstop.email.kinds import KINDS
from backstop.recovery import campaigns

STEP_LABELS = {
    "retry": "Charge retries",
    "dunning": "Dunning emails",
    "takeover": "Taking collection over from Stripe",
    "terminal": "End actions (cancel, mark unpaid or leave past due)",
}


@dataclass(frozen=True)
class Released:
    """One piece of held work, in the order it goes out."""

    table: str  # recovery_steps, winbacks or email_messages
    id: int
    due_at: str


def pause(db: Database, workspace_id: int, by: str | None) -> None:
    with write_transaction(db):
        campaigns.set_paused(db, workspace_id, True, by=by)
        holds.hold(db, workspace_id)


def resume(db: Database, workspace_id: int) -> list[Released]:
    """Lift the pause; return everything that came due meanwhile, oldest first."""
    with write_transaction(db):
        campaigns.set_paused(db, workspace_id, False)
        emails = holds.lift(db, workspace_id)
    return sorted(
        [
            *(Released("email_messages", e["id"], e["created_at"]) for e in emails),
            *_due_rows(db, workspace_id),
        ],
        key=lambda r: (r.due_at, r.table != "email_messages", r.id),
    )


def _due_rows(db: Database, workspace_id: int) -> list[Released]:
    now = clock.iso()
    steps = all_rows(
        db,
        "SELECT id, due_at FROM recovery_steps WHERE workspace_id = ? AND work_state = 'pending' "
        "AND status = 'scheduled' AND due_at <= ?",
        [workspace_id, now],
    )
    winbacks = all_rows(
        db,
        "SELECT id, due_at FROM winbacks WHERE workspace_id = ? AND work_state = 'pending' "
        "AND status = 'scheduled' AND due_at <= ?",
        [workspace_id, now],
    )
    return [Released("recovery_steps", r["id"], r["due_at"]) for r in steps] + [
        Released("winbacks", r["id"], r["due_at"]) for r in winbacks
    ]


def waiting(db: Database, workspace_id: int) -> list[dict]:
    """What the pause is holding, as rows of (label, count) for the pause page."""
    now = clock.iso()
    rows = all_rows(
        db,
        "SELECT kind, COUNT(*) AS n FROM recovery_steps WHERE workspace_id = ? AND work_state = 'pending' "
        "AND status = 'scheduled' AND due_at <= ? GROUP BY kind",
        [workspace_id, now],
    )
    found = {r["kind"]: r["n"] for r in rows}
    out = [{"label": label, "count": found[kind]} for kind, label in STEP_LABELS.items() if found.get(kind)]
    winbacks = db.execute(
        "SELECT COUNT(*) FROM winbacks WHERE workspace_id = ? AND work_state = 'pending' "
        "AND status = 'scheduled' AND due_at <= ?",
        [workspace_id, now],
    ).fetchone()[0]
    if winbacks:
        out.append({"label": "Win-back emails", "count": winbacks})
    for kind, count in holds.waiting_by_kind(db, workspace_id).items():
        label = KINDS[kind].label if kind in KINDS else kind
        out.append({"label": label, "count": count})
    return out


def is_paused(db: Database, workspace_id: int) -> bool:
    return campaigns.paused_at(db, workspace_id) is not None
