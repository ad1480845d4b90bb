"""``/api/v1``: the endpoints of the REST API's foundation."""

from __future__ import annotations

from typing import Any

from litestar import HttpMethod, Request, Router, get, route
from litestar.datastructures import ResponseHeader
from litestar.params import FromPath
from litestar.response import Template

from backstop.reporting.stats import DEFINITIONS, workspace_stats
from backstop.web import headers
from backstop.web.api import campaigns, customers, webhook_endpoints
from backstop.web.api.auth import api_auth_middleware
from backstop.web.api.errors import ERROR_RESPONSES, ApiError
from backstop.web.deps import DB
from backstop.web.state import app_state
from backstop.workspaces.tokens import TokenOwner


def owner_of(request: Request) -> TokenOwner:
    return request.state.api_owner


@get(
    "/stats",
    sync_to_thread=True,
    summary="Aggregate numbers",
    tags=["Stats"],
    responses=ERROR_RESPONSES,
    description="The same numbers the Overview shows, for the token's workspace. Amounts are "
    "integer minor units keyed by lowercase currency code.",
)
def stats(request: Request, db: DB) -> dict[str, Any]:
    owner = owner_of(request)
    return {
        "object": "stats",
        "workspace": owner.workspace_slug,
        "livemode": owner.livemode,
        **workspace_stats(db, owner.workspace_id),
        "definitions": DEFINITIONS,
    }


@get("/reference", include_in_schema=False)
async def reference(request: Request) -> Template:
    schema = request.app.openapi_schema.to_schema()
    return Template(
        "public/api_reference.html",
        context={"schema": schema},
        headers=headers.document(app_state(request).settings),
    )


@route(
    ["/", "/{path:path}"],
    http_method=[HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE],
    include_in_schema=False,
)
async def unknown_path(path: FromPath[str] = "") -> None:
    """Any other address under /api/v1: answered here, behind the middleware, so it is
    authenticated and rate-limited like every endpoint and its 404 carries the error shape."""
    raise ApiError(404, f"There is no endpoint at /api/v1{path}; see /api/v1/reference.")


# Documentation only: the middleware sets them, on every answer. The value only gives the
# document the headers' type (a string of digits, as HTTP headers are).
RATE_LIMIT_HEADERS = [
    ResponseHeader(name=name, value="0", description=description, documentation_only=True)
    for name, description in (
        ("X-RateLimit-Limit", "Requests allowed per minute for this token"),
        ("X-RateLimit-Remaining", "Requests left in the current minute"),
        ("X-RateLimit-Reset", "Seconds until the current minute's window starts over"),
    )
]

api_router = Router(
    path="/api/v1",
    route_handlers=[
        stats,
        *customers.handlers,
        *campaigns.handlers,
        *webhook_endpoints.handlers,
        reference,
        unknown_path,
    ],
    middleware=[api_auth_middleware],
    security=[{"bearerAuth": []}],
    response_headers=RATE_LIMIT_HEADERS,
)
