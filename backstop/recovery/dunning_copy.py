"""A workspace's own words for the dunning emails: a subject line and an opening paragraph per
step. Empty means the default text; the customer sees the values as plain text, never markup."""

from __future__ import annotations

from sqlite_utils import Database

from backstop import clock
from backstop.db import all_rows, write_transaction
from backstop.lib.forms import FieldErrors

STEPS = (1, 2, 3, 4)
SUBJECT_MAX = 150
INTRO_MAX = 1000


def get_all(db: Database, workspace_id: int) -> dict[int, dict]:
    """Step → {"subject": str, "intro": str}; every step is present, empty when not overridden."""
    out = {step: {"subject": "", "intro": ""} for step in STEPS}
    for row in all_rows(
        db, "SELECT step, subject, intro FROM dunning_copy WHERE workspace_id = ?", [workspace_id]
    ):
        out[row["step"]] = {"subject": row["subject"] or "", "intro": row["intro"] or ""}
    return out


def context_for(db: Database, workspace_id: int, step: int) -> dict:
    """What the email templates read: ``subject_line`` and ``intro`` when set."""
    copy = get_all(db, workspace_id).get(step, {})
    return {"subject_line": copy.get("subject") or None, "intro": copy.get("intro") or None}


def parse(form: dict[str, str]) -> dict[int, dict]:
    """Form fields subject_<n> / intro_<n> → values per step; raises ``FieldErrors``."""
    values, errors = _read(form)
    errors.raise_if_any()
    return values


def read_submitted(form: dict[str, str]) -> dict[int, dict]:
    """The copy as typed, valid or not (to show a failed submit again)."""
    return _read(form)[0]


def _read(form: dict[str, str]) -> tuple[dict[int, dict], FieldErrors]:
    values, errors = {}, FieldErrors()
    for step in STEPS:
        subject = " ".join((form.get(f"subject_{step}") or "").split())
        intro = (form.get(f"intro_{step}") or "").strip().replace("\r\n", "\n")
        if len(subject) > SUBJECT_MAX:
            errors.add(
                f"subject_{step}", f"Keep the subject under {SUBJECT_MAX} characters; inboxes cut it off."
            )
        if len(intro) > INTRO_MAX:
            errors.add(f"intro_{step}", f"Keep the paragraph under {INTRO_MAX} characters.")
        values[step] = {"subject": subject, "intro": intro}
    return values, errors


def save(db: Database, workspace_id: int, values: dict[int, dict]) -> None:
    with write_transaction(db):
        for step, v in values.items():
            db.execute(
                "INSERT INTO dunning_copy (workspace_id, step, subject, intro, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (workspace_id, step) DO UPDATE SET subject = excluded.subject, "
                "intro = excluded.intro, updated_at = excluded.updated_at",
                [workspace_id, step, v["subject"] or None, v["intro"] or None, clock.iso()],
            )
