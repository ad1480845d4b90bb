"""Settings → Outbound webhooks: endpoints, their secret (shown once), test, rotate, delete, the
delivery log with redelivery, and replay of a period from the event log."""

from __future__ import annotations

from datetime import datetime, timedelta

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from backstop import clock
from backstop.web.admin.common import clear_flash, flash_once, render, take_flash
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace, Form
from backstop.web.state import app_state
from backstop.webhooks_out import delivery, endpoints
from backstop.webhooks_out.endpoints import EndpointError
from backstop.webhooks_out.events import EVENT_TYPES
from backstop.workspaces import workspaces as ws_domain
from backstop.workspaces.errors import NotFound


def _base(workspace) -> str:
    return f"/w/{workspace.slug}/settings/webhooks"


def _chosen_events(data: dict) -> list[str]:
    return [t for t in EVENT_TYPES if data.get(f"event:{t}")]


def _list(request, db, session, workspace, *, errors=None, form=None, new_secret=None, status_code=200):
    return render(
        request,
        "admin/settings_webhooks.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="settings",
        subnav="webhooks",
        endpoints=endpoints.list_endpoints(db, workspace.id),
        event_types=EVENT_TYPES,
        errors=errors or {},
        form=form or {"enabled": "on"},
        chosen=_chosen_events(form or {}),
        new_secret=new_secret,
        status_code=status_code,
    )


@get("/w/{slug:str}/settings/webhooks", sync_to_thread=True)
def webhooks_page(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    return _list(request, db, session, workspace)


@post("/w/{slug:str}/settings/webhooks", sync_to_thread=True)
def add_endpoint(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    ws_domain.require_owner(workspace)
    settings = app_state(request).settings
    try:
        endpoint, secret = endpoints.create_endpoint(
            db,
            app_state(request).box,
            workspace.id,
            url=data.get("url", ""),
            events=_chosen_events(data),
            description=data.get("description"),
            enabled=bool(data.get("enabled")),
            allow_private=settings.webhooks_allow_private,
            resolver=endpoints.resolver_for(settings),
        )
    except EndpointError as exc:
        return _list(
            request, db, session, workspace, errors={exc.field: exc.message}, form=data, status_code=400
        )
    path = f"{_base(workspace)}/{endpoint.public_id}"
    response = Redirect(path)
    flash_once(response, request, path, "webhook_secret", secret)
    return response


def _endpoint_or_404(db, workspace, endpoint_id: str) -> endpoints.Endpoint:
    endpoint = endpoints.get_endpoint(db, workspace.id, endpoint_id)
    if endpoint is None:
        raise NotFound("There is no such webhook endpoint in this workspace.")
    return endpoint


def _detail(
    request, db, session, workspace, endpoint, *, errors=None, notice=None, new_secret=None, status_code=200
):
    rows = delivery.deliveries_for(db, endpoint.id)
    for row in rows:
        row["attempt_log"] = delivery.attempts_for(db, row["id"])
    now = clock.now()
    return render(
        request,
        "admin/settings_webhook.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="settings",
        subnav="webhooks",
        endpoint=endpoint,
        deliveries=rows,
        event_types=EVENT_TYPES,
        errors=errors or {},
        notice=notice,
        new_secret=new_secret,
        replay_since=(now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        replay_until=now.strftime("%Y-%m-%dT%H:%M"),
        status_code=status_code,
    )


@get("/w/{slug:str}/settings/webhooks/{endpoint_id:str}", sync_to_thread=True)
def endpoint_page(
    request: Request,
    slug: FromPath[str],
    endpoint_id: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Template:
    endpoint = _endpoint_or_404(db, workspace, endpoint_id)
    secret = take_flash(request, "webhook_secret")
    notice = request.query_params.get("done")
    response = _detail(
        request, db, session, workspace, endpoint, new_secret=secret, notice=NOTICES.get(notice or "")
    )
    if secret is not None:
        clear_flash(response, f"{_base(workspace)}/{endpoint.public_id}", "webhook_secret")
    return response


NOTICES = {
    "saved": "Saved.",
    "test": "A test event is on its way; its delivery shows below.",
    "redeliver": "The event is queued again; the new delivery shows below.",
    "replay": "The events of that period are queued; their deliveries show below.",
    "replay-none": "The event log holds no event in that period.",
}


@post("/w/{slug:str}/settings/webhooks/{endpoint_id:str}", sync_to_thread=True)
def save_endpoint(
    request: Request,
    slug: FromPath[str],
    endpoint_id: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    ws_domain.require_owner(workspace)
    endpoint = _endpoint_or_404(db, workspace, endpoint_id)
    settings = app_state(request).settings
    try:
        endpoints.update_endpoint(
            db,
            workspace.id,
            endpoint.public_id,
            url=data.get("url", ""),
            events=_chosen_events(data),
            description=data.get("description", ""),
            enabled=bool(data.get("enabled")),
            allow_private=settings.webhooks_allow_private,
            resolver=endpoints.resolver_for(settings),
        )
    except EndpointError as exc:
        return _detail(
            request, db, session, workspace, endpoint, errors={exc.field: exc.message}, status_code=400
        )
    return Redirect(f"{_base(workspace)}/{endpoint.public_id}?done=saved")


@post("/w/{slug:str}/settings/webhooks/{endpoint_id:str}/rotate", sync_to_thread=True)
def rotate(
    request: Request, slug: FromPath[str], endpoint_id: FromPath[str], db: DB, workspace: CurrentWorkspace
) -> Redirect:
    ws_domain.require_owner(workspace)
    endpoint = _endpoint_or_404(db, workspace, endpoint_id)
    _, secret = endpoints.rotate_secret(db, app_state(request).box, workspace.id, endpoint.public_id)  # type: ignore[misc]
    path = f"{_base(workspace)}/{endpoint.public_id}"
    response = Redirect(path)
    flash_once(response, request, path, "webhook_secret", secret)
    return response


@post("/w/{slug:str}/settings/webhooks/{endpoint_id:str}/test", sync_to_thread=True)
def send_test(
    slug: FromPath[str], endpoint_id: FromPath[str], db: DB, workspace: CurrentWorkspace
) -> Redirect:
    endpoint = _endpoint_or_404(db, workspace, endpoint_id)
    delivery.send_test(db, workspace.id, endpoint.public_id)
    return Redirect(f"{_base(workspace)}/{endpoint.public_id}?done=test")


@post("/w/{slug:str}/settings/webhooks/{endpoint_id:str}/delete", sync_to_thread=True)
def delete(slug: FromPath[str], endpoint_id: FromPath[str], db: DB, workspace: CurrentWorkspace) -> Redirect:
    ws_domain.require_owner(workspace)
    endpoint = _endpoint_or_404(db, workspace, endpoint_id)
    endpoints.delete_endpoint(db, workspace.id, endpoint.public_id)
    return Redirect(_base(workspace))


@post(
    "/w/{slug:str}/settings/webhooks/{endpoint_id:str}/deliveries/{delivery_id:int}/redeliver",
    sync_to_thread=True,
)
def redeliver(
    slug: FromPath[str],
    endpoint_id: FromPath[str],
    delivery_id: FromPath[int],
    db: DB,
    workspace: CurrentWorkspace,
) -> Redirect:
    endpoint = _endpoint_or_404(db, workspace, endpoint_id)
    if delivery.redeliver(db, workspace.id, endpoint.public_id, delivery_id) is None:
        raise NotFound("There is no such delivery for this endpoint.")
    return Redirect(f"{_base(workspace)}/{endpoint.public_id}?done=redeliver")


def _parse_local(value: str | None) -> datetime | None:
    try:
        return clock.parse(
            datetime.fromisoformat((value or "").strip()).replace(tzinfo=None).isoformat() + "+00:00"
        )
    except ValueError:
        return None


@post("/w/{slug:str}/settings/webhooks/{endpoint_id:str}/replay", sync_to_thread=True)
def replay(
    request: Request,
    slug: FromPath[str],
    endpoint_id: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    ws_domain.require_owner(workspace)
    endpoint = _endpoint_or_404(db, workspace, endpoint_id)
    since, until = _parse_local(data.get("since")), _parse_local(data.get("until"))
    problem = None
    if since is None:
        problem = "Give the start of the period, such as 2026-03-01T00:00 (UTC)."
    elif until is None:
        problem = "Give the end of the period, such as 2026-03-02T00:00 (UTC)."
    elif until <= since:
        problem = "The end of the period must come after its start."
    if problem:
        return _detail(request, db, session, workspace, endpoint, errors={"replay": problem}, status_code=400)
    ids = delivery.replay(db, workspace.id, endpoint.public_id, clock.iso(since), clock.iso(until))
    done = "replay" if ids else "replay-none"
    return Redirect(f"{_base(workspace)}/{endpoint.public_id}?done={done}")


handlers = [
    webhooks_page,
    add_endpoint,
    endpoint_page,
    save_endpoint,
    rotate,
    send_test,
    delete,
    redeliver,
    replay,
]
