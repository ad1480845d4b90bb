"""The embed's part of an export: the origins allowed to frame hosted pages, the Failed Payment
Wall's settings and the portal domain."""

from __future__ import annotations

from sqlite_utils import Database

from backstop.lib.exports import ExportTable, select_table


def export_tables(db: Database, workspace_id: int) -> list[ExportTable]:
    return [
        select_table(
            db,
            "embed_origins",
            "The sites allowed to show Backstop's hosted pages in a frame.",
            [
                ("origin", "The origin, e.g. https://app.example.com."),
                ("created_at", "When it was added (UTC)."),
            ],
            "embed_origins",
            "workspace_id = ?",
            [workspace_id],
            "origin",
        ),
        select_table(
            db,
            "embed_settings",
            "The Failed Payment Wall's settings (one row once saved).",
            [
                ("wall_mode", "dismissible or blocking."),
                ("wall_grace_days", "Days after a failure before the wall shows."),
                ("portal_cancel_enabled", "1 when Stripe's portal lets customers cancel."),
                ("updated_at", "When it was saved (UTC)."),
            ],
            "embed_settings",
            "workspace_id = ?",
            [workspace_id],
            "workspace_id",
        ),
        select_table(
            db,
            "portal_domain",
            "The domain your customer portal is served on, if you added one.",
            [
                ("host", "The host name."),
                ("verified_at", "When its DNS record was verified (UTC)."),
                ("last_checked_at", "When it was last checked (UTC)."),
                ("last_result", "What that check found."),
                ("created_at", "When it was added (UTC)."),
            ],
            "portal_domains",
            "workspace_id = ?",
            [workspace_id],
            "workspace_id",
        ),
    ]
