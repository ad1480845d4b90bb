"""Reporting's part of an export: the notification settings and the weekly summaries sent."""

from __future__ import annotations

from sqlite_utils import Database

from backstop.lib.exports import ExportTable, select_table


def export_tables(db: Database, workspace_id: int) -> list[ExportTable]:
    return [
        select_table(
            db,
            "notification_settings",
            "What Backstop emails you about (one row once saved).",
            [
                ("weekly_summary", "1 when the owners get the weekly summary email."),
                ("updated_at", "When it was last turned on or off (UTC)."),
            ],
            "notification_settings",
            "workspace_id = ?",
            [workspace_id],
            "workspace_id",
        ),
        select_table(
            db,
            "weekly_summaries",
            "Each weekly summary: the week it covers and whether it went out.",
            [
                ("week", "The Monday the week starts (UTC)."),
                ("status", "scheduled, sent or skipped (turned off before it went out)."),
                ("recipients", "How many owners it was sent to."),
                ("sent_at", "When it was queued to them (UTC)."),
            ],
            "weekly_summaries",
            "workspace_id = ?",
            [workspace_id],
            "week",
        ),
    ]
