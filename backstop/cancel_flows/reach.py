"""Whether cancel sessions have been opened from the founder's own site (the embed, the hosted
redirect or the portal) rather than only simulated: half of checklist step 4's proof."""

from __future__ import annotations

from sqlite_utils import Database

from backstop.db import one

FROM_SITE = ("embed", "redirect", "portal")


def opened_from_site(db: Database, workspace_id: int) -> bool:
    row = one(
        db,
        "SELECT 1 AS x FROM cancel_sessions WHERE workspace_id = ? AND source IN (?, ?, ?) LIMIT 1",
        [workspace_id, *FROM_SITE],
    )
    return row is not None
