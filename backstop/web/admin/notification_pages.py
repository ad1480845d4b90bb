"""Settings → Notifications: the weekly summary email to the workspace's owners."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from backstop.reporting import weekly
from backstop.web.admin.common import render
from backstop.web.admin.email_pages import email_frame
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace, Form
from backstop.web.state import app_state
from backstop.workspaces.workspaces import owner_emails, require_owner

NOTICES = {
    "on": "The weekly summary is on: the owners get the first one on Monday.",
    "off": "The weekly summary is off.",
}


@get("/w/{slug:str}/settings/notifications", sync_to_thread=True)
def notifications_page(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    return render(
        request,
        "admin/settings_notifications.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="settings",
        subnav="notifications",
        enabled=weekly.is_enabled(db, workspace.id),
        owners=owner_emails(db, workspace.id),
        recent=weekly.recent(db, workspace.id),
        next_monday=weekly.next_summary_day(),
        notice=NOTICES.get(request.query_params.get("done", "")),
    )


@post("/w/{slug:str}/settings/notifications", sync_to_thread=True)
def save_notifications(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Redirect:
    require_owner(workspace)
    enabled = data.get("weekly_summary") == "1"
    weekly.set_enabled(db, workspace.id, enabled)
    return Redirect(f"/w/{workspace.slug}/settings/notifications?done={'on' if enabled else 'off'}")


@get("/w/{slug:str}/settings/notifications/preview", sync_to_thread=True)
def summary_preview(request: Request, slug: FromPath[str], db: DB, workspace: CurrentWorkspace) -> Response:
    return email_frame(weekly.render_preview(db, app_state(request).settings.public_url, workspace.id).html)


handlers = [notifications_page, save_notifications, summary_preview]
