"""Cursor pagination: ?limit= 1 to 100 (default 25), opaque cursors, has_more and next_cursor."""

from __future__ import annotations

import base64
import json

import pytest
from sqlite_utils import Database

from backstop.web.api.errors import ApiError
from backstop.web.api.pagination import DEFAULT_LIMIT, decode_cursor, encode_cursor, paginate, parse_limit


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, 25), ("", 25), ("1", 1), ("25", 25), ("100", 100), (7, 7)]
)
def test_it_reads_a_limit_from_1_to_100(raw, expected):
    assert parse_limit(raw) == expected
    assert DEFAULT_LIMIT == 25


@pytest.mark.parametrize("raw", ["0", "101", "-1", "abc", "2.5", "1e3", "10 rows", 1000])
def test_it_refuses_a_limit_outside_1_to_100(raw):
    with pytest.raises(ApiError) as caught:
        parse_limit(raw)
    assert caught.value.status == 400
    assert caught.value.type == "invalid_request_error"
    assert "limit" in caught.value.message


def test_a_cursor_round_trips_and_reveals_nothing_readable():
    cursor = encode_cursor(4182)
    assert decode_cursor(cursor) == 4182
    assert "4182" not in cursor
    assert decode_cursor(None) is None
    assert decode_cursor("") is None


def _b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%",
        "AAAA",
        _b64({"after": 10}),
        _b64({"before": "10"}),
        _b64({"before": -3}),
        _b64({"before": 1.5}),
        _b64({"before": True}),
        _b64({"before": 10**30}),
        _b64([10]),
        _b64(None),
        encode_cursor(77)[:-3],
    ],
)
def test_it_refuses_a_garbled_cursor(cursor):
    with pytest.raises(ApiError) as caught:
        decode_cursor(cursor)
    assert caught.value.status == 400
    assert caught.value.type == "invalid_request_error"
    assert "cursor" in caught.value.message


@pytest.fixture
def events(db: Database) -> Database:
    """60 rows for workspace 1 and a few for workspace 2, interleaved."""
    rows = [{"id": i, "workspace_id": 2 if i % 11 == 0 else 1, "name": f"event {i}"} for i in range(1, 67)]
    db["test_events"].insert_all(rows, pk="id")
    assert db.execute("SELECT COUNT(*) FROM test_events WHERE workspace_id = 1").fetchone()[0] == 60
    return db


def _page(db: Database, cursor: str | None, limit: int = 25, workspace_id: int = 1) -> dict:
    return paginate(
        db,
        "test_events",
        "workspace_id = ?",
        [workspace_id],
        limit=limit,
        cursor=cursor,
        serialise=lambda r: {"id": r["id"], "name": r["name"]},
    )


def test_it_walks_a_table_larger_than_a_page_newest_first(events):
    pages = [_page(events, None)]
    while pages[-1]["has_more"]:
        pages.append(_page(events, pages[-1]["next_cursor"]))

    assert [len(p["data"]) for p in pages] == [25, 25, 10]
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert all(p["object"] == "list" for p in pages)
    assert all(isinstance(p["next_cursor"], str) for p in pages[:2])
    assert pages[-1]["next_cursor"] is None
    ids = [row["id"] for p in pages for row in p["data"]]
    expected = [i for i in range(66, 0, -1) if i % 11]
    assert ids == expected


def test_it_keeps_to_the_rows_the_where_clause_allows(events):
    page = _page(events, None, limit=100, workspace_id=2)
    assert [row["id"] for row in page["data"]] == [66, 55, 44, 33, 22, 11]
    assert page["has_more"] is False


def test_a_page_that_ends_exactly_at_the_last_row_says_there_is_no_more(events):
    first = _page(events, None, limit=30)
    second = _page(events, first["next_cursor"], limit=30)
    assert first["has_more"] is True
    assert len(second["data"]) == 30
    assert second["has_more"] is False
    assert second["next_cursor"] is None


def test_an_empty_table_gives_an_empty_list(db):
    db["test_events"].create({"id": int, "workspace_id": int, "name": str}, pk="id")
    assert _page(db, None) == {"object": "list", "data": [], "has_more": False, "next_cursor": None}


def test_rows_added_while_paging_do_not_repeat_or_shift_the_pages(events):
    first = _page(events, None)
    events["test_events"].insert({"id": 100, "workspace_id": 1, "name": "brand new"})
    second = _page(events, first["next_cursor"])
    assert second["data"][0]["id"] < first["data"][-1]["id"]
    assert not {r["id"] for r in first["data"]} & {r["id"] for r in second["data"]}
