"""What an admin can do to one campaign by hand: retry now, resend the latest email, close it.

Each function checks the campaign belongs to the workspace and is still in flight, and records
who asked on the campaign's timeline.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database

from backstop import clock
from backstop.connectors.stripe import StripeFailure, StripeGateway, StripeInvalidRequest
from backstop.db import write_transaction
from backstop.recovery import campaigns, queries, steps
from backstop.recovery.model import Campaign, CampaignStatus
from backstop.settings import Settings
from backstop.workspaces.errors import NotFound, ValidationError


def _in_flight(db: Database, workspace_id: int, campaign_id: int) -> Campaign:
    campaign = campaigns.find(db, workspace_id, campaign_id)
    if campaign is None:
        raise NotFound()
    if not campaign.is_open:
        raise ValidationError("This campaign is closed: there is nothing left to do.")
    return campaign


def retry_now(db: Database, workspace_id: int, campaign_id: int, by: str) -> bool:
    """Plan a retry due now; False when one asked for by an admin is already waiting."""
    with write_transaction(db):
        campaign = _in_flight(db, workspace_id, campaign_id)
        waiting = [
            s for s in campaigns.pending_steps_of_kind(db, campaign_id, "retry") if s["trigger"] == "admin"
        ]
        if waiting:
            return False
        seq = campaigns.next_retry_seq(db, campaign_id)
        campaigns.schedule_step(db, campaign, "retry", seq, clock.now(), trigger="admin")
        campaigns.note(db, campaign_id, "retry_requested", by=by)
    return True


def resend_email(db: Database, settings: Settings, workspace_id: int, campaign_id: int, by: str) -> int:
    """Queue the latest dunning email again, under a new dedupe key; returns the message id."""
    from backstop.email.messages import queue_email

    with write_transaction(db):
        campaign = _in_flight(db, workspace_id, campaign_id)
        if campaign.held_out:
            raise ValidationError(
                "This campaign is in the dunning holdout: it gets retries but no dunning emails, "
                "so its result stays a fair comparison."
            )
        seq = queries.latest_dunning_seq(db, campaign)
        if seq is None:
            raise ValidationError("No dunning email has gone out yet, so there is nothing to resend.")
        if not campaign.customer_email:
            raise ValidationError("This customer has no email address in Stripe.")
        earlier = db.execute(
            "SELECT COUNT(*) FROM email_messages WHERE workspace_id = ? AND dedupe_key LIKE ?",
            [workspace_id, f"dunning:{campaign.invoice_id}:{seq}:resend:%"],
        ).fetchone()[0]
        queued = queue_email(
            db,
            settings,
            workspace_id=workspace_id,
            kind=f"dunning_{seq}",
            to_email=campaign.customer_email,
            to_name=campaign.customer_name,
            context=steps.dunning_context(db, campaign, settings, seq),
            dedupe_key=f"dunning:{campaign.invoice_id}:{seq}:resend:{earlier + 1}",
            customer_id=campaign.customer_id,
        )
        campaigns.note(
            db, campaign_id, "email_queued", step=seq, message_id=queued.id, status=queued.status, by=by
        )
    return queued.id


def close_as_abandoned(
    db: Database,
    workspace_id: int,
    campaign_id: int,
    by: str,
    gateway_for: Callable[[int], StripeGateway] | None = None,
) -> bool:
    """Stop Backstop's work on the invoice. If Backstop had taken collection over (auto_advance
    off), hand it back to Stripe first, so the invoice isn't left with nobody collecting.
    Returns True when collection was handed back to Stripe."""
    campaign = _in_flight(db, workspace_id, campaign_id)
    handed_back = False
    if campaign.took_over:
        if gateway_for is None:
            raise ValidationError("Stripe isn't reachable from here; close this campaign from its page.")
        try:
            gateway_for(workspace_id).post(
                f"/v1/invoices/{campaign.invoice_id}",
                {"auto_advance": "true"},
                idempotency_key=f"backstop-{campaign_id}-handback",
            )
            handed_back = True
        except StripeInvalidRequest:
            pass  # paid, voided or final in Stripe already: there is nothing left to collect
        except StripeFailure as exc:
            raise ValidationError(
                f"Stripe couldn't be reached to hand collection back ({exc.message}). Nothing was "
                "changed; try again in a minute."
            ) from None
    with write_transaction(db):
        _in_flight(db, workspace_id, campaign_id)
        if handed_back:
            db.execute("UPDATE campaigns SET took_over = 0 WHERE id = ?", [campaign_id])
            campaigns.note(db, campaign_id, "handed_back", by=by)
        campaigns.close(db, campaign_id, CampaignStatus.ABANDONED, f"Closed by {by}")
    return handed_back
