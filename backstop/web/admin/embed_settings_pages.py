"""Settings → Embed: the origins allowed to frame hosted pages, and the Failed Payment Wall."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from backstop.embed import origins
from backstop.web.admin.common import render
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace, Form
from backstop.workspaces.errors import ValidationError
from backstop.workspaces.workspaces import require_owner

NOTICES = {
    "added": "Origin added: pages on it can now open Backstop in a modal.",
    "removed": "Origin removed: pages on it can no longer frame Backstop.",
    "wall": "Payment wall settings saved.",
}


def _page(
    request: Request,
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    *,
    errors: dict | None = None,
    form: dict | None = None,
    status_code: int = 200,
) -> Template:
    return render(
        request,
        "admin/settings_embed.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="settings",
        subnav="embed",
        origins=origins.list_origins(db, workspace.id),
        embed=origins.get_settings(db, workspace.id),
        errors=errors or {},
        form=form or {},
        notice=NOTICES.get(request.query_params.get("done", "")),
        status_code=status_code,
    )


@get("/w/{slug:str}/settings/embed", sync_to_thread=True)
def embed_settings_page(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    return _page(request, db, session, workspace)


@post("/w/{slug:str}/settings/embed/origins", sync_to_thread=True)
def add_origin(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    require_owner(workspace)
    try:
        origins.add_origin(db, workspace.id, data.get("origin", ""))
    except ValidationError as exc:
        return _page(
            request, db, session, workspace, errors={"origin": exc.message}, form=data, status_code=400
        )
    return Redirect(f"/w/{workspace.slug}/settings/embed?done=added")


@post("/w/{slug:str}/settings/embed/origins/remove", sync_to_thread=True)
def remove_origin(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Redirect:
    require_owner(workspace)
    origins.remove_origin(db, workspace.id, data.get("origin", ""))
    return Redirect(f"/w/{workspace.slug}/settings/embed?done=removed")


@post("/w/{slug:str}/settings/embed/wall", sync_to_thread=True)
def save_wall(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    require_owner(workspace)
    try:
        origins.save_wall_settings(
            db, workspace.id, data.get("wall_mode", ""), data.get("wall_grace_days", "")
        )
    except ValidationError as exc:
        return _page(
            request,
            db,
            session,
            workspace,
            errors={exc.field or "wall_mode": exc.message},
            form=data,
            status_code=400,
        )
    return Redirect(f"/w/{workspace.slug}/settings/embed?done=wall")


handlers = [embed_settings_page, add_origin, remove_origin, save_wall]
