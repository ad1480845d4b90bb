"""Settings: General (name, embed secret), Members, API tokens."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from backstop.web.admin.common import clear_flash, flash_once, render, take_flash
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace, Form
from backstop.web.state import app_state
from backstop.workspaces import checklist, tokens
from backstop.workspaces import workspaces as ws_domain
from backstop.workspaces.errors import ValidationError


def _general(
    request: Request,
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    *,
    errors: dict | None = None,
    notice: str | None = None,
    status_code: int = 200,
    new_secret: str | None = None,
) -> Template:
    secret = None
    unreadable = False
    if workspace.is_owner:
        try:
            secret = ws_domain.embed_secret(db, app_state(request).box, workspace.id)
        except ValueError:
            # Saved under another BACKSTOP_SECRET_KEY: the page must still offer rotation.
            unreadable = True
    return render(
        request,
        "admin/settings_general.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="settings",
        subnav="general",
        errors=errors or {},
        notice=notice,
        embed_secret=secret,
        embed_secret_unreadable=unreadable,
        new_secret=new_secret,
        status_code=status_code,
    )


@get("/w/{slug:str}/settings", sync_to_thread=True)
def settings_general(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    secret = take_flash(request, "embed_secret")
    if secret is None:
        return _general(request, db, session, workspace)
    response = _general(
        request,
        db,
        session,
        workspace,
        new_secret=secret,
        notice="A new embed secret is in place. Tokens signed with the old one no longer open flows: "
        "update your backend now.",
    )
    clear_flash(response, f"/w/{workspace.slug}/settings", "embed_secret")
    return response


@post("/w/{slug:str}/settings/rename", sync_to_thread=True)
def rename(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    try:
        ws_domain.rename_workspace(db, workspace, data.get("name", ""))
    except ValidationError as exc:
        return _general(request, db, session, workspace, errors={"name": exc.message}, status_code=400)
    return Redirect(f"/w/{workspace.slug}/settings?saved=name")


@post("/w/{slug:str}/settings/rotate-embed-secret", sync_to_thread=True)
def rotate_secret(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Redirect:
    secret = ws_domain.rotate_embed_secret(db, app_state(request).box, workspace)
    path = f"/w/{workspace.slug}/settings"
    response = Redirect(path)
    flash_once(response, request, path, "embed_secret", secret)
    return response


def _members(
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
        "admin/settings_members.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="settings",
        subnav="members",
        members=ws_domain.members(db, workspace),
        errors=errors or {},
        form=form or {},
        status_code=status_code,
    )


@get("/w/{slug:str}/settings/members", sync_to_thread=True)
def members_page(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    return _members(request, db, session, workspace)


@post("/w/{slug:str}/settings/members", sync_to_thread=True)
def add_member(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    try:
        ws_domain.add_member(
            db, workspace, data.get("email", ""), data.get("role", "member"), data.get("password") or None
        )
    except ValidationError as exc:
        form = {k: v for k, v in data.items() if k != "password"}
        return _members(
            request,
            db,
            session,
            workspace,
            errors={exc.field or "form": exc.message},
            form=form,
            status_code=400,
        )
    return Redirect(f"/w/{workspace.slug}/settings/members")


@post("/w/{slug:str}/settings/members/{admin_id:int}/role", sync_to_thread=True)
def change_role(
    request: Request,
    slug: FromPath[str],
    admin_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    try:
        ws_domain.change_role(db, workspace, admin_id, data.get("role", ""))
    except ValidationError as exc:
        return _members(request, db, session, workspace, errors={"form": exc.message}, status_code=400)
    return Redirect(f"/w/{workspace.slug}/settings/members")


@post("/w/{slug:str}/settings/members/{admin_id:int}/remove", sync_to_thread=True)
def remove_member(
    request: Request,
    slug: FromPath[str],
    admin_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Template | Redirect:
    try:
        ws_domain.remove_member(db, workspace, admin_id)
    except ValidationError as exc:
        return _members(request, db, session, workspace, errors={"form": exc.message}, status_code=400)
    if admin_id == session.admin.id:
        return Redirect("/")
    return Redirect(f"/w/{workspace.slug}/settings/members")


def _tokens(
    request: Request,
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    *,
    errors: dict | None = None,
    new_token: str | None = None,
    status_code: int = 200,
) -> Template:
    return render(
        request,
        "admin/settings_tokens.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="settings",
        subnav="api-tokens",
        tokens=tokens.list_tokens(db, workspace.id),
        errors=errors or {},
        new_token=new_token,
        status_code=status_code,
        rate_limit=app_state(request).settings.api_rate_limit,
    )


@get("/w/{slug:str}/settings/api-tokens", sync_to_thread=True)
def tokens_page(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    raw = take_flash(request, "api_token")
    response = _tokens(request, db, session, workspace, new_token=raw)
    if raw is not None:
        clear_flash(response, f"/w/{workspace.slug}/settings/api-tokens", "api_token")
    return response


@post("/w/{slug:str}/settings/api-tokens", sync_to_thread=True)
def create_token(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    ws_domain.require_owner(workspace)
    livemode = checklist.mode_label(db, workspace.id) == "livemode"
    try:
        _, raw = tokens.create_token(db, workspace.id, data.get("name", ""), livemode, session.admin.id)
    except ValidationError as exc:
        return _tokens(request, db, session, workspace, errors={"name": exc.message}, status_code=400)
    path = f"/w/{workspace.slug}/settings/api-tokens"
    response = Redirect(path)
    flash_once(response, request, path, "api_token", raw)
    return response


@post("/w/{slug:str}/settings/api-tokens/{token_id:int}/revoke", sync_to_thread=True)
def revoke_token(
    slug: FromPath[str], token_id: FromPath[int], db: DB, workspace: CurrentWorkspace
) -> Redirect:
    ws_domain.require_owner(workspace)
    tokens.revoke_token(db, workspace.id, token_id)
    return Redirect(f"/w/{workspace.slug}/settings/api-tokens")
