"""Read-side views of campaigns for the admin pages and the API.

Every function takes the workspace id and filters on it, so a campaign of another workspace is
never counted, listed or shown.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.db import all_rows, one
from backstop.email.messages import status_label
from backstop.recovery import policy as rules
from backstop.recovery.model import CLOSED, STATUS_LABELS, STATUSES, Campaign, CampaignStatus, total_attempts

CLASS_LABELS = {rules.SOFT: "soft", rules.HARD: "hard", rules.NEVER: "never retry"}
STALLED_DAYS = 14

# What a decline code means, in words a founder can act on.
DECLINE_MEANINGS = {
    "insufficient_funds": "Not enough money on the card right now; often clears after payday.",
    "generic_decline": "The bank declined without saying why; a later retry often works.",
    "do_not_honor": "The bank declined without saying why; a later retry often works.",
    "card_declined": "The bank declined the charge; a later retry often works.",
    "processing_error": "Something failed between Stripe and the bank; retrying usually works.",
    "try_again_later": "The bank asked to try again later.",
    "issuer_not_available": "The bank couldn't be reached; retrying usually works.",
    "call_issuer": "The bank wants the customer to call them.",
    "expired_card": "The card has expired: only a new card will work.",
    "incorrect_number": "The card number is wrong: the customer needs to enter the card again.",
    "incorrect_cvc": "The security code is wrong: the customer needs to enter the card again.",
    "invalid_cvc": "The security code is wrong: the customer needs to enter the card again.",
    "card_not_supported": "This card can't pay for this kind of purchase.",
    "authentication_required": "The bank wants the customer to confirm the payment (3-D Secure).",
    "card_velocity_exceeded": "The card hit its spending or attempt limit.",
    "lost_card": "The card was reported lost: never retry it, wait for a new card.",
    "stolen_card": "The card was reported stolen: never retry it, wait for a new card.",
    "pickup_card": "The bank wants the card taken out of use: never retry it.",
    "restricted_card": "The card can't be used for this: never retry it.",
    "fraudulent": "The bank suspects fraud: never retry this card.",
    "revocation_of_authorization": "The customer stopped this payment at their bank: never retry.",
    "revocation_of_all_authorizations": "The customer stopped all payments at their bank: never retry.",
    "transaction_not_allowed": "The bank doesn't allow this charge on the card: never retry.",
}
CLASS_MEANINGS = {
    rules.SOFT: "A temporary decline: retrying later often works.",
    rules.HARD: "The card details need fixing: one polite retry, then wait for a new card.",
    rules.NEVER: "Card networks forbid retrying this card: wait for a new one.",
}
STEP_LABELS = {
    "takeover": "Take over collection from Stripe",
    "retry": "Retry the charge",
    "dunning": "Send dunning email",
    "terminal": "Give up and apply the end action",
}


def decline_meaning(code: str | None, decline_class: str | None = None) -> str:
    if code and code in DECLINE_MEANINGS:
        return DECLINE_MEANINGS[code]
    return CLASS_MEANINGS.get(decline_class or rules.classify(code), "")


def step_label(step: dict, held_out: bool = False) -> str:
    label = STEP_LABELS.get(step["kind"], step["kind"])
    if step["kind"] == "dunning" and held_out:
        return f"Skip dunning email {step['seq']} of 4 (held out)"
    if step["kind"] == "dunning":
        return f"{label} {step['seq']} of 4"
    if step["kind"] == "retry" and step.get("trigger") == "admin":
        return "Retry the charge (asked by an admin)"
    if step["kind"] == "retry" and step.get("trigger") == "card_update":
        return "Retry the charge on the new card"
    return label


# -- lists --------------------------------------------------------------------------------------


def status_counts(db: Database, workspace_id: int) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for status, n in db.execute(
        "SELECT status, COUNT(*) FROM campaigns WHERE workspace_id = ? GROUP BY status", [workspace_id]
    ):
        counts[status] = n
    return counts


_NEXT_STEP = (
    "(SELECT {col} FROM recovery_steps s WHERE s.campaign_id = c.id AND s.status = 'scheduled' "
    "ORDER BY s.due_at, s.id LIMIT 1)"
)


def list_campaigns(
    db: Database,
    workspace_id: int,
    *,
    status: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[dict]:
    """Newest first, with the next planned step (kind, seq, trigger, due) of each."""
    where, args = ["c.workspace_id = ?"], [workspace_id]
    if status:
        where.append("c.status = ?")
        args.append(status)
    if before_id:
        where.append("c.id < ?")
        args.append(before_id)
    cols = ", ".join(
        f"{_NEXT_STEP.format(col=col)} AS next_{col}" for col in ("kind", "seq", "trigger", "due_at")
    )
    rows = all_rows(
        db,
        f"SELECT c.*, {cols}, (SELECT COUNT(*) FROM payment_attempts a WHERE a.campaign_id = c.id) AS our_count "  # noqa: S608
        f"FROM campaigns c WHERE {' AND '.join(where)} ORDER BY c.id DESC LIMIT ?",
        [*args, limit],
    )
    for row in rows:
        decorate(row)
    return rows


def decorate(row: dict) -> dict:
    row["status_label"] = STATUS_LABELS.get(row["status"], row["status"])
    row["class_label"] = CLASS_LABELS.get(row["decline_class"], row["decline_class"])
    row["meaning"] = decline_meaning(row["decline_code"], row["decline_class"])
    row["attempts"] = total_attempts(row.get("stripe_attempts"), row.get("our_count"))
    row["stripe_count"] = row["attempts"] - (row.get("our_count") or 0)
    if row.get("next_kind"):
        row["next_label"] = step_label(
            {"kind": row["next_kind"], "seq": row["next_seq"], "trigger": row["next_trigger"]},
            bool(row.get("dunning_holdout")),
        )
    return row


def attempts_of(db: Database, campaign_id: int) -> list[dict]:
    return all_rows(
        db,
        "SELECT attempt_number, trigger, attempted_at, outcome, decline_code, message FROM payment_attempts "
        "WHERE campaign_id = ? ORDER BY id",
        [campaign_id],
    )


def dunning_sends(db: Database, campaign: Campaign) -> list[dict]:
    """The campaign's dunning emails (first sends and resends), oldest first."""
    prefix = f"dunning:{campaign.invoice_id}:"
    rows = all_rows(
        db,
        "SELECT id, kind, dedupe_key, to_email, subject, status, status_reason, created_at, updated_at "
        "FROM email_messages WHERE workspace_id = ? AND dedupe_key LIKE ? ESCAPE '\\' ORDER BY id",
        [campaign.workspace_id, _like_prefix(prefix)],
    )
    for row in rows:
        parts = row["dedupe_key"].split(":")
        row["step"] = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None
        row["resend"] = ":resend:" in row["dedupe_key"]
    return rows


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# -- one campaign --------------------------------------------------------------------------------


def get_campaign(db: Database, workspace_id: int, campaign_id: int) -> dict | None:
    row = one(
        db,
        "SELECT c.*, (SELECT COUNT(*) FROM payment_attempts a WHERE a.campaign_id = c.id) AS our_count "
        "FROM campaigns c WHERE c.id = ? AND c.workspace_id = ?",
        [campaign_id, workspace_id],
    )
    return decorate(row) if row else None


def timeline_entries(db: Database, campaign: Campaign) -> list[dict]:
    """The campaign's events as sentences, each with an optional link to the email it sent."""
    rows = all_rows(
        db,
        "SELECT e.id, e.at, e.kind, e.detail FROM campaign_events e JOIN campaigns c ON c.id = e.campaign_id "
        "WHERE e.campaign_id = ? AND c.workspace_id = ? ORDER BY e.id",
        [campaign.id, campaign.workspace_id],
    )
    return [describe_event(r) for r in rows]


_CLOSED_TONES = {
    CampaignStatus.RECOVERED: "green",
    CampaignStatus.LOST: "red",
    CampaignStatus.ABANDONED: "muted",
}


def describe_event(row: dict) -> dict:
    d = (
        json.loads(row["detail"])
        if isinstance(row.get("detail"), str) and row["detail"]
        else (row.get("detail") or {})
    )
    kind = row["kind"]
    text, tone, message_id = kind.replace("_", " ").capitalize(), "neutral", None
    if kind == "opened":
        code = d.get("decline_code") or "no decline code"
        text = f"Campaign opened: the renewal was declined ({code}, {CLASS_LABELS.get(d.get('decline_class'), '')})."
        tone = "amber"
    elif kind == "took_over":
        text = "Took over collection: Stripe's automatic retries are off for this invoice."
    elif kind == "handed_back":
        text = f"Handed collection back to Stripe (asked by {d.get('by', 'an admin')}): Stripe's automatic retries and emails are on again for this invoice."
    elif kind == "takeover_skipped":
        text = f"Didn't take over: {d.get('reason', '')}"
    elif kind == "retry_scheduled":
        text = "Next retry planned."
    elif kind == "retry_requested":
        text = f"Retry asked for by {d.get('by', 'an admin')}."
    elif kind == "retry_attempted":
        who = {"admin": " (asked by an admin)", "card_update": " on the new card"}.get(d.get("trigger"), "")
        if d.get("outcome") == "succeeded":
            text, tone = f"Retry {d.get('attempt')}{who}: paid.", "green"
        elif d.get("outcome") == "declined":
            text, tone = f"Retry {d.get('attempt')}{who}: declined ({d.get('decline_code')}).", "red"
        else:
            text, tone = (
                f"Retry {d.get('attempt')}{who}: Stripe answered with an error ({d.get('decline_code')}).",
                "red",
            )
    elif kind == "retry_skipped":
        text = f"Retry skipped: {d.get('reason', '')}."
    elif kind == "email_queued":
        again = f" again, asked by {d['by']}" if d.get("by") else ""
        if d.get("status") in (None, "queued"):
            text = f"Dunning email {d.get('step')} of 4 queued{again}."
        else:
            text = f"Dunning email {d.get('step')} of 4{again}: {status_label(d['status']).lower()}."
        message_id = d.get("message_id")
    elif kind == "held_out":
        text = "In the dunning holdout: Backstop retries the charge as usual but sends no dunning emails."
    elif kind == "email_held_out":
        text = f"Held out: no dunning emails (holdout). Email {d.get('step')} of 4 was not sent."
    elif kind == "email_skipped":
        text = f"Dunning email {d.get('step')} not sent: {d.get('reason', '')}."
    elif kind == "card_updated":
        text, tone = "The customer's default card changed.", "green"
    elif kind in CLOSED:
        closed = CampaignStatus(kind)
        text = f"Closed as {closed.label.lower()}: {d.get('reason', '')}."
        tone = _CLOSED_TONES[closed]
    return {**row, "detail": d, "text": text, "tone": tone, "message_id": message_id}


# A step is overdue once it has waited past the once-a-minute pass that should have run it.
OVERDUE_AFTER = timedelta(minutes=2)


def remaining_steps(db: Database, campaign: Campaign) -> list[dict]:
    """The campaign's steps still to run, oldest first; each says whether it is ``overdue`` (its
    time has passed and it hasn't run) and, if so, why, in words."""
    rows = all_rows(
        db,
        "SELECT id, kind, seq, trigger, due_at, attempts, last_error, work_state, claimed_until "
        "FROM recovery_steps WHERE campaign_id = ? AND workspace_id = ? "
        "AND status = 'scheduled' ORDER BY due_at, id",
        [campaign.id, campaign.workspace_id],
    )
    now = clock.now()
    paused = one(
        db,
        "SELECT paused_at FROM recovery_settings WHERE workspace_id = ? AND paused_at IS NOT NULL",
        [campaign.workspace_id],
    )
    for row in rows:
        row["label"] = step_label(row, campaign.held_out)
        row["overdue"] = clock.parse(row["due_at"]) < now - OVERDUE_AFTER
        row["overdue_reason"] = _overdue_reason(row, now, bool(paused)) if row["overdue"] else None
    return rows


def _overdue_reason(step: dict, now, paused: bool) -> str:
    if paused:
        return "Recovery is paused: it runs when you resume, in the order it came due."
    if step["work_state"] == "working" and step["claimed_until"]:
        if clock.parse(step["claimed_until"]) > now:
            return "Running now."
        return "Its run was interrupted (the server stopped mid-step); it is picked up again within a minute."
    if step["last_error"]:
        times = "time" if step["attempts"] == 1 else "times"
        return f"Failed {step['attempts']} {times}: {step['last_error']}. Backstop tries again on its own."
    return (
        "Waiting for the background jobs, which run due steps every minute. If it stays overdue, "
        "check that the Backstop server is running."
    )


def latest_dunning_seq(db: Database, campaign: Campaign) -> int | None:
    """The latest dunning step that went out (the one to resend), or None before the first."""
    row = db.execute(
        "SELECT MAX(seq) FROM recovery_steps WHERE campaign_id = ? AND workspace_id = ? AND kind = 'dunning' "
        "AND status = 'done'",
        [campaign.id, campaign.workspace_id],
    ).fetchone()
    return row[0] if row and row[0] else None


# -- overview ------------------------------------------------------------------------------------


def stalled(db: Database, workspace_id: int, days: int = STALLED_DAYS, limit: int = 10) -> list[dict]:
    """In-flight campaigns opened ``days`` or more ago, oldest first."""
    cutoff = clock.iso(clock.now() - timedelta(days=days))
    rows = all_rows(
        db,
        "SELECT * FROM campaigns WHERE workspace_id = ? AND status = ? AND opened_at <= ? "
        "ORDER BY opened_at, id LIMIT ?",
        [workspace_id, CampaignStatus.IN_FLIGHT.value, cutoff, limit],
    )
    return [decorate(r) for r in rows]


def stalled_count(db: Database, workspace_id: int, days: int = STALLED_DAYS) -> int:
    """How many campaigns ``stalled`` would list without a limit."""
    cutoff = clock.iso(clock.now() - timedelta(days=days))
    return db.execute(
        "SELECT COUNT(*) FROM campaigns WHERE workspace_id = ? AND status = ? AND opened_at <= ?",
        [workspace_id, CampaignStatus.IN_FLIGHT.value, cutoff],
    ).fetchone()[0]


def closed_between(db: Database, workspace_id: int, start: str, end: str) -> dict:
    """Campaigns that closed in [start, end): amounts per currency and counts, recovered and lost
    (an abandoned campaign, closed because the invoice went away, is neither)."""
    found: dict = {"recovered": {}, "recovered_count": 0, "lost": {}, "lost_count": 0}
    for status, currency, amount, n in db.execute(
        "SELECT status, currency, SUM(amount_due), COUNT(*) FROM campaigns WHERE workspace_id = ? "
        "AND status IN ('recovered', 'lost') AND closed_at >= ? AND closed_at < ? GROUP BY status, currency",
        [workspace_id, start, end],
    ):
        found[status][currency] = amount
        found[f"{status}_count"] += n
    return found


def decline_mix(db: Database, workspace_id: int, days: int = 90) -> list[dict]:
    """Campaigns opened in the last ``days`` by the decline code that opened them, commonest first."""
    since = clock.iso(clock.now() - timedelta(days=days))
    rows = all_rows(
        db,
        "SELECT COALESCE(json_extract(e.detail, '$.decline_code'), c.decline_code, 'unknown') AS code, COUNT(*) AS n "
        "FROM campaigns c LEFT JOIN campaign_events e ON e.campaign_id = c.id AND e.kind = 'opened' "
        "WHERE c.workspace_id = ? AND c.opened_at >= ? GROUP BY code ORDER BY n DESC, code LIMIT 8",
        [workspace_id, since],
    )
    for row in rows:
        row["class_label"] = CLASS_LABELS[rules.classify(row["code"] if row["code"] != "unknown" else None)]
    return rows


def recent_activity(db: Database, workspace_id: int, limit: int = 8) -> list[dict]:
    rows = all_rows(
        db,
        "SELECT e.id, e.at, e.kind, e.detail, c.id AS campaign_id, c.customer_name, c.customer_email, "
        "c.amount_due, c.currency FROM campaign_events e JOIN campaigns c ON c.id = e.campaign_id "
        "WHERE c.workspace_id = ? AND e.kind NOT IN ('retry_scheduled') ORDER BY e.id DESC LIMIT ?",
        [workspace_id, limit],
    )
    return [describe_event(r) for r in rows]
