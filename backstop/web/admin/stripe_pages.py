"""Settings → Stripe connection: connect (Connect OAuth or a restricted key), watch the sync,
choose webhooks or polling, disconnect."""

from __future__ import annotations

from typing import Annotated

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from backstop.stripe_sync import backfill, connection, permissions, service
from backstop.web.admin.common import render
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace, Form
from backstop.web.state import app_state
from backstop.workspaces.errors import ValidationError
from backstop.workspaces.workspaces import get_workspace_by_id, require_owner


def _page(
    request: Request,
    db,
    session,
    workspace,
    *,
    errors: dict | None = None,
    form: dict | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Template:
    settings = app_state(request).settings
    conn = connection.get(db, workspace.id)
    return render(
        request,
        "admin/settings_stripe.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="settings",
        subnav="stripe",
        conn=conn,
        progress=backfill.progress(db, workspace.id),
        permissions=permissions.PERMISSIONS,
        oauth_available=settings.stripe_platform_configured,
        public_base=service.public_base_url(settings),
        errors=errors or {},
        form=form or {},
        notice=notice,
        status_code=status_code,
        webhook_url=f"{settings.public_url}/stripe/webhooks/{workspace.slug}",
        webhook_events=service.webhook_event_types(),
    )


def _enqueue_backfill(row_id: int) -> None:
    from jobs.stripe import run_backfill

    run_backfill(row_id)


@get("/w/{slug:str}/settings/stripe", sync_to_thread=True)
def stripe_page(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    notice: FromQuery[str | None] = None,
) -> Template:
    messages = {
        "connected": "Stripe is connected. Backstop is copying your account now; this page shows the progress.",
        "disconnected": "Stripe is disconnected and the mirrored data was removed from Backstop.",
        "resync": "A fresh sync has started.",
        "saved": "Saved.",
    }
    return _page(request, db, session, workspace, notice=messages.get(notice or ""))


@post("/w/{slug:str}/settings/stripe/key", sync_to_thread=True)
def connect_key(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    require_owner(workspace)
    state = app_state(request)
    try:
        result = service.connect_restricted_key(
            db,
            state.box,
            state.settings,
            workspace.id,
            workspace.slug,
            data.get("key", ""),
            data.get("webhook_secret"),
            create_endpoint=data.get("create_endpoint") == "1",
        )
    except ValidationError as exc:
        form = {
            "webhook_secret": data.get("webhook_secret", ""),
            "create_endpoint": data.get("create_endpoint"),
        }
        return _page(
            request,
            db,
            session,
            workspace,
            errors={exc.field or "key": exc.message},
            form=form,
            status_code=400,
        )
    _enqueue_backfill(result.backfill_id)
    return Redirect(f"/w/{workspace.slug}/settings/stripe?notice=connected")


@post("/w/{slug:str}/settings/stripe/oauth", sync_to_thread=True)
def start_oauth(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template | Redirect:
    require_owner(workspace)
    try:
        url = service.oauth_start_url(db, app_state(request).settings, workspace.id, session.admin.id)
    except ValidationError as exc:
        return _page(request, db, session, workspace, errors={"oauth": exc.message}, status_code=400)
    return Redirect(url)


@get("/stripe/oauth/callback", sync_to_thread=True)
def oauth_callback(
    request: Request,
    db: DB,
    session: CurrentSession,
    code: FromQuery[str] = "",
    oauth_state: Annotated[str, QueryParameter(name="state")] = "",
    error: FromQuery[str] = "",
    error_description: FromQuery[str] = "",
) -> Template | Redirect:
    if error:
        message = error_description or "Stripe didn't grant access."
        return render(
            request,
            "error.html",
            status=400,
            title="Stripe wasn't connected",
            text=f"{message} You can try again from Settings → Stripe connection.",
            status_code=400,
        )
    try:
        workspace_id, backfill_id = service.oauth_finish(
            db, app_state(request).settings, session.admin.id, code, oauth_state
        )
    except ValidationError as exc:
        return render(
            request,
            "error.html",
            status=400,
            title="Stripe wasn't connected",
            text=exc.message,
            status_code=400,
        )
    _enqueue_backfill(backfill_id)
    slug = get_workspace_by_id(db, workspace_id)["slug"]
    return Redirect(f"/w/{slug}/settings/stripe?notice=connected")


@post("/w/{slug:str}/settings/stripe/webhook", sync_to_thread=True)
def save_webhook(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    require_owner(workspace)
    try:
        secret = connection.check_webhook_secret(data.get("webhook_secret"))
        if secret is None:
            raise ValidationError(
                "Paste the signing secret (whsec_…) of the endpoint you created in Stripe.", "webhook_secret"
            )
    except ValidationError as exc:
        return _page(request, db, session, workspace, errors={"webhook_secret": exc.message}, status_code=400)
    connection.set_webhook(db, app_state(request).box, workspace.id, secret)
    connection.set_polling(db, workspace.id, data.get("keep_polling") == "1")
    return Redirect(f"/w/{workspace.slug}/settings/stripe?notice=saved")


@post("/w/{slug:str}/settings/stripe/publishable", sync_to_thread=True)
def save_publishable_key(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    require_owner(workspace)
    conn = connection.get(db, workspace.id)
    if conn is None:
        return Redirect(f"/w/{workspace.slug}/settings/stripe")
    try:
        key = connection.check_publishable_key(data.get("publishable_key"), conn.livemode)
    except ValidationError as exc:
        return _page(
            request,
            db,
            session,
            workspace,
            errors={"publishable_key": exc.message},
            form={"publishable_key": data.get("publishable_key", "")},
            status_code=400,
        )
    connection.set_publishable_key(db, workspace.id, key)
    return Redirect(f"/w/{workspace.slug}/settings/stripe?notice=saved")


@post("/w/{slug:str}/settings/stripe/polling", sync_to_thread=True)
def toggle_polling(slug: FromPath[str], db: DB, workspace: CurrentWorkspace, data: Form) -> Redirect:
    require_owner(workspace)
    connection.set_polling(db, workspace.id, data.get("polling") == "1")
    return Redirect(f"/w/{workspace.slug}/settings/stripe?notice=saved")


@post("/w/{slug:str}/settings/stripe/resync", sync_to_thread=True)
def resync(slug: FromPath[str], db: DB, workspace: CurrentWorkspace) -> Redirect:
    require_owner(workspace)
    if connection.get(db, workspace.id) is not None:
        _enqueue_backfill(backfill.start(db, workspace.id))
    return Redirect(f"/w/{workspace.slug}/settings/stripe?notice=resync")


@post("/w/{slug:str}/settings/stripe/disconnect", sync_to_thread=True)
def disconnect(request: Request, slug: FromPath[str], db: DB, workspace: CurrentWorkspace) -> Redirect:
    require_owner(workspace)
    state = app_state(request)
    service.disconnect(db, state.box, state.settings, workspace.id)
    return Redirect(f"/w/{workspace.slug}/settings/stripe?notice=disconnected")


handlers = [
    stripe_page,
    connect_key,
    start_oauth,
    oauth_callback,
    save_webhook,
    save_publishable_key,
    toggle_polling,
    resync,
    disconnect,
]
