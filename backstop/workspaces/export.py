"""The workspace's own tables in an export: the workspace, its members and its API tokens (names
and prefixes only: token hashes and the embed secret never leave the database)."""

from __future__ import annotations

from sqlite_utils import Database

from backstop.lib.exports import ExportTable, select_table


def export_tables(db: Database, workspace_id: int) -> list[ExportTable]:
    return [
        select_table(
            db,
            "workspace",
            "The workspace itself (one row).",
            [
                ("slug", "The URL-safe id in admin URLs and the embed snippet."),
                ("name", "The display name."),
                ("created_at", "When the workspace was created (UTC)."),
            ],
            "workspaces",
            "id = ?",
            [workspace_id],
            "id",
        ),
        select_table(
            db,
            "members",
            "The admins who can sign in to this workspace.",
            [
                ("email", "The admin's email address.", "a.email"),
                ("role", "owner or member.", "m.role"),
                ("created_at", "When they were added (UTC).", "m.created_at"),
            ],
            "workspace_members m JOIN admins a ON a.id = m.admin_id",
            "m.workspace_id = ?",
            [workspace_id],
            "m.created_at, a.email",
        ),
        select_table(
            db,
            "api_tokens",
            "API tokens minted under Settings → API tokens (the tokens themselves are never stored).",
            [
                ("name", "What the token is for."),
                ("prefix", "The token's first characters, as shown in the admin."),
                ("created_at", "When it was minted (UTC)."),
                ("last_used_at", "When it last authenticated a request (UTC), empty if never."),
                ("revoked_at", "When it was revoked (UTC), empty if it still works."),
            ],
            "api_tokens",
            "workspace_id = ?",
            [workspace_id],
            "id",
        ),
    ]
