"""The Failed Payment Wall: `POST /wall/check` (from embed.js, one small request answered from the
database) and the `/wall/s/{key}` page shown in the modal when something is owed.

The check is a CORS "simple" request (text/plain body, no cookies) so it costs one round trip.
Its answer carries data only to an origin the workspace lists under Settings → Embed.
"""

from __future__ import annotations

import json

from litestar import Request, Response, get, post
from litestar.params import FromPath, RawBody
from litestar.response import Template

from backstop.db import write_transaction
from backstop.email.branding import get_branding
from backstop.embed import hosted, origins, wall
from backstop.embed.tokens import REASONS, TokenRejected, check, redeem
from backstop.recovery import links
from backstop.web.deps import DB
from backstop.web.hosts import portal_workspace_of
from backstop.web.public import framing
from backstop.web.public.portal import refused
from backstop.web.state import app_state, client_ip

TOKEN_STATUS = {"expired": 410, "reused": 410, "malformed": 400, "unsupported_alg": 400, "exp_too_far": 400}


def _json(request: Request, body: dict, status: int = 200, allow: bool = True) -> Response:
    headers = {"Cache-Control": "no-store", "Vary": "Origin", "X-Content-Type-Options": "nosniff"}
    origin = request.headers.get("origin")
    if origin and allow:
        headers["Access-Control-Allow-Origin"] = origin
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _refuse(request: Request, reason: str, message: str, status: int) -> Response:
    # A refusal carries no customer data, so the calling page may read why.
    return _json(request, {"show": False, "reason": reason, "message": message}, status)


@post("/wall/check", sync_to_thread=True, include_in_schema=False, status_code=200)
def wall_check(request: Request, db: DB, body: RawBody) -> Response:
    state = app_state(request)
    verdict = state.wall_limiter.hit(client_ip(request))
    if not verdict.allowed:
        refused = _refuse(
            request,
            "rate_limited",
            f"Too many payment checks from this address; try again in {verdict.reset_after} s.",
            429,
        )
        refused.headers["Retry-After"] = str(verdict.reset_after)
        return refused
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return _refuse(request, "malformed", 'Send {"token": "…"} as the body.', 400)
    token = payload.get("token") if isinstance(payload, dict) else None
    seen = check(db, state.box, token)
    if not seen.valid:
        return _refuse(
            request,
            seen.reason,
            seen.message or REASONS.get(seen.reason, ""),
            TOKEN_STATUS.get(seen.reason, 401),
        )
    workspace_id = seen.workspace["id"]
    if portal_workspace_of(request) not in (None, workspace_id):
        return _refuse(
            request, "unknown_workspace", "This token belongs to another workspace than this domain's.", 404
        )
    origin = request.headers.get("origin")
    if not origins.is_allowed(db, workspace_id, origin):
        return _refuse(
            request, "origin_not_allowed",
            f"{origin or 'This page'} isn't listed under Settings → Embed → Allowed origins.", 403,
        )  # fmt: skip
    due = wall.due_for(db, workspace_id, seen.customer_id)
    if due is None:
        return _json(request, {"show": False})
    try:
        with write_transaction(db):
            redeem(db, state.box, token)
            session = hosted.open_hosted(
                db, "wall", workspace_id, seen.customer_id, subscription_id=due.subscription_id,
                campaign_id=due.campaign_id, invoice_id=due.invoice_id,
            )  # fmt: skip
    except TokenRejected as exc:
        return _refuse(request, exc.reason, exc.message, TOKEN_STATUS.get(exc.reason, 401))
    return _json(
        request,
        {"show": True, "path": f"/wall/s/{session.key}", "mode": wall.mode_for(db, workspace_id, due),
         "amount": due.amount, "currency": due.currency},
    )  # fmt: skip


def _session(db, key: str):
    found, session = hosted.find(db, "wall", key)
    return (session if found == "ok" else None), found


@get("/wall/s/{key:str}", sync_to_thread=True, include_in_schema=False)
def wall_page(request: Request, key: FromPath[str], db: DB) -> Response:
    session, found = _session(db, key)
    if session is None:
        return refused(request, db, "session_expired" if found == "expired" else "invalid")
    parent = framing.parent_origin(db, session.workspace_id, request.query_params.get("origin"))
    due = wall.due_for(db, session.workspace_id, session.customer_id)
    paid = due is None or due.invoice_id != session.invoice_id
    settings = app_state(request).settings
    update_url = None
    if not paid and due.campaign_id is not None:
        update_url = links.update_card_url("", settings.secret_key, session.workspace_id, due.campaign_id)
        update_url += framing.frame_query(parent)
    mode = "dismissible" if paid else wall.mode_for(db, session.workspace_id, due)
    return Template(
        "public/wall.html",
        context={
            "branding": get_branding(db, session.workspace_id),
            "parent_origin": parent,
            "due": None if paid else due,
            "mode": mode,
            "update_url": update_url,
            "key": key,
        },
        headers={
            **framing.frame_headers(db, session.workspace_id),
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


@get("/wall/s/{key:str}/status", sync_to_thread=True, include_in_schema=False)
def wall_status(key: FromPath[str], db: DB) -> Response:
    """Polled by the wall every few seconds: has the payment landed?"""
    session, found = _session(db, key)
    if session is None:
        return Response(
            {"state": found},
            status_code=404 if found == "unknown" else 410,
            headers={"Cache-Control": "no-store"},
        )
    settled = wall.settled(db, session.workspace_id, session.customer_id, session.invoice_id)
    return Response({"state": "settled" if settled else "due"}, headers={"Cache-Control": "no-store"})


handlers = [wall_check, wall_page, wall_status]
