"""Cursor pagination for API lists: newest first by integer id, opaque cursors.

``{"object": "list", "data": [...], "has_more": bool, "next_cursor": str | null}``
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

from backstop.db import newest_first
from backstop.web.api.errors import ApiError

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_ID = 2**63 - 1  # SQLite's largest integer
CURSOR_DESCRIPTION = (
    "Opaque: the `next_cursor` of the previous page, passed back unchanged, to read the page after "
    "it. Its contents are not part of the API; any value the API did not return is refused with 400."
)


def parse_limit(raw: str | int | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    if not 1 <= value <= MAX_LIMIT:
        raise ApiError(400, f"limit must be from 1 to {MAX_LIMIT}; got {value}.")
    return value


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["before"]
        # bool is an int to Python, and SQLite refuses integers past 64 bits with an error
        # that would surface as a 500: both mean the cursor was not one we made.
        if type(value) is not int or not 0 <= value <= MAX_ID:
            raise ValueError
        return value
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError):
        raise ApiError(400, "cursor is not one this API returned; pass next_cursor from the previous page.")


def encode_key_cursor(key: tuple[int, str]) -> str:
    """A cursor for lists ordered by (an integer, a text id) descending, such as Stripe objects
    newest first by ``created`` then id; ``key`` is the last row's pair."""
    payload = {"after": [key[0], key[1]]}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode_key_cursor(cursor: str | None) -> tuple[int, str] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        number, text = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
        if type(number) is not int or not 0 <= number <= MAX_ID or type(text) is not str or len(text) > 255:
            raise ValueError
        return number, text
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError):
        raise ApiError(400, "cursor is not one this API returned; pass next_cursor from the previous page.")


def paginate(
    db: Database,
    table: str,
    where: str,
    params: list[Any],
    *,
    limit: int,
    cursor: str | None,
    serialise: Callable[[dict], dict],
    columns: str = "*",
) -> dict:
    """One page of ``table`` rows matching ``where`` (which must include the workspace), newest
    first. ``table``/``where``/``columns`` are code constants, never user input."""
    before = decode_cursor(cursor)
    rows = newest_first(db, table, where, params, before_id=before, limit=limit + 1, columns=columns)
    has_more = len(rows) > limit
    rows = rows[:limit]
    return {
        "object": "list",
        "data": [serialise(r) for r in rows],
        "has_more": has_more,
        "next_cursor": encode_cursor(rows[-1]["id"]) if has_more else None,
    }
