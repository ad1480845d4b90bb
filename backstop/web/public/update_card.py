"""The hosted update-card page a dunning email links to: `/update-card/{token}`.

The page is public (the signed, expiring token is the credential) and renders fully on the
server; its small script only mounts Stripe.js, confirms the SetupIntent, tells Backstop, and
polls until the payment is settled. The page's POST carries the CSRF token in a header.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, JSONBody
from litestar.response import Template

from backstop.email.branding import get_branding
from backstop.recovery import update_card
from backstop.stripe_sync import connection
from backstop.web import headers
from backstop.web.deps import DB
from backstop.web.state import app_state

log = logging.getLogger("backstop.web.update_card")

STATUS_CODES = {"invalid": 404, "expired": 410, "unreachable": 503}


def page_headers(settings) -> dict[str, str]:
    """Scripts from this site and Stripe.js's origin; frames from Stripe only (its card fields and
    the bank's check); network calls to this site and Stripe's API."""
    js = headers.origin(settings.stripe_js_url)
    api = headers.origin(settings.stripe_api_base or "https://api.stripe.com")
    return headers.customer_page(
        settings,
        scripts=[js],
        frames=list(dict.fromkeys([js, "https://js.stripe.com", "https://hooks.stripe.com"])),
        connect=[api],
        images=["https://*.stripe.com"],
    )


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
        "stripe_js_url": settings.stripe_js_url,
    }
    return Template(
        "public/update_card.html",
        context=context,
        status_code=STATUS_CODES.get(view.state, 200),
        headers=page_headers(settings),
    )


def _json(body: dict, status: int = 200) -> Response:
    return Response(
        body, status_code=status, media_type="application/json", headers={"Cache-Control": "no-store"}
    )


@post("/update-card/{token:str}/confirm", sync_to_thread=True, include_in_schema=False, status_code=200)
def confirm_card(request: Request, token: FromPath[str], db: DB, data: JSONBody[dict[str, Any]]) -> Response:
    """Called by the page's script once Stripe.js has confirmed the SetupIntent."""
    settings = app_state(request).settings
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
            "stripe_js_url": settings.stripe_js_url,
            "base": "/card",
        },
        status_code=STATUS_CODES.get(view.state, 200),
        headers=page_headers(settings),
    )


@post("/card/{token:str}/confirm", sync_to_thread=True, include_in_schema=False, status_code=200)
def card_confirm(request: Request, token: FromPath[str], db: DB, data: JSONBody[dict[str, Any]]) -> Response:
    settings = app_state(request).settings
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
