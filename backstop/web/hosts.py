"""Which Host a request may use, and what a portal domain may reach.

- The instance's own host (from BACKSTOP_BASE_URL) and loopback addresses reach everything.
- A verified portal domain reaches only its workspace's hosted pages (`/cancel/`, `/portal/`,
  `/update-card/`, `/card/`, `/wall/`, plus `/static/` and `/embed.js`). Every HTML page a
  hosted handler renders names its workspace (framing.WORKSPACE_HEADER); a page of another
  workspace, the admin and the API are 404s there.
- Any other Host is a 404 when BACKSTOP_BASE_URL is set (without it, on a laptop, any Host is
  served as the instance), except `/healthz` and `/internal/tls-allowed`, which Caddy and
  health checks call by container name.
"""

from __future__ import annotations

from collections.abc import Callable

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backstop.db import connect
from backstop.embed import portal_domains
from backstop.settings import Settings
from backstop.web.public.framing import WORKSPACE_HEADER

PORTAL_PREFIXES = ("/cancel/", "/portal/", "/update-card/", "/card/", "/wall/", "/static/")
PORTAL_PATHS = ("/embed.js",)
ANY_HOST_PATHS = ("/internal/tls-allowed", "/healthz")
# Machine endpoints: they answer JSON, never a hosted page, so there is no marker to strip, and
# a Stripe burst is spared a wrapped send per message.
NO_PAGES = ("/stripe/webhooks", "/api/", "/hooks/", "/healthz")
_MARKER = WORKSPACE_HEADER.lower().encode()
STATE_KEY = "backstop_portal_workspace"
NOT_FOUND = b"<!doctype html><title>Not found</title><p>Not found.</p>"


def portal_workspace_of(request) -> int | None:
    """The workspace whose portal domain this request came in on (None on the instance's host).
    Handlers that use up a token check it first, so a refused request stores nothing."""
    return request.scope.get("state", {}).get(STATE_KEY)


def _host(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"host":
            host = value.decode("latin-1").strip().lower()
            if host.startswith("["):
                return host.split("]", 1)[0] + "]"
            return host.rsplit(":", 1)[0].rstrip(".")
    return ""


async def _not_found(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-store")],
        }
    )
    await send({"type": "http.response.body", "body": NOT_FOUND})


def host_routing(settings: Settings) -> Callable[[ASGIApp], ASGIApp]:
    instance = portal_domains.instance_host(settings)
    strict = bool(settings.base_url)

    def portal_workspace(host: str) -> int | None:
        db = connect(settings.db_path)
        try:
            return portal_domains.workspace_for_host(db, host)
        finally:
            db.conn.close()

    def middleware(app: ASGIApp) -> ASGIApp:
        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            host = _host(scope)
            if host == instance or host in portal_domains.LOOPBACK:
                path = scope.get("path", "")
                await app(scope, receive, send if path.startswith(NO_PAGES) else _strip_marker(send))
                return
            workspace_id = portal_workspace(host) if host else None
            if workspace_id is None:
                # Caddy asks over the private network by container name; a health check may too.
                if strict and scope.get("path") not in ANY_HOST_PATHS:
                    await _not_found(send)
                else:
                    await app(scope, receive, _strip_marker(send))
                return
            path = scope.get("path", "")
            if not (path.startswith(PORTAL_PREFIXES) or path in PORTAL_PATHS):
                await _not_found(send)
                return
            scope.setdefault("state", {})[STATE_KEY] = workspace_id
            await app(scope, receive, _only_workspace(send, workspace_id))

        return handle

    return middleware


def _strip_marker(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [(k, v) for k, v in message.get("headers", []) if k.lower() != _MARKER]
        await send(message)

    return wrapped


def _only_workspace(send: Send, workspace_id: int) -> Send:
    """An HTML page must name this workspace; anything else becomes a 404 (its body dropped)."""
    state = {"blocked": False}

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", [])
            owner = next((v.decode() for k, v in headers if k.lower() == _MARKER), None)
            kind = next((v.decode() for k, v in headers if k.lower() == b"content-type"), "")
            if kind.startswith("text/html") and owner != str(workspace_id):
                state["blocked"] = True
                await _not_found(send)
                return
            message["headers"] = [(k, v) for k, v in headers if k.lower() != _MARKER]
        elif state["blocked"]:
            return
        await send(message)

    return wrapped
