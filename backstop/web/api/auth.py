"""Bearer-token authentication and the per-token rate limit for ``/api/v1``.

Every answer carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``
(seconds until the window resets). Requests without a valid token are limited per client address,
so guessing tokens is slow too. If the limiter itself fails, the request is refused.
"""

from __future__ import annotations

import logging

import anyio.to_thread
from litestar import Request, Response
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backstop.db import connect
from backstop.lib.ratelimit import Verdict
from backstop.web.api.errors import error_response
from backstop.web.state import app_state, client_ip
from backstop.workspaces.tokens import authenticate_token

log = logging.getLogger("backstop.api")

PUBLIC_PATHS = {"/api/v1/openapi.json", "/api/v1/reference"}
# Endpoints whose credential is in the body (a signed embed token), not a bearer token: open to
# any caller, limited per client address like every request without a valid token.
TOKEN_FREE_PATHS = {"/api/v1/embed/check", "/api/v1/embed/sessions"}


def rate_headers(verdict: Verdict) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(verdict.limit),
        "X-RateLimit-Remaining": str(verdict.remaining),
        "X-RateLimit-Reset": str(verdict.reset_after),
    }


def _limited(verdict: Verdict) -> Response:
    return error_response(
        429,
        f"Too many requests: the limit is {verdict.limit} per minute. "
        f"Try again in {verdict.reset_after} seconds.",
        headers={**rate_headers(verdict), "Retry-After": str(verdict.reset_after)},
    )


def _check(request: Request) -> tuple[Response | None, Verdict | None]:
    """Decide on one request: (refusal, None), or (None, verdict) with the owner on the state."""
    state = app_state(request)
    header = request.headers.get("authorization", "")
    scheme, _, raw = header.partition(" ")
    raw = raw.strip()
    try:
        if request.scope["path"] in TOKEN_FREE_PATHS:
            verdict = state.unauthenticated_limiter.hit(client_ip(request))
            return (_limited(verdict), None) if not verdict.allowed else (None, verdict)
        owner = None
        if scheme.lower() == "bearer" and raw:
            db = connect(state.settings.db_path)
            try:
                owner = authenticate_token(db, raw)
            finally:
                db.conn.close()
        if owner is None:
            verdict = state.unauthenticated_limiter.hit(client_ip(request))
            if not verdict.allowed:
                return _limited(verdict), None
            if not header:
                message = (
                    "No API token: send it as 'Authorization: Bearer bk_test_…'. "
                    "Mint one under Settings → API tokens."
                )
            elif scheme.lower() != "bearer" or not raw:
                message = "The Authorization header must be 'Bearer <token>'."
            else:
                message = (
                    "This API token is not valid or was revoked; mint a new one under Settings → API tokens."
                )
            return error_response(
                401, message, headers={"WWW-Authenticate": "Bearer", **rate_headers(verdict)}
            ), None
        verdict = state.api_limiter.hit(f"token:{owner.token_id}")
    except Exception:
        log.exception("API authentication failed")
        return error_response(
            503,
            "The API could not check this request; try again shortly.",
            type_="api_error",
            headers={"Retry-After": "5"},
        ), None
    if not verdict.allowed:
        return _limited(verdict), None
    request.state.api_owner = owner
    return None, verdict


def api_auth_middleware(app: ASGIApp) -> ASGIApp:
    """Authenticate, rate-limit, and stamp the rate-limit headers on whatever the API answers."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await app(scope, receive, send)
            return
        request: Request = Request(scope, receive)
        refusal, verdict = await anyio.to_thread.run_sync(_check, request)
        if refusal is not None:
            await refusal.to_asgi_response(app=None, request=request)(scope, receive, send)
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in rate_headers(verdict).items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware
