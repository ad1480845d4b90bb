"""``/api/v1``: the endpoints of the REST API's foundation."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get
from litestar.response import Template

from backstop.reporting.stats import DEFINITIONS, workspace_stats
from backstop.web.api.auth import api_auth_middleware
from backstop.web.deps import DB
from backstop.workspaces.tokens import TokenOwner


def owner_of(request: Request) -> TokenOwner:
    return request.state.api_owner


@get(
    "/stats",
    sync_to_thread=True,
    summary="Aggregate numbers",
    tags=["Stats"],
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
    return Template("public/api_reference.html", context={"schema": schema})


api_router = Router(
    path="/api/v1",
    route_handlers=[stats, reference],
    middleware=[api_auth_middleware],
)
