"""The API answers every failure in its one error shape, never HTML and never a trace."""

from __future__ import annotations

from typing import Literal

import pytest
from litestar import Router, get
from litestar.params import FromQuery

from backstop.web.api.auth import api_auth_middleware
from backstop.web.api.pagination import paginate, parse_limit
from backstop.web.deps import DB
from tests.builders import assert_error


@get("/widgets", sync_to_thread=True, include_in_schema=False)
def list_widgets(
    db: DB,
    limit: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
    colour: FromQuery[Literal["red", "blue"] | None] = None,
) -> dict:
    where, params = ("1", []) if colour is None else ("colour = ?", [colour])
    return paginate(
        db, "widgets", where, params, limit=parse_limit(limit), cursor=cursor, serialise=lambda r: r
    )


@get("/explode", sync_to_thread=True, include_in_schema=False)
def explode() -> dict:
    raise RuntimeError("disk /srv/backstop/secret.db is on fire")


@pytest.fixture
def widgets_api(client, db):
    """A list endpoint shaped like the real ones, mounted on the real app behind the real
    token middleware, until the first resource lists exist."""
    db["widgets"].insert_all(({"id": i, "colour": "red" if i % 2 else "blue"} for i in range(1, 31)), pk="id")
    client.app.register(
        Router("/api/v1", route_handlers=[list_widgets, explode], middleware=[api_auth_middleware])
    )
    return client


@pytest.mark.parametrize("path", ["/api/v1/customerz", "/api/v1", "/api/v1/", "/api/v1/stats/extra/parts"])
def test_it_answers_an_unknown_api_path_with_not_found(client, acme_auth, path):
    for method in ("GET", "POST", "DELETE"):
        response = client.request(method, path, headers=acme_auth)
        message = assert_error(response, 404, "not_found")
        assert "/api/v1" in message
        assert "X-RateLimit-Remaining" in response.headers


def test_it_asks_for_a_token_before_saying_whether_a_path_exists(client):
    assert_error(client.get("/api/v1/customerz"), 401, "authentication_error")


def test_it_refuses_a_method_an_endpoint_does_not_take(client, acme_auth):
    assert_error(client.post("/api/v1/stats", headers=acme_auth), 405, "invalid_request_error")


@pytest.mark.parametrize(
    "query",
    [
        "limit=abc",
        "limit=0",
        "limit=101",
        "limit=-5",
        "limit=2.5",
        "cursor=garbage!!",
        "cursor=eyJ4IjoxfQ",  # {"x":1}
        "cursor=eyJiZWZvcmUiOjEwMDAwMDAwMDAwMDAwMDAwMDAwMDB9",  # {"before":10**21}
    ],
)
def test_it_rejects_a_bad_list_parameter(widgets_api, acme_auth, query):
    response = widgets_api.get(f"/api/v1/widgets?{query}", headers=acme_auth)
    message = assert_error(response, 400, "invalid_request_error")
    assert query.split("=")[0] in message
    assert "X-RateLimit-Limit" in response.headers


def test_it_rejects_a_query_value_outside_the_allowed_ones(widgets_api, acme_auth):
    response = widgets_api.get("/api/v1/widgets?colour=green", headers=acme_auth)
    message = assert_error(response, 400, "invalid_request_error")
    assert "colour" in message


def test_it_pages_through_a_list_endpoint(widgets_api, acme_auth):
    first = widgets_api.get("/api/v1/widgets?limit=20", headers=acme_auth).json()
    second = widgets_api.get(
        f"/api/v1/widgets?limit=20&cursor={first['next_cursor']}", headers=acme_auth
    ).json()

    assert first["object"] == "list" and first["has_more"] is True
    assert [w["id"] for w in first["data"]] == list(range(30, 10, -1))
    assert [w["id"] for w in second["data"]] == list(range(10, 0, -1))
    assert second["has_more"] is False and second["next_cursor"] is None


def test_it_hides_an_unexpected_failure_behind_api_error(widgets_api, acme_auth):
    response = widgets_api.get("/api/v1/explode", headers=acme_auth)

    assert_error(response, 500, "api_error")
    assert "on fire" not in response.text
    assert "secret.db" not in response.text
    assert "X-RateLimit-Limit" in response.headers


def test_an_id_too_large_for_the_database_is_simply_not_found(client, db, acme):
    from backstop.workspaces.tokens import create_token

    _, raw = create_token(db, acme.id, "huge ids", False)
    response = client.get(
        "/api/v1/campaigns/44855350107822284800", headers={"Authorization": f"Bearer {raw}"}
    )
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
