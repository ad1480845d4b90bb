"""The hosted cancel flow: ``/cancel/{token}`` opens a session, ``/cancel/s/{key}`` walks it.

No cookies: the page may sit in an iframe on the founder's site, where third-party cookies are
blocked. The session lives in its unguessable key in the URL; every form carries a token derived
from that key. Each answer is a POST that redirects back to the page (so a reload never posts
twice), and each state of the session has a page of its own.

In ``?embed=1`` mode the page talks to its parent window with postMessage, but only to an
origin the workspace allows for framing; otherwise it sends nothing.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode, urlsplit

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from backstop.cancel_flows import sessions
from backstop.email.branding import get_branding
from backstop.embed import tokens
from backstop.stripe_sync.customers import get_customer
from backstop.web.deps import DB, Form
from backstop.web.public import cancel_view, framing
from backstop.web.state import app_state


def page_headers(db, workspace_id: int | None) -> dict[str, str]:
    """Own scripts and styles only, framing by the workspace's allowed origins, never cached."""
    return {
        **framing.frame_headers(db, workspace_id),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def _embed_params(request: Request, form: dict | None = None) -> dict[str, str]:
    source = form if form is not None else request.query_params
    params = {}
    if source.get("embed") == "1":
        params["embed"] = "1"
        origin = (source.get("origin") or "")[:300]
        if origin:
            params["origin"] = origin
    return params


def _session_url(key: str, params: dict[str, str]) -> str:
    url = sessions.hosted_path(key)
    return f"{url}?{urlencode(params)}" if params else url


def render(
    request: Request,
    db,
    view: cancel_view.PageView,
    *,
    workspace_id: int | None,
    embed: dict[str, str],
    form: dict | None = None,
    simulate: dict | None = None,
) -> Response:
    headers = page_headers(db, workspace_id)
    parent_origin = (
        framing.parent_origin(db, workspace_id, embed.get("origin")) if embed.get("embed") else None
    )
    event = None
    if view.kind == "done" and view.outcome:
        event = "canceled" if view.outcome == "canceled" else "saved"
    context: dict[str, Any] = {
        "view": view,
        "branding": get_branding(db, workspace_id) if workspace_id else None,
        "form": form,
        "embed": embed.get("embed") == "1",
        "parent_origin": parent_origin,
        "event": event,
        "simulate": simulate,
    }
    html = request.app.template_engine.get_template("public/cancel.html").render(**context)
    return Response(html, media_type="text/html; charset=utf-8", status_code=view.status, headers=headers)


def session_page(
    request: Request, db, session: sessions.SessionRecord, key: str, embed: dict[str, str]
) -> Response:
    settings = app_state(request).settings
    flow = sessions.flow_of(db, session)
    if session.state == "open":
        view = cancel_view.step_view(db, session.workspace_id, flow, session.walk)
        form = {
            "method": "post",
            "action": f"{sessions.hosted_path(key)}/step",
            "hidden": {
                "form_token": sessions.form_token(settings.secret_key, key),
                "step": session.step or "",
                **embed,
            },
        }
        return render(request, db, view, workspace_id=session.workspace_id, embed=embed, form=form)
    action = sessions.action_of(db, session.id)
    if session.state == "pending_action":
        view = cancel_view.pending_view(session.outcome, action["last_error"] if action else None)
        return render(request, db, view, workspace_id=session.workspace_id, embed=embed)
    if session.outcome == "abandoned":
        view = cancel_view.problem_view("expired")
        view.status = 410
        return render(request, db, view, workspace_id=session.workspace_id, embed=embed)
    customer = get_customer(db, session.workspace_id, session.customer_id)
    sub = next(
        (s for s in (customer.subscriptions if customer else []) if s.id == session.subscription_id), None
    )
    view = cancel_view.done_view(
        db,
        session.workspace_id,
        outcome=session.outcome,
        offer=session.accepted,
        cancel_at=flow.settings.cancel_at,
        period_end=sub.current_period_end if sub else None,
        result=json.loads(action["result"]) if action and action["result"] else None,
        return_url=None if embed.get("embed") == "1" else session.return_url,
    )
    return render(request, db, view, workspace_id=session.workspace_id, embed=embed)


@get("/cancel/{token:str}", sync_to_thread=True, include_in_schema=False)
def open_from_token(request: Request, token: FromPath[str], db: DB) -> Response:
    """The link a founder's app opens (or embed.js frames): use the token up, open the session,
    and send the browser to the session's own address."""
    state = app_state(request)
    embed = _embed_params(request)
    try:
        checked = tokens.redeem(db, state.box, token)
    except tokens.TokenRejected as exc:
        name = exc.reason if exc.reason in ("expired", "reused") else "invalid"
        return render(request, db, cancel_view.problem_view(name), workspace_id=None, embed={})
    try:
        session = sessions.open_session(
            db,
            checked.workspace,
            checked.customer_id,
            checked.subscription_id,
            return_url=None,
            source="embed" if embed.get("embed") == "1" else "hosted",
        )
    except sessions.CannotOpen as exc:
        name = "no_subscription" if exc.reason == "no_subscription" else "invalid"
        return render(
            request, db, cancel_view.problem_view(name), workspace_id=checked.workspace["id"], embed=embed
        )
    return Redirect(_session_url(session.key, embed), status_code=303, headers={"Cache-Control": "no-store"})


@get("/cancel/s/{key:str}", sync_to_thread=True, include_in_schema=False)
def show_session(request: Request, key: FromPath[str], db: DB) -> Response:
    embed = _embed_params(request)
    session = sessions.by_key(db, key)
    if session is None:
        return render(request, db, cancel_view.problem_view("gone"), workspace_id=None, embed={})
    return session_page(request, db, session, key, embed)


@post("/cancel/s/{key:str}/step", sync_to_thread=True, include_in_schema=False, status_code=303)
def answer_step(request: Request, key: FromPath[str], db: DB, data: Form) -> Response:
    settings = app_state(request).settings
    embed = _embed_params(request, data)
    if not sessions.check_form_token(settings.secret_key, key, data.get("form_token")):
        session = sessions.by_key(db, key)
        return render(
            request,
            db,
            cancel_view.problem_view("form" if session else "gone"),
            workspace_id=session.workspace_id if session else None,
            embed={},
        )
    _, action_id = sessions.answer(
        db, key, {k: data.get(k) for k in ("action", "step", "reason", "free_text")}
    )
    if action_id is not None:
        from jobs.cancel_flows import apply_action

        apply_action(action_id)
    return Redirect(_session_url(key, embed), status_code=303, headers={"Cache-Control": "no-store"})


def safe_return_url(value: object) -> str | None:
    """An http(s) URL with a host, no credentials, at most 2,000 characters; else None."""
    if not isinstance(value, str) or not value or len(value) > 2000:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        return None
    if any(c in value for c in "\r\n\t \\"):
        return None
    return value


handlers = [open_from_token, show_session, answer_step]
