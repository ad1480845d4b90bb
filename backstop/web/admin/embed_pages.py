"""Cancel flows → Embed on your site: the snippet, modal or redirect, signer samples, the token
check, and whether Stripe's own portal still lets customers cancel (checklist step 4)."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from backstop.embed import origins, portal_domains, snippets, stripe_portal
from backstop.stripe_sync import connection
from backstop.web.admin.common import render
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace
from backstop.web.state import app_state


def _gateway_for(request: Request, db):
    state = app_state(request)
    return lambda workspace_id: connection.gateway(
        db, state.box, state.settings, workspace_id, max_attempts=1, timeout=6.0
    )


@get("/w/{slug:str}/cancel-flows/embed", sync_to_thread=True)
def embed_page(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    settings = app_state(request).settings
    connected = connection.get(db, workspace.id) is not None
    portal_state = stripe_portal.check_if_stale(
        db, workspace.id, _gateway_for(request, db) if connected else None
    )
    base = portal_domains.public_base(db, settings, workspace.id).rstrip("/")
    mode = request.query_params.get("mode", "modal")
    return render(
        request,
        "admin/cancel_flows_embed.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="cancel-flows",
        cf_tab="embed",
        open_mode=mode if mode in ("modal", "redirect") else "modal",
        embed_base=base,
        modal_snippet=snippets.modal(base),
        redirect_snippet=snippets.redirect(base),
        curl_check=snippets.curl_check(base),
        signers=[("Python", snippets.signer("python")), ("Node", snippets.signer("node"))],
        origins=origins.list_origins(db, workspace.id),
        portal_state=portal_state,
        connected=connected,
        step_done=workspace.embed_step_done_at is not None
        or stripe_portal.step_done_by_itself(db, workspace.id),
        stripe_portal_path=stripe_portal.SETTINGS_PATH,
    )


@post("/w/{slug:str}/cancel-flows/embed/check-stripe-portal", sync_to_thread=True)
def recheck_stripe_portal(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Redirect:
    if connection.get(db, workspace.id) is not None:
        stripe_portal.check(db, workspace.id, _gateway_for(request, db))
    return Redirect(f"/w/{workspace.slug}/cancel-flows/embed#stripe-portal")


handlers = [embed_page, recheck_stripe_portal]
