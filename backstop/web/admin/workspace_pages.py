"""The workspace pages: home redirect, new workspace, Overview and its checklist."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from backstop.cancel_flows import flows
from backstop.reporting import stats
from backstop.stripe_sync import backfill
from backstop.web.admin import recovery_pages
from backstop.web.admin.common import render
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace, Form
from backstop.web.state import app_state
from backstop.workspaces import admins, checklist
from backstop.workspaces.errors import ValidationError
from backstop.workspaces.workspaces import (
    create_workspace,
    set_embed_step_done,
    workspaces_for,
)


@get("/", sync_to_thread=True)
def home(request: Request, db: DB) -> Redirect:
    if not admins.any_admin_exists(db):
        return Redirect("/setup")
    session = admins.resolve_session(db, request.cookies.get("backstop_session"))
    if session is None:
        return Redirect("/login")
    mine = workspaces_for(db, session.admin)
    if not mine:
        return Redirect("/workspaces/new")
    last = request.cookies.get("backstop_ws")
    chosen = next((w for w in mine if w.slug == last), mine[0])
    return Redirect(f"/w/{chosen.slug}/overview")


@get("/workspaces/new", sync_to_thread=True)
def new_workspace_page(request: Request, db: DB, session: CurrentSession) -> Template:
    return render(request, "admin/workspace_new.html", db=db, session=session, form={}, errors={})


@post("/workspaces/new", sync_to_thread=True)
def new_workspace_submit(
    request: Request, db: DB, session: CurrentSession, data: Form
) -> Template | Redirect:
    try:
        ws, _ = create_workspace(
            db, app_state(request).box, data.get("name", ""), session.admin, data.get("slug") or None
        )
    except ValidationError as exc:
        return render(
            request,
            "admin/workspace_new.html",
            db=db,
            session=session,
            form=data,
            errors={exc.field or "form": exc.message},
            status_code=400,
        )
    return Redirect(f"/w/{ws.slug}/overview")


@get("/w/{slug:str}", sync_to_thread=True)
def workspace_root(slug: FromPath[str], workspace: CurrentWorkspace) -> Redirect:
    return Redirect(f"/w/{workspace.slug}/overview")


@get("/w/{slug:str}/overview", sync_to_thread=True)
def overview(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    steps = checklist.steps(db, workspace.id, workspace.slug, workspace.embed_step_done_at)
    response = render(
        request,
        "admin/overview.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="overview",
        steps=steps,
        steps_done=sum(s.done for s in steps),
        stats=stats.workspace_stats(db, workspace.id),
        definitions=stats.DEFINITIONS,
        recovery=recovery_pages.overview_panels(db, workspace.id),
        sync=backfill.progress(db, workspace.id),
        resent=request.query_params.get("resent"),
        approvals=flows.pending_approvals(db, workspace.id),
    )
    response.set_cookie(
        "backstop_ws",
        workspace.slug,
        path="/",
        httponly=True,
        samesite="lax",
        secure=app_state(request).settings.cookies_secure,
        max_age=31536000,
    )
    return response


@post("/w/{slug:str}/checklist/embed", sync_to_thread=True)
def toggle_embed_step(slug: FromPath[str], db: DB, workspace: CurrentWorkspace, data: Form) -> Redirect:
    set_embed_step_done(db, workspace, data.get("done") == "1")
    return Redirect(f"/w/{workspace.slug}/overview#get-set-up")
