"""Settings for recovery: Retry policy (the rules as a table, and their form), Email settings
(when the four dunning emails go out and what they say, with a preview), Pause recovery."""

from __future__ import annotations

import json

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from backstop.db import write_transaction
from backstop.email.branding import get_branding
from backstop.email.kinds import get_kind
from backstop.email.render import render_email
from backstop.lib.forms import FieldErrors
from backstop.recovery import backtest, campaigns, dunning_copy, holdout, pause, winback
from backstop.recovery.policy import (
    CEILING_WORDS,
    CLASS_LABELS,
    CLASSES,
    TERMINAL_ACTIONS,
    parse_dunning_days,
    parse_retry_policy,
    policy_form,
    policy_table,
)
from backstop.web.admin.common import recovery_paused, render
from backstop.web.admin.email_pages import email_frame
from backstop.web.admin.forms import SettingsPage
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace, Form
from backstop.web.state import app_state
from backstop.workspaces.workspaces import require_owner


def _policy_context(db, workspace) -> dict:
    policy = campaigns.get_policy(db, workspace.id)
    return {
        "policy": policy,
        "table": policy_table(policy),
        "values": policy_form(policy),
        "terminal_actions": TERMINAL_ACTIONS,
        "classes": CLASSES,
        "class_labels": CLASS_LABELS,
        "ceilings": CEILING_WORDS,
    }


RETRY_POLICY = SettingsPage("admin/settings_retry_policy.html", "retry-policy", _policy_context)


@get("/w/{slug:str}/settings/retry-policy", sync_to_thread=True)
def retry_policy_page(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    return RETRY_POLICY.saved(request, db, session, workspace, "Retry policy saved.")


@post("/w/{slug:str}/settings/retry-policy", sync_to_thread=True)
def save_retry_policy(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    require_owner(workspace)
    try:
        policy = parse_retry_policy(campaigns.get_policy(db, workspace.id), data)
    except FieldErrors as exc:
        ticks = {name: data.get(name) == "1" for name in ("retry_on_new_card", "let_stripe_retry")}
        return RETRY_POLICY.invalid(request, db, session, workspace, exc, values={**data, **ticks})
    with write_transaction(db):
        campaigns.save_policy(db, workspace.id, policy)
    return Redirect(f"/w/{workspace.slug}/settings/retry-policy?saved=1")


@post("/w/{slug:str}/settings/retry-policy/preview", sync_to_thread=True)
def preview_retry_policy(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template:
    """The saved policy and the draft in the form, replayed on the last 90 days; saves nothing."""
    ticks = {name: data.get(name) == "1" for name in ("retry_on_new_card", "let_stripe_retry")}
    saved = campaigns.get_policy(db, workspace.id)
    try:
        draft = parse_retry_policy(saved, data)
    except FieldErrors as exc:
        return RETRY_POLICY.invalid(request, db, session, workspace, exc, values={**data, **ticks})
    comparison = backtest.backtest(db, workspace.id, draft, days=backtest.DEFAULT_DAYS, current=saved)
    return RETRY_POLICY.show(
        request,
        db,
        session,
        workspace,
        values={**data, **ticks},
        preview=comparison,
        preview_rows=backtest.summary_rows(comparison),
        preview_same=draft == saved,
        limits=backtest.LIMITS,
    )


@get("/w/{slug:str}/settings/retry-policy.json", sync_to_thread=True)
def download_retry_policy(db: DB, session: CurrentSession, workspace: CurrentWorkspace) -> Response:
    """The saved policy as a policy file, for ``backstop recovery backtest --policy``."""
    body = json.dumps(json.loads(campaigns.get_policy(db, workspace.id).to_json()), indent=2) + "\n"
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="retry-policy-{workspace.slug}.json"'},
    )


# -- Email settings -----------------------------------------------------------------------------


def _email_context(db, workspace) -> dict:
    policy = campaigns.get_policy(db, workspace.id)
    winback_days, winback_coupon = winback.settings_for(db, workspace.id)
    return {
        "days": list(policy.dunning_days),
        "copy": dunning_copy.get_all(db, workspace.id),
        "defaults": {step: get_kind(f"dunning_{step}") for step in dunning_copy.STEPS},
        "default_subjects": {step: _default_subject(step, workspace.name) for step in dunning_copy.STEPS},
        "winback": {"winback_days": winback_days, "winback_coupon": winback_coupon or ""},
        "holdout": _holdout_values(holdout.get_percent(db, workspace.id)),
        "holdout_range": holdout.PERCENT_RANGE,
    }


def _holdout_values(percent: int | None) -> dict:
    return {"holdout_on": percent is not None, "holdout_percent": percent or holdout.DEFAULT_PERCENT}


EMAIL_SETTINGS = SettingsPage("admin/settings_email.html", "email-settings", _email_context)


@get("/w/{slug:str}/settings/email", sync_to_thread=True)
def email_settings_page(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    return EMAIL_SETTINGS.saved(request, db, session, workspace, "Email settings saved.")


@post("/w/{slug:str}/settings/email", sync_to_thread=True)
def save_email_settings(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    require_owner(workspace)
    errors = FieldErrors()
    try:
        policy = parse_dunning_days(campaigns.get_policy(db, workspace.id), data, dunning_copy.STEPS)
    except FieldErrors as exc:
        errors.update(exc)
    try:
        copy = dunning_copy.parse(data)
    except FieldErrors as exc:
        errors.update(exc)
        copy = dunning_copy.read_submitted(data)
    if errors:
        days = [data.get(f"day_{step}", "") for step in dunning_copy.STEPS]
        return EMAIL_SETTINGS.invalid(request, db, session, workspace, errors, days=days, copy=copy)
    with write_transaction(db):
        campaigns.save_policy(db, workspace.id, policy)
        dunning_copy.save(db, workspace.id, copy)
    return Redirect(f"/w/{workspace.slug}/settings/email?saved=1")


@post("/w/{slug:str}/settings/email/winback", sync_to_thread=True)
def save_winback_settings(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    require_owner(workspace)
    form = {"winback_days": data.get("winback_days", ""), "winback_coupon": data.get("winback_coupon", "")}
    try:
        days, coupon = campaigns.parse_winback_settings(form)
    except FieldErrors as exc:
        return EMAIL_SETTINGS.invalid(request, db, session, workspace, exc, winback=form)
    campaigns.save_winback_settings(db, workspace.id, days, coupon)
    return Redirect(f"/w/{workspace.slug}/settings/email?saved=1#winback")


@post("/w/{slug:str}/settings/email/holdout", sync_to_thread=True)
def save_holdout_settings(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    require_owner(workspace)
    try:
        percent = holdout.parse_form(data)
    except FieldErrors as exc:
        values = {
            "holdout_on": data.get("holdout_on") == "1",
            "holdout_percent": data.get("holdout_percent", ""),
        }
        return EMAIL_SETTINGS.invalid(request, db, session, workspace, exc, holdout=values)
    with write_transaction(db):
        holdout.save_percent(db, workspace.id, percent)
    return Redirect(f"/w/{workspace.slug}/settings/email?saved=1#holdout")


@get("/w/{slug:str}/settings/email/preview", sync_to_thread=True)
def email_settings_preview(
    request: Request, slug: FromPath[str], db: DB, workspace: CurrentWorkspace
) -> Response:
    """One dunning email with sample data and the saved copy (or the copy in the query)."""
    params = request.query_params
    step = int(params["step"]) if params.get("step") in ("1", "2", "3", "4") else 1
    saved = dunning_copy.get_all(db, workspace.id)[step]
    form = {
        f"subject_{step}": params.get("subject", saved["subject"]),
        f"intro_{step}": params.get("intro", saved["intro"]),
    }
    try:
        copy = dunning_copy.parse(form)[step]
    except FieldErrors:
        copy = {}
    kind = get_kind(f"dunning_{step}")
    public_url = app_state(request).settings.public_url
    rendered = render_email(
        kind.key,
        {
            **kind.sample,
            "customer_name": "Sam",
            "subject_line": copy.get("subject") or None,
            "intro": copy.get("intro") or None,
        },
        get_branding(db, workspace.id),
        public_url,
        f"{public_url}/u/preview",
    )
    subject_bar = f'<p style="font:14px sans-serif;margin:8px"><b>Subject:</b> {_esc(rendered.subject)}</p>'
    return email_frame(subject_bar + rendered.html)


def _esc(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def _default_subject(step: int, company: str) -> str:
    from jinja2 import Environment

    # Plain text for a placeholder attribute; the page escapes it when it renders.
    env = Environment(autoescape=False)  # noqa: S701
    return env.from_string(get_kind(f"dunning_{step}").subject).render(company=company)


# -- Pause recovery -----------------------------------------------------------------------------


@get("/w/{slug:str}/settings/pause-recovery", sync_to_thread=True)
def pause_page(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    waiting = pause.waiting(db, workspace.id)
    return render(
        request,
        "admin/settings_pause.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="settings",
        subnav="pause-recovery",
        paused=recovery_paused(db, workspace.id),
        waiting=waiting,
        waiting_total=sum(w["count"] for w in waiting),
        done=request.query_params.get("done"),
    )


@post("/w/{slug:str}/settings/pause-recovery", sync_to_thread=True)
def set_pause(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Redirect:
    require_owner(workspace)
    if data.get("paused") == "1":
        pause.pause(db, workspace.id, by=session.admin.email)
    else:
        from jobs.recovery import run_released

        released = pause.resume(db, workspace.id)
        if released:  # what came due while paused goes out now, in the order it came due
            run_released(workspace.id, [[r.table, r.id] for r in released])
    done = "paused" if data.get("paused") == "1" else "resumed"
    return Redirect(f"/w/{workspace.slug}/settings/pause-recovery?done={done}")


handlers = [
    retry_policy_page,
    save_retry_policy,
    preview_retry_policy,
    download_retry_policy,
    email_settings_page,
    save_email_settings,
    save_winback_settings,
    save_holdout_settings,
    email_settings_preview,
    pause_page,
    set_pause,
]
