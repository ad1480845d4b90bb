"""Campaigns: opening one per failed invoice, planning its steps, closing it, its timeline."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from backstop import clock
from backstop.db import all_rows, one
from backstop.lib.forms import FieldErrors
from backstop.recovery import holdout
from backstop.recovery import policy as rules
from backstop.recovery.model import STATUSES, Campaign, CampaignStatus, check_transition  # noqa: F401 - STATUSES re-exported
from backstop.recovery.policy import RetryPolicy, RetryState
from backstop.stripe_sync import lookups

# -- settings -----------------------------------------------------------------------------------


def get_policy(db: Database, workspace_id: int) -> RetryPolicy:
    row = one(db, "SELECT policy FROM recovery_settings WHERE workspace_id = ?", [workspace_id])
    return RetryPolicy.from_json(row["policy"] if row else None)


def save_policy(db: Database, workspace_id: int, policy: RetryPolicy) -> None:
    db.execute(
        "INSERT INTO recovery_settings (workspace_id, policy, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (workspace_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at",
        [workspace_id, policy.to_json(), clock.iso()],
    )


def paused_at(db: Database, workspace_id: int) -> str | None:
    row = one(db, "SELECT paused_at FROM recovery_settings WHERE workspace_id = ?", [workspace_id])
    return row["paused_at"] if row else None


def set_paused(db: Database, workspace_id: int, paused: bool, by: str | None = None) -> None:
    db.execute(
        "INSERT INTO recovery_settings (workspace_id, policy, paused_at, paused_by, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (workspace_id) DO UPDATE SET paused_at = excluded.paused_at, "
        "paused_by = excluded.paused_by, updated_at = excluded.updated_at",
        [
            workspace_id,
            RetryPolicy().to_json(),
            clock.iso() if paused else None,
            by if paused else None,
            clock.iso(),
        ],
    )


# -- timeline -----------------------------------------------------------------------------------


def note(db: Database, campaign_id: int, kind: str, **detail) -> None:
    db.execute(
        "INSERT INTO campaign_events (campaign_id, at, kind, detail) VALUES (?, ?, ?, ?)",
        [campaign_id, clock.iso(), kind, json.dumps(detail, sort_keys=True) if detail else None],
    )


def timeline(db: Database, campaign_id: int) -> list[dict]:
    rows = all_rows(
        db, "SELECT at, kind, detail FROM campaign_events WHERE campaign_id = ? ORDER BY id", [campaign_id]
    )
    for row in rows:
        row["detail"] = json.loads(row["detail"]) if row["detail"] else {}
    return rows


# -- steps --------------------------------------------------------------------------------------


def schedule_step(
    db: Database, campaign: Campaign, kind: str, seq: int, due: datetime, trigger: str = "schedule"
) -> bool:
    """Add a step unless that (kind, seq) is already planned; True when added."""
    cur = db.execute(
        "INSERT OR IGNORE INTO recovery_steps (campaign_id, workspace_id, kind, seq, trigger, due_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [campaign.id, campaign.workspace_id, kind, seq, trigger, clock.iso(due)],
    )
    return cur.rowcount == 1


def next_retry_seq(db: Database, campaign_id: int) -> int:
    row = db.execute(
        "SELECT COALESCE(MAX(seq), 0) FROM recovery_steps WHERE campaign_id = ? AND kind = 'retry'",
        [campaign_id],
    ).fetchone()
    return row[0] + 1


def pending_steps(db: Database, campaign_id: int) -> list[dict]:
    return all_rows(
        db,
        "SELECT id, kind, seq, trigger, due_at FROM recovery_steps WHERE campaign_id = ? AND status = 'scheduled' "
        "ORDER BY due_at, id",
        [campaign_id],
    )


def retry_state(db: Database, campaign: Campaign) -> RetryState:
    attempts = [
        clock.parse(r["attempted_at"])
        for r in all_rows(
            db,
            "SELECT attempted_at FROM payment_attempts WHERE campaign_id = ? ORDER BY id",
            [campaign.id],
        )
    ]
    first = clock.parse(campaign.first_failed_at)
    return RetryState(
        decline_class=campaign.decline_class,
        our_attempts=db.execute(
            "SELECT COUNT(*) FROM recovery_steps WHERE campaign_id = ? AND kind = 'retry' AND trigger = 'schedule' "
            "AND status IN ('done', 'failed')",
            [campaign.id],
        ).fetchone()[0],
        total_attempts=max(campaign.stripe_attempts, len(attempts)),
        first_failed_at=first,
        last_attempt_at=attempts[-1] if attempts else first,
        attempts_in_window=attempts,
    )


def plan_next_retry(db: Database, campaign: Campaign, policy: RetryPolicy) -> datetime | None:
    """Schedule the next retry the policy allows; return when, or None."""
    due = rules.next_retry_at(policy, retry_state(db, campaign))
    if due is not None:
        schedule_step(db, campaign, "retry", next_retry_seq(db, campaign.id), due)
        note(db, campaign.id, "retry_scheduled", due_at=clock.iso(due))
        # The campaign is lost only once the schedule is done: a retry planned past the last
        # email pushes the end back, keeping the grace period after it.
        ends = rules.terminal_at(policy, clock.parse(campaign.first_failed_at), due)
        db.execute(
            "UPDATE recovery_steps SET due_at = ? WHERE campaign_id = ? AND kind = 'terminal' "
            "AND status = 'scheduled' AND work_state = 'pending' AND due_at < ?",
            [clock.iso(ends), campaign.id, clock.iso(ends)],
        )
    return due


# -- opening and closing -------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedInvoice:
    invoice_id: str
    customer_id: str | None
    subscription_id: str | None
    amount_due: int
    currency: str
    attempt_count: int
    decline_code: str | None
    advice_code: str | None
    customer_email: str | None
    customer_name: str | None


def load(db: Database, campaign_id: int) -> Campaign | None:
    """The campaign as a typed object (``model.Campaign``)."""
    row = one(db, "SELECT * FROM campaigns WHERE id = ?", [campaign_id])
    return Campaign.from_row(row) if row else None


def get(db: Database, workspace_id: int, campaign_id: int) -> dict | None:
    return one(db, "SELECT * FROM campaigns WHERE id = ? AND workspace_id = ?", [campaign_id, workspace_id])


def by_invoice(db: Database, workspace_id: int, invoice_id: str) -> dict | None:
    return one(
        db, "SELECT * FROM campaigns WHERE workspace_id = ? AND invoice_id = ?", [workspace_id, invoice_id]
    )


def find(db: Database, workspace_id: int, campaign_id: int) -> Campaign | None:
    """The workspace's campaign as a typed object; None for another workspace's."""
    row = get(db, workspace_id, campaign_id)
    return Campaign.from_row(row) if row else None


def find_by_invoice(db: Database, workspace_id: int, invoice_id: str) -> Campaign | None:
    """The invoice's campaign in the workspace as a typed object, or None."""
    row = by_invoice(db, workspace_id, invoice_id)
    return Campaign.from_row(row) if row else None


def open_campaign(db: Database, workspace_id: int, failed: FailedInvoice) -> tuple[dict, bool]:
    """Open the invoice's campaign (once) and plan its steps. Returns (campaign, newly opened)."""
    existing = by_invoice(db, workspace_id, failed.invoice_id)
    if existing is not None:
        return existing, False
    policy = get_policy(db, workspace_id)
    now = clock.now()
    decline_class = rules.classify(failed.decline_code, failed.advice_code)
    held_out = holdout.assignment(db, workspace_id, failed.invoice_id)
    cur = db.execute(
        "INSERT INTO campaigns (workspace_id, invoice_id, customer_id, subscription_id, customer_email, "
        "customer_name, amount_due, currency, decline_code, advice_code, decline_class, stripe_attempts, "
        "first_failed_at, opened_at, dunning_holdout) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            workspace_id,
            failed.invoice_id,
            failed.customer_id,
            failed.subscription_id,
            failed.customer_email,
            failed.customer_name,
            failed.amount_due,
            failed.currency,
            failed.decline_code,
            failed.advice_code,
            decline_class,
            failed.attempt_count,
            clock.iso(now),
            clock.iso(now),
            held_out,
        ],
    )
    row = one(db, "SELECT * FROM campaigns WHERE id = ?", [cur.lastrowid])
    campaign = Campaign.from_row(row)
    note(
        db,
        campaign.id,
        "opened",
        amount_due=failed.amount_due,
        currency=failed.currency,
        decline_code=failed.decline_code,
        decline_class=decline_class,
    )
    if held_out:
        note(db, campaign.id, "held_out")
    if not policy.let_stripe_retry:
        schedule_step(db, campaign, "takeover", 1, now)
    for step, due in enumerate(rules.dunning_times(policy, now), start=1):
        schedule_step(db, campaign, "dunning", step, due)
    retry_due = plan_next_retry(db, campaign, policy)
    schedule_step(db, campaign, "terminal", 1, rules.terminal_at(policy, now, retry_due))
    _record_webhook_event(db, campaign.id, "recovery.opened")
    return row, True


def close(db: Database, campaign_id: int, status: CampaignStatus | str, reason: str, **detail) -> bool:
    """Close an in-flight campaign; remaining steps are canceled. False if it was already closed.

    The one place a campaign's status changes after it opened: ``model.TRANSITIONS`` decides."""
    row = db.execute("SELECT status FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
    if row is None or not CampaignStatus(row[0]).is_open:
        return False
    new = check_transition(row[0], status)
    cur = db.execute(
        "UPDATE campaigns SET status = ?, close_reason = ?, closed_at = ? WHERE id = ? AND status = ?",
        [new.value, reason, clock.iso(), campaign_id, row[0]],
    )
    if cur.rowcount != 1:
        return False
    db.execute(
        "UPDATE recovery_steps SET status = 'canceled', work_state = 'done', claimed_until = NULL "
        "WHERE campaign_id = ? AND status = 'scheduled'",
        [campaign_id],
    )
    note(db, campaign_id, new.value, reason=reason, **detail)
    if new in (CampaignStatus.RECOVERED, CampaignStatus.LOST):
        _record_webhook_event(db, campaign_id, f"recovery.{new.value}")
    return True


def _record_webhook_event(db: Database, campaign_id: int, event_type: str) -> None:
    """The outbound webhook event of an opened or closed campaign, in the same transaction."""
    from backstop.webhooks_out.events import campaign_data, record_event

    campaign = one(db, "SELECT * FROM campaigns WHERE id = ?", [campaign_id])
    record_event(db, campaign["workspace_id"], event_type, campaign_data(campaign))


def in_flight_for(
    db: Database, workspace_id: int, *, customer_id: str | None = None, subscription_id: str | None = None
) -> list[Campaign]:
    column, value = ("customer_id", customer_id) if customer_id else ("subscription_id", subscription_id)
    rows = all_rows(
        db,
        f"SELECT * FROM campaigns WHERE workspace_id = ? AND {column} = ? AND status = ?",  # noqa: S608
        [workspace_id, value, CampaignStatus.IN_FLIGHT.value],
    )
    return [Campaign.from_row(row) for row in rows]


def card_on_file(db: Database, campaign: Campaign) -> dict | None:
    """The card the invoice will be charged to (``lookups.paying_card``)."""
    return lookups.paying_card(db, campaign.workspace_id, campaign.customer_id, campaign.subscription_id)


def plan_for_price(db: Database, workspace_id: int, price_id: str | None) -> dict:
    """A price's amount, currency and plan name (``lookups.price_summary``)."""
    return lookups.price_summary(db, workspace_id, price_id)


def _default_cards(db: Database, campaign: Campaign) -> set[str]:
    """The cards Stripe would charge for this invoice: the subscription's and the customer's default."""
    return lookups.default_card_ids(db, campaign.workspace_id, campaign.customer_id, campaign.subscription_id)


def _tried_cards(db: Database, campaign_id: int) -> set[str]:
    rows = db.execute(
        "SELECT detail FROM campaign_events WHERE campaign_id = ? AND kind = 'card_retry'", [campaign_id]
    ).fetchall()
    return {json.loads(r[0]).get("payment_method") for r in rows if r[0]}


def card_changed(
    db: Database,
    workspace_id: int,
    customer_id: str,
    source: str,
    payment_method: str | None = None,
    *,
    made_default: bool = False,
) -> list[int]:
    """A new default card: retry each in-flight campaign of the customer now, if the policy allows.

    Each card earns one immediate retry per campaign, however many events announce it (the
    setup intent, the attachment and the customer update all arrive for one card). A card that
    was attached but isn't the default is not retried: Stripe would charge the old card."""
    policy = get_policy(db, workspace_id)
    retried = []
    for campaign in in_flight_for(db, workspace_id, customer_id=customer_id):
        defaults = _default_cards(db, campaign)
        card = payment_method or next(iter(sorted(defaults)), None)
        note(db, campaign.id, "card_updated", source=source, payment_method=card)
        # made_default: the caller just set it as default in Stripe, ahead of the mirror.
        if card is None or (
            payment_method and not made_default and defaults and payment_method not in defaults
        ):
            continue
        if card in _tried_cards(db, campaign.id):
            continue
        already = one(
            db,
            "SELECT id FROM recovery_steps WHERE campaign_id = ? AND kind = 'retry' "
            "AND trigger = 'card_update' AND status = 'scheduled'",
            [campaign.id],
        )
        if already or not rules.retry_on_new_card(policy, retry_state(db, campaign), clock.now()):
            continue
        db.execute("UPDATE campaigns SET decline_class = 'soft' WHERE id = ?", [campaign.id])
        schedule_step(
            db, campaign, "retry", next_retry_seq(db, campaign.id), clock.now(), trigger="card_update"
        )
        note(db, campaign.id, "card_retry", payment_method=card)
        retried.append(campaign.id)
    return retried


def pending_steps_of_kind(db: Database, campaign_id: int, kind: str) -> list[dict]:
    return [s for s in pending_steps(db, campaign_id) if s["kind"] == kind]


WINBACK_DAYS_RANGE = (1, 90)


def parse_winback_settings(form: dict) -> tuple[int, str | None]:
    """(days, coupon) from the win-back form (``winback_days``, ``winback_coupon``); raises
    ``FieldErrors``."""
    days_raw, coupon_raw = form.get("winback_days", ""), form.get("winback_coupon", "")
    errors = FieldErrors()
    low, high = WINBACK_DAYS_RANGE
    try:
        days = int((days_raw or "").strip())
        if not low <= days <= high:
            raise ValueError
    except ValueError:
        errors.add("winback_days", f"Send the win-back email {low} to {high} days after a subscription ends.")
        days = 14
    coupon = (coupon_raw or "").strip() or None
    if coupon and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", coupon):
        errors.add(
            "winback_coupon",
            "Paste the coupon's ID from Stripe (letters, digits, - and _), or leave it empty.",
        )
    errors.raise_if_any()
    return days, coupon


def save_winback_settings(db: Database, workspace_id: int, days: int, coupon: str | None) -> None:
    db.execute(
        "INSERT INTO recovery_settings (workspace_id, policy, winback_days, winback_coupon, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (workspace_id) DO UPDATE SET winback_days = excluded.winback_days, "
        "winback_coupon = excluded.winback_coupon, updated_at = excluded.updated_at",
        [workspace_id, RetryPolicy().to_json(), days, coupon, clock.iso()],
    )


def pause_state(db: Database, workspace_id: int) -> dict | None:
    """Who paused recovery and when (``{"at", "by"}``), or None while it runs."""
    row = db.execute(
        "SELECT paused_at, paused_by FROM recovery_settings WHERE workspace_id = ? AND paused_at IS NOT NULL",
        [workspace_id],
    ).fetchone()
    return {"at": row[0], "by": row[1]} if row else None


def due_step_count(db: Database, workspace_id: int) -> int:
    """Steps that are due now (and wait while recovery is paused)."""
    return db.execute(
        "SELECT COUNT(*) FROM recovery_steps WHERE workspace_id = ? AND status = 'scheduled' AND due_at <= ?",
        [workspace_id, clock.iso()],
    ).fetchone()[0]


def next_step(db: Database, campaign_id: int) -> dict | None:
    """The campaign's next scheduled step: ``kind``, ``seq``, ``due_at``."""
    return one(
        db,
        "SELECT kind, seq, due_at FROM recovery_steps WHERE campaign_id = ? AND status = 'scheduled' "
        "ORDER BY due_at, id LIMIT 1",
        [campaign_id],
    )


def payment_attempt_count(db: Database, campaign_id: int) -> int:
    """Charges Backstop made for the campaign (scheduled, on a new card, or asked by an admin)."""
    return db.execute(
        "SELECT COUNT(*) FROM payment_attempts WHERE campaign_id = ?", [campaign_id]
    ).fetchone()[0]
