"""Settings → Portal domain: add a subdomain, copy its CNAME and TXT records, Verify DNS, remove."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from backstop.embed import portal_domains
from backstop.web.admin.common import render
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace, Form
from backstop.web.state import app_state
from backstop.workspaces.errors import ValidationError
from backstop.workspaces.workspaces import require_owner

NOTICES = {
    "added": "Domain added: create the two records below, then Verify DNS.",
    "verified": "Verified: your hosted pages, emailed links and embed.js now use this domain.",
    "waiting": "Not verified yet: see what Backstop found below.",
    "removed": "Domain removed: links on it now show “not found”; new links use this Backstop's address.",
}


def _page(request, db, session, workspace, *, errors=None, form=None, status_code=200) -> Template:
    settings = app_state(request).settings
    return render(
        request,
        "admin/settings_portal_domain.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="settings",
        subnav="portal-domain",
        pd=portal_domains.get(db, workspace.id),
        instance_host=portal_domains.instance_host(settings),
        https_instance=settings.public_url.startswith("https://"),
        errors=errors or {},
        form=form or {},
        notice=NOTICES.get(request.query_params.get("done", "")),
        status_code=status_code,
    )


@get("/w/{slug:str}/settings/portal-domain", sync_to_thread=True)
def portal_domain_page(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    return _page(request, db, session, workspace)


@post("/w/{slug:str}/settings/portal-domain", sync_to_thread=True)
def add_portal_domain(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    require_owner(workspace)
    try:
        portal_domains.add(db, app_state(request).settings, workspace.id, data.get("host", ""))
    except ValidationError as exc:
        return _page(
            request, db, session, workspace, errors={"host": exc.message}, form=data, status_code=400
        )
    return Redirect(f"/w/{workspace.slug}/settings/portal-domain?done=added")


@post("/w/{slug:str}/settings/portal-domain/verify", sync_to_thread=True)
def verify_portal_domain(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Redirect:
    require_owner(workspace)
    found = portal_domains.verify(db, app_state(request).settings, workspace.id)
    done = "verified" if found is not None and found.verified else "waiting"
    return Redirect(f"/w/{workspace.slug}/settings/portal-domain?done={done}")


@post("/w/{slug:str}/settings/portal-domain/remove", sync_to_thread=True)
def remove_portal_domain(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Redirect:
    require_owner(workspace)
    portal_domains.remove(db, workspace.id)
    return Redirect(f"/w/{workspace.slug}/settings/portal-domain?done=removed")


handlers = [portal_domain_page, add_portal_domain, verify_portal_domain, remove_portal_domain]
