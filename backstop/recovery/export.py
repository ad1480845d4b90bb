"""Recovery's part of an export: the retry policy, every campaign with its events, payment
attempts and scheduled steps, win-backs and the dunning copy."""

from __future__ import annotations

from sqlite_utils import Database

from backstop.lib.exports import ExportTable, select_table

_CAMPAIGN = ("campaign_id", "The campaign (campaigns.csv id).")


def export_tables(db: Database, workspace_id: int) -> list[ExportTable]:
    in_ws = "campaign_id IN (SELECT id FROM campaigns WHERE workspace_id = ?)"
    return [
        select_table(
            db,
            "recovery_settings",
            "The retry policy and win-back settings (one row once saved).",
            [
                (
                    "policy",
                    "The retry policy as JSON: retries, gaps in days and the end action per decline class.",
                ),
                ("paused_at", "When recovery was paused (UTC), empty when running."),
                ("paused_by", "Who paused it."),
                ("winback_days", "Days after a cancellation before the win-back email."),
                ("winback_coupon", "The Stripe coupon a win-back offers, if any."),
                (
                    "holdout_percent",
                    "The share of new campaigns held out of the dunning emails (1 to 50), empty while the holdout is off.",
                ),
                ("updated_at", "When the settings were last saved (UTC)."),
            ],
            "recovery_settings",
            "workspace_id = ?",
            [workspace_id],
            "workspace_id",
        ),
        select_table(
            db,
            "campaigns",
            "One recovery campaign per failed invoice.",
            [
                ("id", "The campaign's id (other files refer to it as campaign_id)."),
                ("invoice_id", "The failed Stripe invoice, in_…."),
                ("customer_id", "The customer, cus_…."),
                ("subscription_id", "The subscription, sub_…."),
                ("customer_email", "The customer's email when the campaign opened."),
                ("customer_name", "The customer's name when the campaign opened."),
                ("amount_due", "The amount at stake in minor units (cents)."),
                ("currency", "The invoice's currency."),
                ("decline_code", "The card issuer's decline code of the first failure."),
                ("advice_code", "The issuer's advice code, if any."),
                ("decline_class", "soft, hard or never: which retry rules apply."),
                ("stripe_attempts", "Payment attempts Stripe made."),
                ("our_attempts", "Payment attempts Backstop made."),
                ("status", "in_flight, recovered, lost or abandoned."),
                ("close_reason", "Why it closed."),
                ("first_failed_at", "When the invoice first failed (UTC)."),
                ("opened_at", "When the campaign opened (UTC)."),
                ("closed_at", "When it closed (UTC), empty while in flight."),
                (
                    "dunning_holdout",
                    "1 if held out of the dunning emails, 0 if it got them, empty if it opened while the holdout was off.",
                ),
            ],
            "campaigns",
            "workspace_id = ?",
            [workspace_id],
            "id",
        ),
        select_table(
            db,
            "campaign_events",
            "The timeline of each campaign, as shown on its page.",
            [
                _CAMPAIGN,
                ("at", "When it happened (UTC)."),
                ("kind", "What happened, as named on the campaign's timeline."),
                ("detail", "Details as JSON, if any."),
            ],
            "campaign_events",
            in_ws,
            [workspace_id],
            "id",
        ),
        select_table(
            db,
            "payment_attempts",
            "Every charge attempt Backstop made.",
            [
                _CAMPAIGN,
                ("attempt_number", "1 for the first attempt of the campaign, and so on."),
                ("trigger", "What started it: the schedule, a card update, a manual retry."),
                ("attempted_at", "When (UTC)."),
                ("outcome", "succeeded, declined or error."),
                ("decline_code", "The decline code when declined."),
                ("message", "The issuer's or Stripe's message."),
            ],
            "payment_attempts",
            in_ws,
            [workspace_id],
            "id",
        ),
        select_table(
            db,
            "recovery_steps",
            "The scheduled steps of each campaign: retries, dunning emails, the end action.",
            [
                _CAMPAIGN,
                ("kind", "takeover, retry, dunning or terminal."),
                ("seq", "The step's number within its kind."),
                ("status", "scheduled, done, skipped, canceled or failed."),
                ("outcome", "What the step did."),
                ("due_at", "When it is or was due (UTC)."),
            ],
            "recovery_steps",
            "workspace_id = ?",
            [workspace_id],
            "id",
        ),
        select_table(
            db,
            "winbacks",
            "Win-back emails after a subscription ended.",
            [
                ("subscription_id", "The ended subscription, sub_…."),
                ("customer_id", "The customer, cus_…."),
                ("customer_email", "The customer's email."),
                ("plan_name", "The plan they were on."),
                ("amount", "The plan's price in minor units (cents)."),
                ("currency", "The plan's currency."),
                ("ended_at", "When the subscription ended (UTC)."),
                ("reason", "Why it ended."),
                ("status", "scheduled, sent, skipped or restarted."),
                ("outcome", "What came of it."),
                ("new_subscription_id", "The subscription a restart created, sub_…."),
                ("restarted_at", "When the customer restarted (UTC)."),
                ("created_at", "When the win-back was scheduled (UTC)."),
            ],
            "winbacks",
            "workspace_id = ?",
            [workspace_id],
            "id",
        ),
        select_table(
            db,
            "dunning_copy",
            "Your own subject lines and opening paragraphs for the four dunning emails.",
            [
                ("step", "The dunning email, 1 to 4."),
                ("subject", "Your subject line (empty: the default)."),
                ("intro", "Your opening paragraph (empty: the default)."),
                ("updated_at", "When it was saved (UTC)."),
            ],
            "dunning_copy",
            "workspace_id = ?",
            [workspace_id],
            "step",
        ),
    ]
