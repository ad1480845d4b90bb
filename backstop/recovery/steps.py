"""Running what is due: take over collection, retry a charge, send a dunning email, give up.

Each step is a work row claimed with compare-and-set, so it runs once even when enqueued twice.
Charges carry the key ``backstop-<campaign>-attempt-<n>``: if a retry's answer is lost and the
step runs again, Stripe replays the first answer instead of charging twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.connectors.stripe import (
    StripeAuthFailed,
    StripeCardDeclined,
    StripeGateway,
    StripeInvalidRequest,
    StripeUnavailable,
)
from backstop.db import all_rows, one, write_transaction
from backstop.lib import workrows
from backstop.recovery import campaigns, dunning_copy, links, winback
from backstop.recovery import policy as rules
from backstop.recovery.model import Campaign
from backstop.settings import Settings
from backstop.stripe_sync import lookups

log = logging.getLogger("backstop.recovery")

TABLE = "recovery_steps"
LEASE = timedelta(minutes=5)


def due_step_ids(db: Database, limit: int = 200) -> list[int]:
    """Due steps of workspaces that aren't paused, oldest first, plus steps whose worker died."""
    now = clock.iso()
    rows = db.execute(
        "SELECT s.id FROM recovery_steps s LEFT JOIN recovery_settings r ON r.workspace_id = s.workspace_id "
        "WHERE ((s.work_state = 'pending' AND s.due_at <= ?) OR (s.work_state = 'working' AND s.claimed_until < ?)) "
        "AND r.paused_at IS NULL ORDER BY s.due_at, s.id LIMIT ?",
        [now, now, limit],
    ).fetchall()
    return [r[0] for r in rows]


def _finish(db: Database, step_id: int, status: str, outcome: str) -> None:
    db.execute("UPDATE recovery_steps SET status = ?, outcome = ? WHERE id = ?", [status, outcome, step_id])
    workrows.complete(db, TABLE, step_id)


def run_step(
    db: Database, step_id: int, *, settings: Settings, gateway_for: Callable[[int], StripeGateway]
) -> str | None:
    if campaigns_paused(db, step_id):
        return None
    if not workrows.claim(db, TABLE, step_id, lease=LEASE):
        return None
    try:
        return _run_claimed(db, step_id, settings, gateway_for)
    except Exception as exc:  # unplanned: give the step back at once, with why
        workrows.release_failed(db, TABLE, step_id, exc)
        return "retrying"


def _run_claimed(
    db: Database, step_id: int, settings: Settings, gateway_for: Callable[[int], StripeGateway]
) -> str:
    step = one(db, "SELECT * FROM recovery_steps WHERE id = ?", [step_id])
    campaign = campaigns.load(db, step["campaign_id"])
    if not campaign.is_open or step["status"] != "scheduled":
        _finish(
            db, step_id, "canceled" if step["status"] == "scheduled" else step["status"], "campaign closed"
        )
        return "canceled"
    try:
        handler = {"takeover": _takeover, "retry": _retry, "dunning": _dunning, "terminal": _terminal}[
            step["kind"]
        ]
        return handler(db, step, campaign, settings, gateway_for)
    except StripeUnavailable as exc:
        workrows.retry_later(
            db,
            TABLE,
            step_id,
            workrows.backoff(step["attempts"], cap=timedelta(hours=1)),
            f"Stripe is unavailable: {exc.message}",
        )
        return "waiting"
    except StripeAuthFailed as exc:
        from backstop.stripe_sync import connection

        connection.mark_failing(db, campaign.workspace_id, f"Stripe refused Backstop's key: {exc.message}")
        workrows.retry_later(
            db,
            TABLE,
            step_id,
            workrows.backoff(step["attempts"], cap=timedelta(hours=6)),
            f"Stripe refused the key: {exc.message}",
        )
        return "waiting"


def campaigns_paused(db: Database, step_id: int) -> bool:
    row = db.execute(
        "SELECT r.paused_at FROM recovery_steps s JOIN recovery_settings r ON r.workspace_id = s.workspace_id "
        "WHERE s.id = ?",
        [step_id],
    ).fetchone()
    return bool(row and row[0])


def _takeover(db, step, campaign, settings, gateway_for) -> str:
    gateway = gateway_for(campaign.workspace_id)
    try:
        gateway.post(
            f"/v1/invoices/{campaign.invoice_id}",
            {"auto_advance": "false"},
            idempotency_key=f"backstop-{campaign.id}-takeover",
        )
    except StripeInvalidRequest as exc:
        # Already paid, voided or otherwise final: nothing to take over; events will close it.
        with write_transaction(db):
            campaigns.note(db, campaign.id, "takeover_skipped", reason=exc.message)
            _finish(db, step["id"], "skipped", exc.message)
        return "skipped"
    with write_transaction(db):
        db.execute("UPDATE campaigns SET took_over = 1 WHERE id = ?", [campaign.id])
        campaigns.note(db, campaign.id, "took_over")
        _finish(db, step["id"], "done", "auto_advance off")
    return "done"


def _retry(db, step, campaign, settings, gateway_for) -> str:
    policy = campaigns.get_policy(db, campaign.workspace_id)
    state = campaigns.retry_state(db, campaign)
    if not rules.under_cap(policy, state, clock.now()):
        with write_transaction(db):
            campaigns.note(db, campaign.id, "retry_skipped", reason="attempt cap reached")
            _finish(db, step["id"], "skipped", "attempt cap reached")
        return "skipped"
    number = len(state.attempts_in_window) + 1
    key = f"backstop-{campaign.id}-attempt-{number}"
    gateway = gateway_for(campaign.workspace_id)
    paid_count = 0
    try:
        invoice = gateway.post(f"/v1/invoices/{campaign.invoice_id}/pay", {}, idempotency_key=key)
        outcome, decline, message = ("succeeded" if invoice.get("status") == "paid" else "error"), None, None
        paid_count = int(invoice.get("attempt_count") or 0)
    except StripeCardDeclined as exc:
        outcome, decline, message = "declined", exc.decline_code or exc.code, exc.message
    except StripeInvalidRequest as exc:
        if "already paid" in exc.message.lower() or exc.code == "invoice_already_paid":
            outcome, decline, message = "succeeded", None, "already paid"
        else:
            outcome, decline, message = "error", exc.code, exc.message
    stripe_count = _attempt_count_after(gateway, campaign) if outcome == "declined" else None
    if outcome == "succeeded" and message is None:
        stripe_count = paid_count or campaign.stripe_attempts + 1  # the paying attempt counts too
    with write_transaction(db):
        if stripe_count is not None:
            # Count this attempt against the cap now, not when Stripe's event about it arrives:
            # a new card announced first would otherwise earn an attempt over the cap.
            db.execute(
                "UPDATE campaigns SET stripe_attempts = MAX(stripe_attempts, ?) WHERE id = ?",
                [stripe_count, campaign.id],
            )
        db.execute(
            "INSERT OR IGNORE INTO payment_attempts (campaign_id, attempt_number, idempotency_key, trigger, "
            "attempted_at, outcome, decline_code, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [campaign.id, number, key, step["trigger"], clock.iso(), outcome, decline, message],
        )
        db.execute("UPDATE campaigns SET our_attempts = our_attempts + 1 WHERE id = ?", [campaign.id])
        campaigns.note(
            db,
            campaign.id,
            "retry_attempted",
            attempt=number,
            outcome=outcome,
            decline_code=decline,
            trigger=step["trigger"],
        )
        _finish(db, step["id"], "done" if outcome == "succeeded" else "failed", outcome)
        if outcome == "succeeded":
            campaigns.close(db, campaign.id, "recovered", "Paid on a retry by Backstop", attempt=number)
            return "recovered"
        if decline:
            db.execute(
                "UPDATE campaigns SET decline_code = ?, decline_class = ? WHERE id = ?",
                [decline, rules.classify(decline), campaign.id],
            )
        fresh = campaigns.load(db, campaign.id)
        if step["trigger"] == "schedule" or not campaigns.pending_steps_of_kind(db, campaign.id, "retry"):
            campaigns.plan_next_retry(db, fresh, policy)
    return outcome


def _attempt_count_after(gateway: StripeGateway, campaign: Campaign) -> int:
    """The invoice's attempt count (Stripe's and ours) after a declined retry; if Stripe can't be
    read just now, the count before it plus this one."""
    try:
        invoice = gateway.get(f"/v1/invoices/{campaign.invoice_id}")
        return int(invoice.get("attempt_count") or 0)
    except Exception as exc:  # the charge already happened: record it whatever the read says
        log.info("attempt count for campaign %s: %s", campaign.id, exc)
        return campaign.stripe_attempts + 1


def _dunning(db, step, campaign, settings, gateway_for) -> str:
    from backstop.email.messages import queue_email

    if campaign.held_out:
        with write_transaction(db):
            campaigns.note(db, campaign.id, "email_held_out", step=step["seq"])
            _finish(db, step["id"], "skipped", "dunning holdout")
        return "skipped"
    if not campaign.customer_email:
        with write_transaction(db):
            campaigns.note(db, campaign.id, "email_skipped", step=step["seq"], reason="no email address")
            _finish(db, step["id"], "skipped", "no email address")
        return "skipped"
    context = dunning_context(db, campaign, settings, step["seq"])
    with write_transaction(db):
        queued = queue_email(
            db,
            settings,
            workspace_id=campaign.workspace_id,
            kind=f"dunning_{step['seq']}",
            to_email=campaign.customer_email,
            to_name=campaign.customer_name,
            context=context,
            dedupe_key=f"dunning:{campaign.invoice_id}:{step['seq']}",
            customer_id=campaign.customer_id,
        )
        campaigns.note(
            db, campaign.id, "email_queued", step=step["seq"], message_id=queued.id, status=queued.status
        )
        _finish(db, step["id"], "done", f"email {queued.status}")
    return "queued"


def dunning_context(db: Database, campaign: Campaign, settings: Settings, seq: int) -> dict:
    """What a dunning email of step ``seq`` says about this campaign (also used to resend it)."""
    card = campaigns.card_on_file(db, campaign)
    return {
        "amount_due": campaign.amount_due,
        "currency": campaign.currency,
        "plan_name": _plan_name(db, campaign),
        "card_brand": (card or {}).get("card_brand"),
        "card_last4": (card or {}).get("card_last4"),
        "update_card_url": links.update_card_url(
            _public_base(db, settings, campaign.workspace_id),
            settings.secret_key,
            campaign.workspace_id,
            campaign.id,
        ),
        "decline_message": rules.customer_message(campaign.decline_code),
        "step": seq,
        **dunning_copy.context_for(db, campaign.workspace_id, seq),
    }


def _public_base(db: Database, settings: Settings, workspace_id: int) -> str:
    """Links in emails use the workspace's verified portal domain when it has one."""
    from backstop.embed import portal_domains

    return portal_domains.public_base(db, settings, workspace_id)


def _terminal(db, step, campaign, settings, gateway_for) -> str:
    policy = campaigns.get_policy(db, campaign.workspace_id)
    action = policy.terminal_action(campaign.decline_class)
    gateway = gateway_for(campaign.workspace_id)
    try:
        if action == "cancel" and campaign.subscription_id:
            gateway.request(
                "delete",
                f"/v1/subscriptions/{campaign.subscription_id}",
                idempotency_key=f"backstop-{campaign.id}-terminal",
            )
        elif action == "mark_unpaid":
            gateway.post(
                f"/v1/invoices/{campaign.invoice_id}/mark_uncollectible",
                {},
                idempotency_key=f"backstop-{campaign.id}-terminal",
            )
    except StripeInvalidRequest as exc:
        log.info("terminal action for campaign %s: %s", campaign.id, exc.message)
    with write_transaction(db):
        _finish(db, step["id"], "done", action)
        campaigns.close(db, campaign.id, "lost", rules.TERMINAL_ACTIONS[action], action=action)
        winback.schedule_after_loss(db, campaign)  # whatever the action, the subscription isn't paid
    return "lost"


def _plan_name(db: Database, campaign: Campaign) -> str | None:
    return lookups.subscription_plan_name(db, campaign.workspace_id, campaign.subscription_id)


def steps_of(db: Database, campaign_id: int) -> list[dict]:
    return all_rows(
        db, "SELECT * FROM recovery_steps WHERE campaign_id = ? ORDER BY due_at, id", [campaign_id]
    )
