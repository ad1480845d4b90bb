"""Email's part of an export: every message sent or queued, the suppression list, branding (not
the logo's bytes) and the send domain."""

from __future__ import annotations

from sqlite_utils import Database

from backstop.lib.exports import ExportTable, select_table


def export_tables(db: Database, workspace_id: int) -> list[ExportTable]:
    return [
        select_table(
            db,
            "emails",
            "Every email Backstop queued for your customers (and for you), with its plain-text body.",
            [
                ("id", "The message's id, as in the admin's Emails log."),
                ("kind", "Which email: dunning_1, card_expiry, winback, …."),
                ("category", "transactional or marketing."),
                ("customer_id", "The customer, cus_…, if it was for one."),
                ("to_email", "The recipient's address."),
                ("to_name", "The recipient's name."),
                ("subject", "The subject line."),
                ("text", "The plain-text body."),
                ("status", "queued, sent, blocked, failed, suppressed, bounced or complained."),
                ("status_reason", "Why it has that status."),
                ("transport", "How it left: ses, smtp or outbox."),
                ("provider_message_id", "The transport's id for the message."),
                ("sent_at", "When the transport accepted it (UTC)."),
                ("created_at", "When it was queued (UTC)."),
            ],
            "email_messages",
            "workspace_id = ?",
            [workspace_id],
            "id",
        ),
        select_table(
            db,
            "email_suppressions",
            "Addresses that unsubscribed, bounced or complained.",
            [
                ("email", "The address."),
                ("unsubscribed_at", "When it unsubscribed (UTC)."),
                ("bounced_at", "When it hard-bounced (UTC)."),
                ("bounce_detail", "The bounce's reason."),
                ("complained_at", "When it marked an email as spam (UTC)."),
            ],
            "email_suppressions",
            "workspace_id = ?",
            [workspace_id],
            "email",
        ),
        select_table(
            db,
            "email_branding",
            "The look of your emails (the logo image itself is not exported).",
            [
                ("from_name", "The sender name."),
                ("reply_to", "The Reply-To address."),
                ("brand_color", "The accent colour."),
                ("footer", "Your footer text."),
                ("theme", "light, dark or auto."),
                ("logo_type", "The logo's image type, empty without a logo."),
                ("updated_at", "When it was saved (UTC)."),
            ],
            "email_branding",
            "workspace_id = ?",
            [workspace_id],
            "workspace_id",
        ),
        select_table(
            db,
            "send_domain",
            "The domain your emails are sent from, if you added one.",
            [
                ("domain", "The domain."),
                ("from_local", "The part before the @ in the From address."),
                ("status", "pending, verified or failed."),
                ("verified_at", "When its DNS records were verified (UTC)."),
                ("created_at", "When it was added (UTC)."),
            ],
            "send_domains",
            "workspace_id = ?",
            [workspace_id],
            "id",
        ),
    ]
