"""CSRF protection for every form and script POST outside the API and the webhooks.

Two checks on each state-changing request:

- **Origin.** A browser says where a request comes from (``Origin``, else ``Referer``). If it
  names a site other than Backstop's own base URL, the request is refused with a 403 page that
  says so, before anything else runs. Programs that send neither still need the token.
- **A token bound to the session.** The token in a form (``_csrf_token``) or a script's
  ``X-CSRFToken`` header is an HMAC of the signed-in session (or, before sign-in, of a random
  cookie), so a token seen in one session is worthless in another, and signing in or out
  changes it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from litestar import Request
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from backstop.settings import Settings
from backstop.web.admin.common import SESSION_COOKIE
from backstop.workspaces.errors import PermissionDenied

COOKIE = "backstop_csrf"
HEADER = "x-csrftoken"
FIELD = "_csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Bearer-token API, signed webhooks, health, one-click unsubscribe (RFC 8058 posts come from
# mail providers, with no page before them), the hosted customer pages (cancel flow, portal,
# payment wall, update card: they run in third-party iframes where cookies are blocked, so each
# form carries a token tied to its own session or link) and static files and embed.js (no state
# to change; a cookie set there would reach the hosted pages), and the demo card form's calls to
# the demo's Stripe stand-in (a publishable key and the SetupIntent's client secret, as with
# Stripe's API; answered only in ``backstop demo``): each has its own proof and no cookie session.
EXCLUDE = re.compile(
    r"^/(api/|stripe/webhooks|hooks/|healthz|u/|cancel/|portal/|wall/|update-card/|card/|static/|embed\.js"
    r"|demo-stripe/)"
)
_ANON = re.compile(r"[A-Za-z0-9_-]{32,64}")


class CrossOriginRefused(PermissionDenied):
    """A state-changing request that a browser says came from another site."""


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def allowed_origins(settings: Settings) -> frozenset[str]:
    """Backstop's own base URL; without one set, the loopback addresses it answers on."""
    origins = {origin_of(settings.public_url)}
    if not settings.base_url:
        for host in ("127.0.0.1", "localhost", "[::1]"):
            origins.add(f"http://{host}:{settings.port}")
    return frozenset(o for o in origins if o)


def expected_token(secret: str, session: str | None, anon: str) -> str:
    subject = "session:" + hashlib.sha256(session.encode()).hexdigest() if session else "anon:" + anon
    return hmac.new(secret.encode(), subject.encode(), hashlib.sha256).hexdigest()


class CSRFMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.origins = allowed_origins(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or EXCLUDE.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        request: Request[Any, Any, Any] = scope["litestar_app"].request_class(scope=scope, receive=receive)
        anon = request.cookies.get(COOKIE) or ""
        fresh = None
        if not _ANON.fullmatch(anon):
            anon = fresh = secrets.token_urlsafe(32)
        token = expected_token(self.settings.secret_key, request.cookies.get(SESSION_COOKIE), anon)
        ScopeState.from_scope(scope).csrf_token = token
        if request.method in SAFE_METHODS:
            await self.app(scope, receive, self._setting_cookie(send, fresh))
            return
        self._check_origin(request)
        supplied = request.headers.get(HEADER)
        content_type, _ = request.content_type
        if not supplied and content_type in (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART):
            form = await request.form()
            value = form.get(FIELD)
            supplied = value if isinstance(value, str) else None
        if not supplied or not hmac.compare_digest(supplied.encode(), token.encode()):
            raise PermissionDeniedException("CSRF token verification failed")
        await self.app(scope, receive, send)

    def _check_origin(self, request: Request) -> None:
        claimed = request.headers.get("origin")
        if claimed is None:
            referer = request.headers.get("referer")
            if not referer:
                return  # not a browser: the token alone decides
            claimed = origin_of(referer) or referer
        elif claimed != "null":
            claimed = origin_of(claimed) or claimed
        if claimed not in self.origins:
            raise CrossOriginRefused(
                f"This request came from another site ({claimed[:100]}), so Backstop refused it. "
                f"Open Backstop at {self.settings.public_url} and try again there."
            )

    def _setting_cookie(self, send: Send, value: str | None) -> Send:
        if value is None:
            return send

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = Cookie(
                    key=COOKIE,
                    value=value,
                    path="/",
                    secure=self.settings.cookies_secure,
                    httponly=True,
                    samesite="lax",
                )
                MutableScopeHeaders.from_message(message).add("set-cookie", cookie.to_header(header=""))
            await send(message)

        return wrapped
