"""Settings → Send domain: add a subdomain, copy its three CNAMEs, Verify DNS, remove it."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from backstop.email import messages, providers, send_domains
from backstop.web.admin.common import render
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace, Form
from backstop.web.state import app_state
from backstop.workspaces.errors import ValidationError
from backstop.workspaces.workspaces import require_owner
from jobs.email import enqueue


def _page(
    request: Request,
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    *,
    errors: dict | None = None,
    form: dict | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Template:
    settings = app_state(request).settings
    held = messages.held_summary(db, workspace.id)
    return render(
        request,
        "admin/settings_send_domain.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="settings",
        subnav="send-domain",
        sd=send_domains.get_send_domain(db, workspace.id),
        transport=settings.email_transport,
        shared_sender=settings.shared_sender,
        held=held["n"] if held else 0,
        held_reason=held["reason"] if held else None,
        errors=errors or {},
        form=form or {},
        notice=notice,
        status_code=status_code,
    )


@get("/w/{slug:str}/settings/send-domain", sync_to_thread=True)
def send_domain_page(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    notices = {
        "verified": "Verified: mail now goes out from your domain.",
        "removed": "Domain removed: mail goes out from the shared sender.",
    }
    return _page(request, db, session, workspace, notice=notices.get(request.query_params.get("done", "")))


@post("/w/{slug:str}/settings/send-domain", sync_to_thread=True)
def add_send_domain(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    require_owner(workspace)
    settings = app_state(request).settings
    if settings.email_transport != "ses":
        return _page(
            request, db, session, workspace, status_code=400,
            errors={"domain": "Custom send domains use Amazon SES Easy DKIM: the operator sets "
                    "BACKSTOP_EMAIL_TRANSPORT=ses first."},
            form=data,
        )  # fmt: skip
    try:
        send_domains.add_domain(
            db,
            providers.domain_identities(settings),
            workspace.id,
            data.get("domain", ""),
            data.get("from_local", ""),
        )
    except ValidationError as exc:
        return _page(
            request,
            db,
            session,
            workspace,
            errors={exc.field or "domain": exc.message},
            form=data,
            status_code=400,
        )
    return Redirect(f"/w/{workspace.slug}/settings/send-domain")


@post("/w/{slug:str}/settings/send-domain/verify", sync_to_thread=True)
def verify_send_domain(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template | Redirect:
    settings = app_state(request).settings
    sd, released = send_domains.verify_domain(
        db, providers.domain_identities(settings), providers.dns_resolver(settings), workspace.id
    )
    enqueue(released)
    if sd.status == "verified":
        return Redirect(f"/w/{workspace.slug}/settings/send-domain?done=verified")
    return _page(request, db, session, workspace)


@post("/w/{slug:str}/settings/send-domain/remove", sync_to_thread=True)
def remove_send_domain(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template | Redirect:
    require_owner(workspace)
    settings = app_state(request).settings
    try:
        released = send_domains.remove_domain(db, providers.domain_identities(settings), workspace.id)
    except ValidationError as exc:
        return _page(request, db, session, workspace, errors={"remove": exc.message}, status_code=502)
    enqueue(released)
    return Redirect(f"/w/{workspace.slug}/settings/send-domain?done=removed")


handlers = [send_domain_page, add_send_domain, verify_send_domain, remove_send_domain]
