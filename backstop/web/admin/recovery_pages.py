"""Recovery: the campaign list with its status filters, one campaign's timeline, and the three
things an admin can do to it by hand (retry now, resend the email, close as abandoned)."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from backstop.recovery import actions, campaigns, holdout, queries, results
from backstop.recovery.model import Campaign
from backstop.recovery.policy import CLASS_LABELS, CLASSES
from backstop.stripe_sync import connection
from backstop.web.admin.common import render
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace
from backstop.web.state import app_state
from backstop.workspaces.errors import NotFound, ValidationError

PAGE_SIZE = 50
NOTICES = {
    "retry": "Retry asked for: it runs now, and its outcome appears in the timeline.",
    "retry-waiting": "A retry you asked for is already waiting to run.",
    "retry-paused": "Retry planned. Recovery is paused, so it runs as soon as you unpause.",
    "resend": "The latest dunning email is queued again.",
    "closed": "Campaign closed as abandoned: Backstop won't retry or email about this invoice again.",
    "closed-handed-back": "Campaign closed as abandoned. Collection is back with Stripe: its automatic retries and emails are on again for this invoice, and it keeps them until the invoice is paid or you void it in Stripe.",
}


@get("/w/{slug:str}/recovery", sync_to_thread=True)
def campaigns_page(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    status: FromQuery[str | None] = None,
    before: FromQuery[int | None] = None,
) -> Template:
    status = status if status in campaigns.STATUSES else None
    rows = queries.list_campaigns(db, workspace.id, status=status, before_id=before, limit=PAGE_SIZE + 1)
    return render(
        request,
        "admin/recovery.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="recovery",
        recovery_tab="campaigns",
        rows=rows[:PAGE_SIZE],
        older=rows[PAGE_SIZE - 1]["id"] if len(rows) > PAGE_SIZE else None,
        paged=before is not None,
        status=status,
        counts=queries.status_counts(db, workspace.id),
        labels=queries.STATUS_LABELS,
        paused_at=campaigns.paused_at(db, workspace.id),
    )


@get("/w/{slug:str}/recovery/results", sync_to_thread=True)
def results_page(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    weekly = results.weekly(db, workspace.id)
    return render(
        request,
        "admin/recovery_results.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="recovery",
        recovery_tab="results",
        ho=holdout.results(db, workspace.id),
        weekly=weekly,
        chart=results.chart(weekly),
        classes=CLASSES,
        class_labels=CLASS_LABELS,
    )


def _detail(
    request: Request,
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    campaign_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Template:
    campaign = queries.get_campaign(db, workspace.id, campaign_id)
    if campaign is None:
        raise NotFound()
    typed = Campaign.from_row(campaign)
    return render(
        request,
        "admin/recovery_detail.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="recovery",
        c=campaign,
        timeline=queries.timeline_entries(db, typed),
        remaining=queries.remaining_steps(db, typed),
        attempts=queries.attempts_of(db, typed.id),
        can_resend=queries.latest_dunning_seq(db, typed) is not None,
        paused_at=campaigns.paused_at(db, workspace.id),
        notice=NOTICES.get(request.query_params.get("done") or ""),
        error=error,
        status_code=status_code,
    )


@get("/w/{slug:str}/recovery/{campaign_id:int}", sync_to_thread=True)
def campaign_page(
    request: Request,
    slug: FromPath[str],
    campaign_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Template:
    return _detail(request, db, session, workspace, campaign_id)


def _back(workspace: CurrentWorkspace, campaign_id: int, done: str) -> Redirect:
    return Redirect(f"/w/{workspace.slug}/recovery/{campaign_id}?done={done}")


@post("/w/{slug:str}/recovery/{campaign_id:int}/retry", sync_to_thread=True)
def retry_now(
    request: Request,
    slug: FromPath[str],
    campaign_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Template | Redirect:
    try:
        added = actions.retry_now(db, workspace.id, campaign_id, session.admin.email)
    except ValidationError as exc:
        return _detail(request, db, session, workspace, campaign_id, error=exc.message, status_code=400)
    if not added:
        return _back(workspace, campaign_id, "retry-waiting")
    if campaigns.paused_at(db, workspace.id):
        return _back(workspace, campaign_id, "retry-paused")
    from jobs.recovery import kick

    kick()
    return _back(workspace, campaign_id, "retry")


@post("/w/{slug:str}/recovery/{campaign_id:int}/resend", sync_to_thread=True)
def resend_email(
    request: Request,
    slug: FromPath[str],
    campaign_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Template | Redirect:
    settings = app_state(request).settings
    try:
        message_id = actions.resend_email(db, settings, workspace.id, campaign_id, session.admin.email)
    except ValidationError as exc:
        return _detail(request, db, session, workspace, campaign_id, error=exc.message, status_code=400)
    from jobs.email import enqueue

    enqueue([message_id])
    target = request.query_params.get("back")
    if target == "overview":
        return Redirect(f"/w/{workspace.slug}/overview?resent={campaign_id}")
    return _back(workspace, campaign_id, "resend")


@post("/w/{slug:str}/recovery/{campaign_id:int}/close", sync_to_thread=True)
def close_campaign(
    request: Request,
    slug: FromPath[str],
    campaign_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Template | Redirect:
    state = app_state(request)

    def gateway_for(workspace_id: int):
        return connection.gateway(db, state.box, state.settings, workspace_id, max_attempts=2, timeout=10.0)

    try:
        handed_back = actions.close_as_abandoned(
            db, workspace.id, campaign_id, session.admin.email, gateway_for
        )
    except ValidationError as exc:
        return _detail(request, db, session, workspace, campaign_id, error=exc.message, status_code=400)
    return _back(workspace, campaign_id, "closed-handed-back" if handed_back else "closed")


def overview_panels(db: DB, workspace_id: int) -> dict:
    """What the Overview shows about recovery: the decline-code mix (as bar widths for the SVG
    chart), stalled campaigns and the latest timeline entries."""
    mix = queries.decline_mix(db, workspace_id)
    top = max((m["n"] for m in mix), default=0)
    for m in mix:
        m["width"] = round(240 * m["n"] / top) if top else 0
    return {
        "mix": mix,
        "mix_total": sum(m["n"] for m in mix),
        "stalled": queries.stalled(db, workspace_id),
        "stalled_days": queries.STALLED_DAYS,
        "activity": queries.recent_activity(db, workspace_id),
    }


handlers = [campaigns_page, results_page, campaign_page, retry_now, resend_email, close_campaign]
