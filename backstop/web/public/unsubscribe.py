"""The customer's side of email: the signed unsubscribe page (with RFC 8058 one-click POST) and
workspace logos referenced by emails."""

from __future__ import annotations

from litestar import Request, Response, get, route
from litestar.params import FromPath

from backstop.email import suppression
from backstop.email.branding import get_branding, logo_by_sha
from backstop.web import headers
from backstop.web.deps import DB
from backstop.web.state import app_state
from backstop.workspaces.workspaces import get_workspace_by_id


def _page(request: Request, db: DB, token: str, state: str, target: tuple[int, str] | None) -> Response:
    branding = get_branding(db, target[0]) if target else None
    template = request.app.template_engine.get_template("public/unsubscribe.html")
    html = template.render(state=state, branding=branding, email=target[1] if target else None, token=token)
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        status_code=404 if state == "invalid" else 200,
        headers=headers.customer_page(app_state(request).settings),
    )


# One handler for both methods: with separate sync GET and POST handlers on one path, Litestar
# 2.25 hands the GET's un-awaited coroutine to the response (a 500).
@route(
    "/u/{token:str}",
    http_method=["GET", "POST"],
    sync_to_thread=True,
    include_in_schema=False,
    status_code=200,
)
def unsubscribe(request: Request, token: FromPath[str], db: DB) -> Response:
    """GET shows what the link does and never unsubscribes (mail scanners open links); POST is
    the page's button and mail apps' one-click (``List-Unsubscribe=One-Click``)."""
    secret_key = app_state(request).settings.secret_key
    if request.method == "POST":
        target = suppression.unsubscribe(db, secret_key, token)
        return _page(request, db, token, "done" if target else "invalid", target)
    target = suppression.read_unsubscribe_token(secret_key, token)
    if target is None or not get_workspace_by_id(db, target[0]):
        return _page(request, db, token, "invalid", None)
    already = suppression.state(db, target[0], target[1]).unsubscribed
    return _page(request, db, token, "done" if already else "confirm", target)


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


handlers = [unsubscribe, brand_logo]
