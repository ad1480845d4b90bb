"""Emails: the send log (every message and what became of it), message views, template
previews with sample data, and the send diagnostic."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from backstop.email import messages
from backstop.email.branding import get_branding
from backstop.email.kinds import KINDS, get_kind, previewable
from backstop.email.render import render_sample
from backstop.web import headers
from backstop.web.admin.common import render
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace
from backstop.web.state import app_state
from backstop.workspaces.errors import NotFound
from jobs.email import enqueue

PAGE_SIZE = 50


def email_frame(html: str) -> Response:
    return Response(content=html, media_type="text/html; charset=utf-8", headers=headers.email_frame())


@get("/w/{slug:str}/emails", sync_to_thread=True)
def send_log(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    status: FromQuery[str | None] = None,
    kind: FromQuery[str | None] = None,
    q: FromQuery[str | None] = None,
    before: FromQuery[int | None] = None,
) -> Template:
    status = status if status in messages.STATUSES else None
    kind = kind if kind in KINDS else None
    rows = messages.list_messages(
        db, workspace.id, status=status, kind=kind, search=(q or "").strip() or None, before_id=before,
        limit=PAGE_SIZE + 1,
    )  # fmt: skip
    settings = app_state(request).settings
    return render(
        request,
        "admin/emails.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="emails",
        rows=rows[:PAGE_SIZE],
        older=rows[PAGE_SIZE - 1]["id"] if len(rows) > PAGE_SIZE else None,
        counts=messages.status_counts(db, workspace.id),
        status=status,
        kind=kind,
        q=q or "",
        kinds=KINDS,
        transport=settings.email_transport,
        notice=request.query_params.get("notice"),
    )


@get("/w/{slug:str}/emails/{message_id:int}", sync_to_thread=True)
def message_page(
    request: Request,
    slug: FromPath[str],
    message_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Template:
    message = messages.get_message(db, workspace.id, message_id)
    return render(
        request,
        "admin/email_message.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="emails",
        m=message,
        kind=KINDS.get(message["kind"]),
        transport=app_state(request).settings.email_transport,
    )


@get("/w/{slug:str}/emails/{message_id:int}/html", sync_to_thread=True)
def message_html(
    slug: FromPath[str], message_id: FromPath[int], db: DB, workspace: CurrentWorkspace
) -> Response:
    return email_frame(messages.get_message(db, workspace.id, message_id)["html"])


@post("/w/{slug:str}/emails/{message_id:int}/send-again", sync_to_thread=True)
def send_again(
    slug: FromPath[str], message_id: FromPath[int], db: DB, workspace: CurrentWorkspace
) -> Redirect:
    messages.get_message(db, workspace.id, message_id)  # another workspace's message is a 404
    if messages.send_again(db, workspace.id, message_id):
        enqueue([message_id])
    return Redirect(f"/w/{workspace.slug}/emails/{message_id}")


@post("/w/{slug:str}/emails/diagnostic", sync_to_thread=True)
def send_diagnostic(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Redirect:
    settings = app_state(request).settings
    queued = messages.queue_email(
        db,
        settings,
        workspace_id=workspace.id,
        kind="diagnostic",
        to_email=session.admin.email,
        context={"transport": settings.email_transport, "sender": _sender_label(db, settings, workspace.id)},
    )
    enqueue([queued.id])
    return Redirect(f"/w/{workspace.slug}/emails/{queued.id}")


def _sender_label(db: DB, settings, workspace_id: int) -> str:
    from backstop.email.send_domains import get_send_domain

    sd = get_send_domain(db, workspace_id)
    if sd is not None:
        return sd.from_address + ("" if sd.status == "verified" else " (not verified yet)")
    return settings.shared_sender or "the outbox"


@get("/w/{slug:str}/emails/templates", sync_to_thread=True)
def templates_page(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    branding = get_branding(db, workspace.id)
    public_url = app_state(request).settings.public_url
    samples = [(k, render_sample(k.key, branding, public_url).subject) for k in previewable()]
    return render(
        request,
        "admin/email_templates.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="emails",
        samples=samples,
    )


@get("/w/{slug:str}/emails/templates/{kind_key:str}", sync_to_thread=True)
def template_preview(
    request: Request,
    slug: FromPath[str],
    kind_key: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Template:
    kind = _kind_or_404(kind_key)
    rendered = render_sample(kind.key, get_branding(db, workspace.id), app_state(request).settings.public_url)
    return render(
        request,
        "admin/email_template.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="emails",
        kind=kind,
        rendered=rendered,
    )


@get("/w/{slug:str}/emails/templates/{kind_key:str}/html", sync_to_thread=True)
def template_html(
    request: Request, slug: FromPath[str], kind_key: FromPath[str], db: DB, workspace: CurrentWorkspace
) -> Response:
    kind = _kind_or_404(kind_key)
    branding = get_branding(db, workspace.id)
    return email_frame(render_sample(kind.key, branding, app_state(request).settings.public_url).html)


def _kind_or_404(key: str):
    try:
        return get_kind(key)
    except ValueError:
        raise NotFound(key)


handlers = [
    send_log,
    send_diagnostic,
    templates_page,
    template_preview,
    template_html,
    message_page,
    message_html,
    send_again,
]
