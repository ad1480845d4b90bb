"""Cancel flows → Analytics, and Simulate: a flow's Draft or a published version walked exactly as
a customer would, with no Stripe call and no session row."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Template

from backstop.cancel_flows import analytics, flows, runtime
from backstop.cancel_flows.runtime import Who
from backstop.web.admin.common import render
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace
from backstop.web.public import cancel, cancel_view
from backstop.workspaces.errors import NotFound

WINDOWS = {"30": 30, "90": 90, "all": None}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def analytics_context(db, workspace_id: int, flow_id: int | None, days: int | None) -> dict[str, Any]:
    arms = analytics.by_arm(db, workspace_id, flow_id, days)
    versions = [a for a in arms if a.key not in ("holdout", "none")]
    comparison = analytics.compare(versions[0], versions[1]) if len(versions) >= 2 else None
    return {
        "funnel": analytics.funnel(db, workspace_id, days=days, flow_id=flow_id),
        "reasons": analytics.reasons(db, workspace_id, days=days, flow_id=flow_id),
        "arms": arms,
        "variants": analytics.by_variant(db, workspace_id, flow_id, days),
        "offers": analytics.by_offer(db, workspace_id, flow_id, days),
        "comparison": comparison,
        "lift": analytics.holdout_lift(arms),
        "pct": _pct,
    }


@get("/w/{slug:str}/cancel-flows/analytics", sync_to_thread=True)
def analytics_page(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    window = request.query_params.get("days", "30")
    if window not in WINDOWS:
        window = "30"
    all_flows = flows.list_flows(db, workspace.id)
    flow_id = None
    raw = request.query_params.get("flow")
    if raw and raw.isdigit():
        flow_id = next((f.id for f in all_flows if f.id == int(raw)), None)
    return render(
        request,
        "admin/cancel_analytics.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="cancel-flows",
        cf_tab="analytics",
        flows=all_flows,
        flow_id=flow_id,
        window=window,
        **analytics_context(db, workspace.id, flow_id, WINDOWS[window]),
    )


# --- Simulate ---------------------------------------------------------------------------------


def _encode(walk: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(walk, separators=(",", ":")).encode()).decode()


def _decode(raw: str | None) -> dict | None:
    if not raw or len(raw) > 20_000:
        return None
    try:
        walk = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except ValueError:
        return None
    keys = {
        "step",
        "path",
        "variants",
        "offers_shown",
        "reason_code",
        "reason_label",
        "free_text",
        "skip_offers",
    }
    if not isinstance(walk, dict) or set(walk) != keys:
        return None
    if not isinstance(walk["variants"], dict) or not isinstance(walk["path"], list):
        return None
    if not isinstance(walk["offers_shown"], list):
        return None
    return walk


@get("/w/{slug:str}/cancel-flows/{flow_id:int}/simulate", sync_to_thread=True)
def simulate_page(
    request: Request,
    slug: FromPath[str],
    flow_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Template:
    """The customer's pages in a phone-sized frame, for the Draft or a published version."""
    record = flows.get_flow(db, workspace.id, flow_id) if 0 < flow_id < 2**63 else None
    if record is None:
        raise NotFound(f"flow {flow_id}")
    versions = flows.versions(db, workspace.id, record.id)
    which = request.query_params.get("version", "draft")
    if not any(str(v.id) == which for v in versions):
        which = "draft"
    return render(
        request,
        "admin/cancel_simulate.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="cancel-flows",
        cf_tab="simulate",
        record=record,
        versions=versions,
        which=which,
        frame=f"/w/{workspace.slug}/cancel-flows/{record.id}/simulate/frame?{urlencode({'version': which})}",
    )


@get("/w/{slug:str}/cancel-flows/{flow_id:int}/simulate/frame", sync_to_thread=True)
def simulate(
    request: Request,
    slug: FromPath[str],
    flow_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Response:
    record = flows.get_flow(db, workspace.id, flow_id) if 0 < flow_id < 2**63 else None
    if record is None:
        raise NotFound(f"flow {flow_id}")
    q = request.query_params
    which = q.get("version", "draft")
    version = None
    if which != "draft":
        version = (
            flows.get_version(db, workspace.id, int(which)) if which.isdigit() and len(which) < 18 else None
        )
        if version is None or version.flow_id != record.id:
            which = "draft"
            version = None
    flow = version.flow if version is not None else record.draft
    label = f"version {version.version} of {record.name}" if version else f"the draft of {record.name}"
    seed = (q.get("as") or "1")[:12]
    who = Who(workspace.id, f"simulated-customer-{seed}", record.id)
    base = f"/w/{workspace.slug}/cancel-flows/{record.id}/simulate/frame"
    restart = f"{base}?{urlencode({'version': which, 'as': seed})}"
    walk = _decode(q.get("state"))
    if walk is None:
        skip = "holdout" if q.get("holdout") == "1" else None
        walk = runtime.new_state(flow, who, skip)
    decision = None
    if q.get("action"):
        walk, decision = runtime.step(
            flow, who, walk, {k: q.get(k) for k in ("action", "step", "reason", "free_text")}
        )
    other = f"{base}?{urlencode({'version': which, 'as': str(int(seed) + 1) if seed.isdigit() else '2'})}"
    simulate_ctx: dict[str, Any] = {
        "label": label,
        "restart": restart,
        "other": other,
        "panel": None,
    }
    if decision is not None:
        action = runtime.plan_action(
            flow,
            decision,
            subscription_id="the customer's subscription",
            reason_code=walk["reason_code"],
            free_text=walk["free_text"],
        )
        simulate_ctx["panel"] = runtime.describe(action, decision)
        view = cancel_view.done_view(
            db,
            workspace.id,
            outcome=decision.outcome,
            offer=decision.offer,
            cancel_at=flow.settings.cancel_at,
            period_end=None,
            result=None,
            return_url=None,
        )
        return cancel.render(request, db, view, workspace_id=workspace.id, embed={}, simulate=simulate_ctx)
    view = cancel_view.step_view(db, workspace.id, flow, walk)
    form = {
        "method": "get",
        "action": base,
        "hidden": {"version": which, "as": seed, "state": _encode(walk), "step": walk["step"] or ""},
    }
    return cancel.render(
        request, db, view, workspace_id=workspace.id, embed={}, form=form, simulate=simulate_ctx
    )


handlers = [analytics_page, simulate_page, simulate]
