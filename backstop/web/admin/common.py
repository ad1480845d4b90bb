"""Shared pieces of the admin pages: the session cookie, page context, rendering."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlite_utils import Database

from backstop.web.deps import DB, CurrentSession, CurrentWorkspace
from backstop.web.state import app_state
from backstop.workspaces import admins, checklist
from backstop.workspaces.admins import Session
from backstop.workspaces.workspaces import Workspace, workspace_for, workspaces_for

SESSION_COOKIE = "backstop_session"


class LoginRequired(Exception):
    pass


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def current_session(request: Request, db: DB) -> Session:
    """Dependency: the signed-in admin's session, or a redirect to the login page."""
    session = admins.resolve_session(db, session_token(request))
    if session is None:
        raise LoginRequired()
    return session


def current_workspace(slug: FromPath[str], session: CurrentSession, db: DB) -> Workspace:
    """Dependency: the workspace in the URL, if this admin belongs to it (404 otherwise)."""
    return workspace_for(db, session.admin, slug)


def login_redirect(request: Request) -> Redirect:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return Redirect(f"/login?next={quote(target)}")


def safe_next(value: str | None) -> str:
    """Only same-site paths are followed after login, never another host."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    # Browsers drop tabs and newlines from a URL, so "/\t/evil.test" would become "//evil.test".
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return "/"
    return value


def set_session_cookie(response: Any, request: Request, token: str | None) -> None:
    secure = app_state(request).settings.cookies_secure
    if token is None:
        response.delete_cookie(SESSION_COOKIE, path="/")
    else:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            path="/",
            httponly=True,
            secure=secure,
            samesite="lax",
            max_age=int(admins.SESSION_LIFETIME.total_seconds()),
        )


def render(
    request: Request,
    template: str,
    *,
    db: Database | None = None,
    session: Session | None = None,
    workspace: Workspace | None = None,
    nav: str = "",
    status_code: int = 200,
    **context: Any,
) -> Template:
    ctx: dict[str, Any] = {"nav": nav, "admin": session.admin if session else None, **context}
    if session is not None and db is not None:
        ctx["workspaces"] = workspaces_for(db, session.admin)
    if workspace is not None and db is not None:
        conn = checklist.stripe_connection(db, workspace.id)
        ctx["ws"] = workspace
        ctx["mode"] = checklist.mode_label(db, workspace.id)
        ctx["stripe_connection"] = conn
        ctx["banners"] = banners(workspace, conn, recovery_paused(db, workspace.id))
        ctx["banners"] += webhook_banners(db, workspace)
        if app_state(request).settings.demo:
            ctx["banners"].insert(
                0,
                {
                    "tone": "demo",
                    "text": "This is a demo: Demo Co and its customers are made up, nothing reaches Stripe "
                    "and no email leaves. To start for real, stop it (Ctrl-C) and run backstop serve, "
                    "then connect your Stripe account.",
                    "action": "Simulate a failed renewal",
                    "post": f"/w/{workspace.slug}/recovery/simulate-failure",
                },
            )
        elif app_state(request).settings.email_transport == "outbox":
            ctx["banners"].append(
                {
                    "tone": "neutral",
                    "text": "Emails are kept here, not delivered: this Backstop has no mail service yet. "
                    "To send them, start it with Amazon SES or your SMTP server (Configuration → Sending "
                    "email in the docs).",
                    "action": "Open the outbox",
                    "href": f"/w/{workspace.slug}/emails",
                }
            )
    ctx.setdefault("banners", [])
    ctx["base_url"] = app_state(request).settings.public_url
    ctx["demo"] = app_state(request).settings.demo
    return Template(template_name=template, context=ctx, status_code=status_code)


def recovery_paused(db: Database, workspace_id: int) -> dict | None:
    """Who paused recovery and when, or None while it runs."""
    from backstop.recovery.campaigns import pause_state

    return pause_state(db, workspace_id)


def banners(workspace: CurrentWorkspace, conn: dict | None, paused: dict | None = None) -> list[dict]:
    """The one-line banners above every page of a workspace, most urgent first."""
    out: list[dict] = []
    base = f"/w/{workspace.slug}"
    if conn is None:
        out.append(
            {
                "tone": "neutral",
                "text": "Stripe isn't connected yet: nothing is mirrored or recovered until it is.",
                "action": "Connect Stripe",
                "href": f"{base}/settings/stripe",
            }
        )
    elif conn.get("status") in ("revoked", "failing"):
        out.append(
            {
                "tone": "red",
                "text": "Backstop can no longer reach your Stripe account: recovery has stopped.",
                "action": "Reconnect Stripe",
                "href": f"{base}/settings/stripe",
            }
        )
    if paused:
        by = f" by {paused['by']}" if paused.get("by") else ""
        out.append(
            {
                "tone": "amber",
                "text": f"Recovery is paused{by}: no charges or customer emails go out until it is resumed.",
                "action": "Resume recovery",
                "href": f"{base}/settings/pause-recovery",
            }
        )
    return out


def webhook_banners(db: Database, workspace: CurrentWorkspace) -> list[dict]:
    """A red banner per endpoint Backstop disabled after 5 days of failed deliveries."""
    from backstop.webhooks_out.endpoints import list_endpoints

    return [
        {
            "tone": "red",
            "text": f"Backstop stopped sending webhooks to {e.url}: every delivery failed for 5 days.",
            "action": "Open the endpoint",
            "href": f"/w/{workspace.slug}/settings/webhooks/{e.public_id}",
        }
        for e in list_endpoints(db, workspace.id)
        if e.disabled_reason and not e.enabled
    ]


def _flash_cookie(kind: str) -> str:
    return f"backstop_once_{kind}"


def flash_once(response: Any, request: Request, path: str, kind: str, value: str) -> None:
    """Carry a secret shown once (a new token, a rotated secret) across a redirect.

    The value travels encrypted in a short-lived cookie scoped to the page that shows it, so a
    reload of that page shows it no more and a reload never repeats the POST."""
    box = app_state(request).box
    response.set_cookie(
        _flash_cookie(kind),
        box.encrypt(value),
        path=path,
        max_age=120,
        httponly=True,
        samesite="strict",
        secure=app_state(request).settings.cookies_secure,
    )


def take_flash(request: Request, kind: str) -> str | None:
    raw = request.cookies.get(_flash_cookie(kind))
    if not raw:
        return None
    try:
        return app_state(request).box.decrypt(raw)
    except ValueError:
        return None


def clear_flash(response: Any, path: str, kind: str) -> None:
    response.delete_cookie(_flash_cookie(kind), path=path)
