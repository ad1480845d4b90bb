"""Publishing, Versions & traffic, the active flow, approvals, and Settings → Offer policies."""

from __future__ import annotations

import contextlib
import re

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from backstop.cancel_flows import flows
from backstop.cancel_flows.policy import OfferPolicy
from backstop.stripe_sync.prices import recurring_prices
from backstop.web.admin.cancel_flow_pages import NOTICES, _builder, flow_url, flows_base
from backstop.web.admin.common import render
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace, Form
from backstop.workspaces.errors import NotFound, PermissionDenied, ValidationError
from backstop.workspaces.workspaces import require_owner


@post("/w/{slug:str}/cancel-flows/{flow_id:int}/publish", sync_to_thread=True)
def publish(
    request: Request,
    slug: FromPath[str],
    flow_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Template | Redirect:
    record = flows.require_flow(db, workspace.id, flow_id)
    result = flows.publish(db, workspace.id, flow_id, admin_id=session.admin.id)
    if result.status == "refused":
        return _builder(
            request,
            db,
            session,
            workspace,
            record,
            status_code=400,
            errors={
                "publish": f"Not published: {len(result.problems)} thing{'s' if len(result.problems) != 1 else ''} to fix first, listed below."
            },
        )
    if result.status == "pending_approval":
        return Redirect(flow_url(workspace.slug, flow_id, notice="pending"))
    return Redirect(flow_url(workspace.slug, flow_id, notice="published", v=str(result.version.version)))


def _versions_page(
    request, db, session, workspace, record, *, errors=None, values=None, status_code=200
) -> Template:
    vs = flows.versions(db, workspace.id, record.id)
    return render(
        request,
        "admin/cancel_flow_versions.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="cancel-flows",
        cf_tab="versions",
        record=record,
        versions=vs,
        values=values or {},
        errors=errors or {},
        flow_url=flow_url(workspace.slug, record.id),
        approval=next((a for a in flows.pending_approvals(db, workspace.id) if a.flow_id == record.id), None),
        notice=NOTICES.get(request.query_params.get("notice", "")),
        status_code=status_code,
    )


@get("/w/{slug:str}/cancel-flows/{flow_id:int}/versions", sync_to_thread=True)
def versions_page(
    request: Request,
    slug: FromPath[str],
    flow_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Template:
    return _versions_page(request, db, session, workspace, flows.require_flow(db, workspace.id, flow_id))


@post("/w/{slug:str}/cancel-flows/{flow_id:int}/traffic", sync_to_thread=True)
def save_traffic(
    request: Request,
    slug: FromPath[str],
    flow_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    record = flows.require_flow(db, workspace.id, flow_id)
    traffic: dict[int, int] = {}
    errors: dict[str, str] = {}
    for key, raw in data.items():
        if key.startswith("traffic-"):
            try:
                traffic[int(key.removeprefix("traffic-"))] = int(raw.strip() or "0")
            except ValueError:
                errors["traffic"] = "Enter each version's traffic as a whole percent, such as 50."
    try:
        holdout = int((data.get("holdout_percent") or "0").strip())
    except ValueError:
        holdout = -1
    if not errors:
        try:
            flows.set_traffic(db, workspace.id, flow_id, traffic, holdout)
        except ValidationError as exc:
            errors[exc.field or "traffic"] = exc.message
    if errors:
        return _versions_page(
            request, db, session, workspace, record, errors=errors, values=data, status_code=400
        )
    return Redirect(f"{flow_url(workspace.slug, flow_id)}/versions?notice=traffic")


@post("/w/{slug:str}/cancel-flows/{flow_id:int}/activate", sync_to_thread=True)
def activate(
    request: Request,
    slug: FromPath[str],
    flow_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Redirect:
    flows.set_active(db, workspace.id, flow_id)
    return Redirect(f"{flow_url(workspace.slug, flow_id)}/versions?notice=active")


@post("/w/{slug:str}/cancel-flows/{flow_id:int}/delete", sync_to_thread=True)
def delete_flow(
    request: Request,
    slug: FromPath[str],
    flow_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Template | Redirect:
    record = flows.require_flow(db, workspace.id, flow_id)
    try:
        flows.archive_flow(db, workspace.id, flow_id)
    except ValidationError as exc:
        return _versions_page(
            request, db, session, workspace, record, errors={"delete": exc.message}, status_code=400
        )
    return Redirect(flows_base(workspace.slug))


def _decide(request, db, session, workspace, approval_id: int, approve: bool) -> Redirect:
    if not workspace.is_owner:
        raise PermissionDenied(
            "Only an owner of this workspace can approve or reject offers; ask an owner to review it."
        )
    approval = flows.get_approval(db, workspace.id, approval_id)
    if approval is None:
        raise NotFound(approval_id)
    # Decided already (another tab, another owner): show the flow as it is now.
    with contextlib.suppress(ValidationError):
        flows.decide_approval(db, workspace.id, approval_id, approve=approve, admin_id=session.admin.id)
    back = request.query_params.get("back")
    if back == "overview":
        return Redirect(f"/w/{workspace.slug}/overview#needs-title")
    return Redirect(flow_url(workspace.slug, approval.flow_id, notice="approved" if approve else "rejected"))


@post("/w/{slug:str}/approvals/{approval_id:int}/approve", sync_to_thread=True)
def approve(
    request: Request,
    slug: FromPath[str],
    approval_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Redirect:
    return _decide(request, db, session, workspace, approval_id, True)


@post("/w/{slug:str}/approvals/{approval_id:int}/reject", sync_to_thread=True)
def reject(
    request: Request,
    slug: FromPath[str],
    approval_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Redirect:
    return _decide(request, db, session, workspace, approval_id, False)


# --- Settings → Offer policies ---------------------------------------------------------------


def _policy_values(p: OfferPolicy) -> dict:
    return {
        "cooldown_days": p.cooldown_days,
        "max_percent_off": p.max_percent_off if p.max_percent_off is not None else "",
        "max_free_months": p.max_free_months if p.max_free_months is not None else "",
        "max_value": f"{p.max_value_amount / 100:.2f}" if p.max_value_amount is not None else "",
        "max_value_currency": (p.max_value_currency or "").upper(),
    }


def _policy_page(request, db, session, workspace, *, values=None, errors=None, notice=None, status_code=200):
    policy = flows.offer_policy(db, workspace.id)
    currencies = sorted({p.currency.upper() for p in recurring_prices(db, workspace.id)})
    return render(
        request,
        "admin/settings_offer_policies.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="settings",
        subnav="offer-policies",
        policy=policy,
        values=values or _policy_values(policy),
        errors=errors or {},
        notice=notice,
        currencies=currencies,
        status_code=status_code,
    )


@get("/w/{slug:str}/settings/offer-policies", sync_to_thread=True)
def offer_policies_page(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    saved = request.query_params.get("saved")
    return _policy_page(request, db, session, workspace, notice="Offer policies saved." if saved else None)


def _optional_int(data: dict, name: str, errors: dict, message: str) -> int | None:
    raw = (data.get(name) or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        errors[name] = message
        return None


def policy_from_form(data: dict) -> tuple[OfferPolicy, dict[str, str]]:
    errors: dict[str, str] = {}
    cooldown = _optional_int(
        data, "cooldown_days", errors, "Enter the cooldown as a whole number of days, such as 90."
    )
    max_pct = _optional_int(
        data, "max_percent_off", errors, "Enter a whole percent from 1 to 100, or leave it empty."
    )
    max_months = _optional_int(
        data, "max_free_months", errors, "Enter a whole number of months from 0 to 12, or leave it empty."
    )
    amount = None
    raw_value = (data.get("max_value") or "").strip().replace(",", "")
    if raw_value:
        match = re.fullmatch(r"(\d{1,10})(?:\.(\d{1,2}))?", raw_value)
        if match:
            amount = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
        else:
            errors["max_value"] = "Enter the value limit as an amount such as 50 or 49.99, or leave it empty."
    currency = (data.get("max_value_currency") or "").strip().lower() or None
    policy = OfferPolicy(
        cooldown_days=cooldown if cooldown is not None else 0,
        max_percent_off=max_pct,
        max_free_months=max_months,
        max_value_amount=amount,
        max_value_currency=currency if amount is not None else None,
    )
    return policy, errors


@post("/w/{slug:str}/settings/offer-policies", sync_to_thread=True)
def save_offer_policies(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    require_owner(workspace)
    policy, errors = policy_from_form(data)
    if not errors:
        try:
            flows.save_offer_policy(db, workspace.id, policy)
        except ValidationError as exc:
            errors[exc.field or "form"] = exc.message
    if errors:
        return _policy_page(request, db, session, workspace, values=data, errors=errors, status_code=400)
    return Redirect(f"/w/{workspace.slug}/settings/offer-policies?saved=1")


handlers = [
    publish,
    versions_page,
    save_traffic,
    activate,
    delete_flow,
    approve,
    reject,
    offer_policies_page,
    save_offer_policies,
]
