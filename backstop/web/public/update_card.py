"""The hosted update-card page a dunning email links to: `/update-card/{token}`.

The page is public (the signed, expiring token is the credential) and renders fully on the
server; its small script only mounts Stripe.js, confirms the SetupIntent, tells Backstop, and
polls until the payment is settled. The page's POST carries the CSRF token in a header.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response, get, post
from litestar.params import FromPath, JSONBody
from litestar.response import Template

from backstop.email.branding import get_branding
from backstop.recovery import update_card
from backstop.stripe_sync import connection
from backstop.web import headers
from backstop.web.deps import DB
from backstop.web.public import framing
from backstop.web.state import app_state

log = logging.getLogger("backstop.web.update_card")

STATUS_CODES = {"invalid": 404, "expired": 410, "unreachable": 503}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# In ``backstop demo`` the card is typed into a demo card form served by Backstop itself: it
# confirms the card with the demo's Stripe stand-in (see ``backstop.web.admin.demo_pages``), so the
# page loads nothing from Stripe and the demo stays off the network.
DEMO_CARD_JS = "/static/public/demo_card.js"


def stripe_js_url(settings) -> str:
    return DEMO_CARD_JS if settings.demo else settings.stripe_js_url


def page_headers(settings, db=None, workspace_id: int | None = None) -> dict[str, str]:
    """Scripts from this site and Stripe.js's origin; frames from Stripe only (its card fields and
    the bank's check); network calls to this site and Stripe's API. Framed only by the
    workspace's allowed origins (Settings → Embed), else by nobody. In the demo: this site only."""
    js = _origin(settings.stripe_js_url)
    api = _origin(settings.stripe_api_base or "https://api.stripe.com")
    frames = " ".join(dict.fromkeys([js, "https://js.stripe.com", "https://hooks.stripe.com"]))
    csp = (
        f"default-src 'none'; script-src 'self' {js}; frame-src {frames}; connect-src 'self' {api}; "
        "img-src 'self' data: https://*.stripe.com; style-src 'self' 'unsafe-inline'; "
        "form-action 'self'; base-uri 'none'"
    )
    if settings.demo:
        csp = (
            "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
            "style-src 'self' 'unsafe-inline'; form-action 'self'; base-uri 'none'"
        )
    if db is None:
        framing_headers = {"Content-Security-Policy": f"{csp}; {framing.DENY}", "X-Frame-Options": "DENY"}
    else:
        framing_headers = framing.frame_headers(db, workspace_id, csp)
    return {
        **framing_headers,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        **headers.hsts(settings),
    }


def form_token(secret_key: str, link_token: str) -> str:
    """The token the page's POST carries in x-csrftoken. Derived from the link itself rather
    than a cookie: inside embed.js's modal on another site, the browser may not send cookies."""
    return hmac.new(
        secret_key.encode(), f"update-card-form:{link_token}".encode(), hashlib.sha256
    ).hexdigest()[:40]


def _form_ok(request: Request, secret_key: str, link_token: str) -> bool:
    supplied = (request.headers.get("x-csrftoken") or "")[:100]
    return hmac.compare_digest(form_token(secret_key, link_token), supplied)


_FORBIDDEN = {
    "state": "error",
    "message": "This page is out of date. Reload it and try again; nothing was charged.",
}


def _gateway_for(request: Request, db):
    state = app_state(request)
    return lambda workspace_id: connection.gateway(
        db, state.box, state.settings, workspace_id, max_attempts=2, timeout=10.0
    )


@get("/update-card/{token:str}", sync_to_thread=True, include_in_schema=False)
def update_card_page(request: Request, token: FromPath[str], db: DB) -> Template:
    settings = app_state(request).settings
    view = update_card.page_view(db, settings, token, _gateway_for(request, db))
    branding = get_branding(db, view.workspace_id) if view.workspace_id else None
    context: dict[str, Any] = {
        "view": view,
        "campaign": view.campaign,
        "branding": branding,
        "token": token,
        "stripe_js_url": stripe_js_url(settings),
        "demo_card": settings.demo,
        "form_token": form_token(settings.secret_key, token),
        "parent_origin": framing.parent_origin(db, view.workspace_id, request.query_params.get("origin")),
    }
    return Template(
        "public/update_card.html",
        context=context,
        status_code=STATUS_CODES.get(view.state, 200),
        headers=page_headers(settings, db, view.workspace_id),
    )


def _json(body: dict, status: int = 200) -> Response:
    return Response(
        body, status_code=status, media_type="application/json", headers={"Cache-Control": "no-store"}
    )


@post("/update-card/{token:str}/confirm", sync_to_thread=True, include_in_schema=False, status_code=200)
def confirm_card(request: Request, token: FromPath[str], db: DB, data: JSONBody[dict[str, Any]]) -> Response:
    """Called by the page's script once Stripe.js has confirmed the SetupIntent."""
    settings = app_state(request).settings
    if not _form_ok(request, settings.secret_key, token):
        return _json(_FORBIDDEN, 403)
    state, _, campaign = update_card.read_link(db, settings.secret_key, token)
    if state != "ok":
        return _json({"state": state, "message": _LINK_MESSAGES[state]}, STATUS_CODES[state])
    try:
        answer = update_card.confirm(
            db, settings, campaign, data.get("setup_intent"), _gateway_for(request, db)
        )
    except update_card.ConfirmError as exc:
        return _json({"state": "error", "message": exc.message}, exc.status)
    except update_card.UNREACHABLE:
        # Raised only before the charge was asked for: Backstop knows nothing was charged.
        return _json(
            {
                "state": "error",
                "message": "We couldn't reach our card processor to save your card. Nothing was "
                "charged. Please try again in a minute.",
            },
            503,
        )
    except update_card.ConfirmInterrupted as exc:
        answer, status = update_card.truth_after_error(campaign, exc, _gateway_for(request, db))
        return _json(answer, status)
    return _json(answer)


_LINK_MESSAGES = {
    "expired": "This link has expired. Use the link in the newest email we sent you.",
    "invalid": "This link isn't valid. Open it straight from the email.",
}


@get("/update-card/{token:str}/status", sync_to_thread=True, include_in_schema=False)
def card_status(request: Request, token: FromPath[str], db: DB) -> Response:
    settings = app_state(request).settings
    state, _, campaign = update_card.read_link(db, settings.secret_key, token)
    if state != "ok":
        return _json({"state": state, "message": _LINK_MESSAGES[state]}, STATUS_CODES[state])
    try:
        return _json(update_card.status(db, campaign, gateway_for=_gateway_for(request, db)))
    except Exception:  # a busy database: the page keeps asking rather than showing an error
        log.warning("update-card status for campaign %s failed", campaign.id, exc_info=True)
        return _json({"state": "waiting"})


@get("/card/{token:str}", sync_to_thread=True, include_in_schema=False)
def card_page(request: Request, token: FromPath[str], db: DB) -> Template:
    """A new card without anything owed: the link in the card-expiry warning."""
    settings = app_state(request).settings
    view = update_card.card_page_view(db, settings, token, _gateway_for(request, db))
    return Template(
        "public/update_card.html",
        context={
            "view": view,
            "campaign": None,
            "branding": get_branding(db, view.workspace_id) if view.workspace_id else None,
            "token": token,
            "stripe_js_url": stripe_js_url(settings),
            "demo_card": settings.demo,
            "base": "/card",
            "form_token": form_token(settings.secret_key, token),
            "parent_origin": framing.parent_origin(db, view.workspace_id, request.query_params.get("origin")),
        },
        status_code=STATUS_CODES.get(view.state, 200),
        headers=page_headers(settings, db, view.workspace_id),
    )


@post("/card/{token:str}/confirm", sync_to_thread=True, include_in_schema=False, status_code=200)
def card_confirm(request: Request, token: FromPath[str], db: DB, data: JSONBody[dict[str, Any]]) -> Response:
    settings = app_state(request).settings
    if not _form_ok(request, settings.secret_key, token):
        return _json(_FORBIDDEN, 403)
    state, _, target = update_card.read_card_link(db, settings.secret_key, token)
    if state != "ok":
        return _json({"state": state, "message": _LINK_MESSAGES[state]}, STATUS_CODES[state])
    try:
        return _json(update_card.save_card(db, target, data.get("setup_intent"), _gateway_for(request, db)))
    except update_card.ConfirmError as exc:
        return _json({"state": "error", "message": exc.message}, exc.status)
    except update_card.UNREACHABLE:
        return _json(
            {
                "state": "error",
                "message": "We couldn't reach our card processor to save your card. Please try again.",
            },
            503,
        )


handlers = [update_card_page, confirm_card, card_status, card_page, card_confirm]
