"""The customer's side of email: the signed unsubscribe page (with RFC 8058 one-click POST) and
workspace logos referenced by emails."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from backstop.db import one
from backstop.email import suppression
from backstop.email.branding import get_branding, logo_by_sha
from backstop.web.deps import DB
from backstop.web.state import app_state

PUBLIC_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _page(request: Request, db: DB, token: str, state: str, target: tuple[int, str] | None) -> Template:
    branding = get_branding(db, target[0]) if target else None
    return Template(
        "public/unsubscribe.html",
        context={
            "state": state,
            "branding": branding,
            "email": target[1] if target else None,
            "token": token,
        },
        status_code=404 if state == "invalid" else 200,
        headers=PUBLIC_HEADERS,
    )


@get("/u/{token:str}", sync_to_thread=True, include_in_schema=False)
def unsubscribe_page(request: Request, token: FromPath[str], db: DB) -> Template:
    """Show what the link does. A GET never unsubscribes: mail scanners open links."""
    target = suppression.read_unsubscribe_token(app_state(request).settings.secret_key, token)
    if target is None or not one(db, "SELECT id FROM workspaces WHERE id = ?", [target[0]]):
        return _page(request, db, token, "invalid", None)
    already = suppression.state(db, target[0], target[1]).unsubscribed
    return _page(request, db, token, "done" if already else "confirm", target)


@post("/u/{token:str}", sync_to_thread=True, include_in_schema=False, status_code=200)
def unsubscribe(request: Request, token: FromPath[str], db: DB) -> Template:
    """The page's button and mail apps' one-click (``List-Unsubscribe=One-Click``) both land here."""
    target = suppression.unsubscribe(db, app_state(request).settings.secret_key, token)
    return _page(request, db, token, "done" if target else "invalid", target)


@get("/brand/logo/{name:str}", sync_to_thread=True, include_in_schema=False)
def brand_logo(name: FromPath[str], db: DB) -> Response:
    sha = name.split(".", 1)[0]
    found = logo_by_sha(db, sha) if sha.isalnum() else None
    if found is None:
        return Response(b"", status_code=404, media_type="text/plain")
    data, content_type = found
    return Response(
        data,
        media_type=content_type,
        headers={"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"},
    )


handlers = [unsubscribe_page, unsubscribe, brand_logo]
