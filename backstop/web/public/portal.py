"""The customer portal: `/portal/{token}` (the founder's signed token, used once),
`/portal/e/{link}` (a link Backstop emailed), both opening `/portal/s/{key}`.

The page is rendered from the Stripe mirror; "Update card" hands over to the update-card pages,
"Cancel subscription" to the published cancel flow, and "Resume" makes one Stripe call.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from backstop.email.branding import get_branding
from backstop.embed import hosted, portal, portal_domains
from backstop.embed.tokens import TokenRejected, check, redeem
from backstop.recovery import links
from backstop.recovery.update_card import card_url
from backstop.stripe_sync import connection
from backstop.web.deps import DB, Form
from backstop.web.hosts import portal_workspace_of
from backstop.web.public import framing
from backstop.web.state import app_state

REFUSED_STATUS = {"expired": 410, "reused": 410, "session_expired": 410, "invalid": 404, "form": 400}


def _gateway_for(request: Request, db):
    state = app_state(request)
    return lambda workspace_id: connection.gateway(
        db, state.box, state.settings, workspace_id, max_attempts=2, timeout=10.0
    )


def _page(
    request: Request, db, template: str, workspace_id: int | None, status: int = 200, **context: Any
) -> Template:
    parent = framing.parent_origin(db, workspace_id, request.query_params.get("origin"))
    headers = {
        **framing.frame_headers(db, workspace_id),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    return Template(
        template,
        context={
            "branding": get_branding(db, workspace_id) if workspace_id else None,
            "parent_origin": parent,
            "frame_qs": framing.frame_query(parent),
            **context,
        },
        status_code=status,
        headers=headers,
    )


def refused(request: Request, db, reason: str, workspace_id: int | None = None) -> Template:
    """A link or token that can't open anything: a page that says so (and, in a modal, tells
    the founder's app through onError)."""
    return _page(
        request, db, "public/link_refused.html", workspace_id, REFUSED_STATUS.get(reason, 401 if reason else 404),
        reason=reason,
    )  # fmt: skip


def _on_right_host(request: Request, db, token: str) -> bool:
    """On a portal domain, only that workspace's tokens are used (checked before using one up)."""
    limit = portal_workspace_of(request)
    if limit is None:
        return True
    seen = check(db, app_state(request).box, token)
    return not seen.valid or seen.workspace["id"] == limit


def _to_session(request: Request, session: hosted.HostedSession) -> Redirect:
    qs = request.url.query
    return Redirect(f"/portal/s/{session.key}" + (f"?{qs}" if qs else ""), status_code=303)


@get("/portal/{token:str}", sync_to_thread=True, include_in_schema=False)
def portal_token(request: Request, token: FromPath[str], db: DB) -> Response:
    state = app_state(request)
    if not _on_right_host(request, db, token):
        return refused(request, db, "invalid")
    try:
        checked = redeem(db, state.box, token)
    except TokenRejected as exc:
        return refused(request, db, exc.reason)
    session = hosted.open_hosted(
        db, "portal", checked.workspace["id"], checked.customer_id, subscription_id=checked.subscription_id
    )
    return _to_session(request, session)


@get("/portal/e/{link:str}", sync_to_thread=True, include_in_schema=False)
def portal_email_link(request: Request, link: FromPath[str], db: DB) -> Response:
    state, data = portal.read_email_link(app_state(request).settings.secret_key, link)
    if state != "ok" or data is None:
        return refused(request, db, "expired" if state == "expired" else "invalid")
    if portal_workspace_of(request) not in (None, data["w"]):
        return refused(request, db, "invalid")
    session = hosted.open_hosted(db, "portal", data["w"], data["cus"], subscription_id=data.get("sub"))
    return _to_session(request, session)


def _session(request: Request, db, key: str) -> tuple[hosted.HostedSession | None, Response | None]:
    found, session = hosted.find(db, "portal", key)
    if found == "ok" and session is not None:
        return session, None
    ws = session.workspace_id if session else None
    return None, refused(request, db, "session_expired" if found == "expired" else "invalid", ws)


NOTICES = {
    "resumed": "Your subscription will carry on: it is no longer set to end.",
    "unpaused": "Payments are back on: your subscription continues as before.",
    "card": "Your card is saved.",
}


@get("/portal/s/{key:str}", sync_to_thread=True, include_in_schema=False)
def portal_page(request: Request, key: FromPath[str], db: DB) -> Response:
    session, problem = _session(request, db, key)
    if problem is not None:
        return problem
    view = portal.view(db, session)
    if view is None:
        return refused(request, db, "unknown_customer", session.workspace_id)
    return _page(
        request, db, "public/portal.html", session.workspace_id,
        view=view, key=key, form_token=session.form_token,
        notice=NOTICES.get(request.query_params.get("done", "")),
    )  # fmt: skip


@get("/portal/s/{key:str}/card", sync_to_thread=True, include_in_schema=False)
def portal_card(request: Request, key: FromPath[str], db: DB) -> Response:
    """Hand over to the update-card page: the one that pays the open invoice when a recovery is
    in flight, otherwise the one that only saves a new card."""
    session, problem = _session(request, db, key)
    if problem is not None:
        return problem
    view = portal.view(db, session)
    if view is None:
        return refused(request, db, "unknown_customer", session.workspace_id)
    settings = app_state(request).settings
    parent = framing.parent_origin(db, session.workspace_id, request.query_params.get("origin"))
    if view.campaign is not None:
        url = links.update_card_url("", settings.secret_key, session.workspace_id, view.campaign["id"])
    elif view.subscription is not None:
        url = card_url("", settings.secret_key, session.workspace_id, view.customer.id, view.subscription.id)
    else:
        return Redirect(f"/portal/s/{key}{framing.frame_query(parent)}", status_code=303)
    return Redirect(url + framing.frame_query(parent), status_code=303)


def _bad_form(request: Request, db, session) -> Template:
    return _page(
        request, db, "public/link_refused.html", session.workspace_id, 400, reason="form",
    )  # fmt: skip


@post("/portal/s/{key:str}/resume", sync_to_thread=True, include_in_schema=False)
def portal_resume(request: Request, key: FromPath[str], db: DB, data: Form) -> Response:
    session, problem = _session(request, db, key)
    if problem is not None:
        return problem
    if not hosted.form_ok(session, data.get("form_token")):
        return _bad_form(request, db, session)
    parent = framing.parent_origin(db, session.workspace_id, data.get("origin"))
    try:
        done = portal.resume(db, session, _gateway_for(request, db))
    except portal.ResumeError as exc:
        view = portal.view(db, session)
        return _page(
            request, db, "public/portal.html", session.workspace_id, exc.status,
            view=view, key=key, form_token=session.form_token, error=exc.message,
        )  # fmt: skip
    qs = framing.frame_query(parent)
    return Redirect(f"/portal/s/{key}{qs}{'&' if qs else '?'}done={done}", status_code=303)


@post("/portal/s/{key:str}/cancel", sync_to_thread=True, include_in_schema=False)
def portal_cancel(request: Request, key: FromPath[str], db: DB, data: Form) -> Response:
    """Into the published cancel flow for this subscription; back to the portal when it ends."""
    from backstop.cancel_flows import sessions

    session, problem = _session(request, db, key)
    if problem is not None:
        return problem
    if not hosted.form_ok(session, data.get("form_token")):
        return _bad_form(request, db, session)
    parent = framing.parent_origin(db, session.workspace_id, data.get("origin"))
    view = portal.view(db, session)
    if view is None or not view.can_cancel:
        return _page(
            request, db, "public/portal.html", session.workspace_id, 409,
            view=view, key=key, form_token=session.form_token,
            error="This subscription can't be cancelled from here: it isn't active.",
        )  # fmt: skip
    base = portal_domains.public_base(db, app_state(request).settings, session.workspace_id)
    try:
        opened = sessions.open_session(
            db, {"id": session.workspace_id}, session.customer_id, view.subscription.id,
            return_url=f"{base}/portal/s/{key}", source="portal",
        )  # fmt: skip
    except sessions.CannotOpen as exc:
        return _page(
            request, db, "public/portal.html", session.workspace_id, 409,
            view=view, key=key, form_token=session.form_token, error=exc.message,
        )  # fmt: skip
    return Redirect(sessions.hosted_path(opened.key) + framing.frame_query(parent), status_code=303)


handlers = [portal_email_link, portal_token, portal_page, portal_card, portal_resume, portal_cancel]
