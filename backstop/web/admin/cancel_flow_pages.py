"""Cancel flows: the list with the template gallery, import, and the builder (canvas + side
panel). Publishing, versions, traffic and approvals live in cancel_flow_version_pages."""

from __future__ import annotations

import json
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template

from backstop.cancel_flows import document, editing, flows, templates
from backstop.cancel_flows.document import NODE_LABELS, OFFER_KINDS, OFFER_LABELS, Flow
from backstop.cancel_flows.layout import NODE_H, NODE_W, layout
from backstop.stripe_sync.prices import recurring_prices
from backstop.web.admin.common import render
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace, Form
from backstop.workspaces.errors import NotFound, ValidationError

Upload = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]

NOTICES = {
    "published": "Published v{v}: it now gets all of this flow's traffic.",
    "draft": "Created as a draft: fill in what the list below asks for, then publish.",
    "imported": "Imported as a draft. Check it over, then publish.",
    "pending": "Sent for an owner's approval: its offers go past the workspace's approval threshold.",
    "approved": "Approved and published.",
    "rejected": "Rejected: nothing was published.",
    "traffic": "Traffic saved.",
    "active": "This is now the flow your customers get.",
    "settings": "Flow settings saved.",
    "deleted": "Step deleted. Links that led to it need a new destination.",
}


def flows_base(slug: str) -> str:
    return f"/w/{slug}/cancel-flows"


def flow_url(slug: str, flow_id: int, node: str | None = None, **query: str) -> str:
    url = f"{flows_base(slug)}/{flow_id}"
    params = {**({"node": node} if node else {}), **query}
    if params:
        from urllib.parse import urlencode

        url += "?" + urlencode(params)
    return url


def _summaries(db, workspace_id: int) -> list[dict]:
    pending = {a.flow_id for a in flows.pending_approvals(db, workspace_id)}
    out = []
    for f in flows.list_flows(db, workspace_id):
        vs = flows.versions(db, workspace_id, f.id)
        live = sorted((v for v in vs if v.traffic_percent > 0), key=lambda v: v.version)
        out.append(
            {
                "flow": f,
                "versions": len(vs),
                "live": live,
                "status": "Live" if live else "Draft",
                "changed": bool(vs) and vs[0].document_json != f.draft_json,
                "pending": f.id in pending,
            }
        )
    return out


def _list_page(request, db, session, workspace, *, errors=None, status_code=200) -> Template:
    return render(
        request,
        "admin/cancel_flows.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="cancel-flows",
        cf_tab="flows",
        flows=_summaries(db, workspace.id),
        templates=list(templates.TEMPLATES.values()),
        approvals=flows.pending_approvals(db, workspace.id),
        errors=errors or {},
        notice=NOTICES.get(request.query_params.get("notice", "")),
        status_code=status_code,
    )


@get("/w/{slug:str}/cancel-flows", sync_to_thread=True)
def flows_list(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    return _list_page(request, db, session, workspace)


@post("/w/{slug:str}/cancel-flows/from-template", sync_to_thread=True)
def from_template(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    try:
        used = templates.use_template(db, workspace.id, data.get("template", ""), admin_id=session.admin.id)
    except ValidationError as exc:
        return _list_page(request, db, session, workspace, errors={"template": exc.message}, status_code=400)
    if used.status == "published":
        return Redirect(flow_url(workspace.slug, used.flow.id, notice="published", v=str(used.version)))
    notice = "pending" if used.publish.status == "pending_approval" else "draft"
    return Redirect(flow_url(workspace.slug, used.flow.id, notice=notice))


@post("/w/{slug:str}/cancel-flows/import", sync_to_thread=True)
def import_flow(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Upload,
) -> Template | Redirect:
    upload = data.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _list_page(
            request,
            db,
            session,
            workspace,
            errors={"file": "Choose a .json file exported from Backstop."},
            status_code=400,
        )
    raw = upload.file.read(document.MAX_DOCUMENT_BYTES + 1)
    try:
        flow = document.loads(raw)
    except document.DocumentError as exc:
        return _list_page(
            request, db, session, workspace, errors={"file": f"{upload.filename}: {exc}"}, status_code=400
        )
    record = flows.create_flow(db, workspace.id, flow)
    return Redirect(flow_url(workspace.slug, record.id, notice="imported"))


# --- the builder -----------------------------------------------------------------------------


def node_options(flow: Flow) -> list[tuple[str, str]]:
    out = []
    for n in flow.nodes:
        label = NODE_LABELS[n.type]
        if n.type == "offer" and n.variants:
            label += " · " + OFFER_LABELS[n.variants[0].offer.kind]
        out.append((n.id, f"{label} — {n.id}"))
    return out


def builder_context(db, workspace, record: flows.FlowRecord, flow: Flow, selected: str | None) -> dict:
    problems = document.validate(flow)
    by_node: dict[str, list] = {}
    for p in problems:
        by_node.setdefault(p.node_id or "", []).append(p)
    vs = flows.versions(db, workspace.id, record.id)
    node = flow.node(selected) if selected else None
    return {
        "record": record,
        "flow": flow,
        "canvas": layout(flow),
        "node_w": NODE_W,
        "node_h": NODE_H,
        "problems": problems,
        "problems_by_node": by_node,
        "node_problems": {p.field or "": p.message for p in by_node.get(node.id, [])} if node else {},
        "selected": node,
        "node_options": node_options(flow),
        "versions": vs,
        "live": sorted((v for v in vs if v.traffic_percent > 0), key=lambda v: v.version),
        "changed": bool(vs) and vs[0].document_json != document.to_json(flow),
        "offer_kinds": [(k, OFFER_LABELS[k]) for k in OFFER_KINDS],
        "node_types": list(NODE_LABELS.items()),
        "flow_url": flow_url(workspace.slug, record.id),
        "approval": next(
            (a for a in flows.pending_approvals(db, workspace.id) if a.flow_id == record.id), None
        ),
    }


def _builder(request, db, session, workspace, record, *, status_code=200, errors=None) -> Template:
    selected = request.query_params.get("node") or None
    ctx = builder_context(db, workspace, record, record.draft, selected)
    notice = NOTICES.get(request.query_params.get("notice", ""), "").replace(
        "{v}", request.query_params.get("v", "")
    )
    return render(
        request,
        "admin/cancel_flow_builder.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="cancel-flows",
        cf_tab="builder",
        prices=recurring_prices(db, workspace.id),
        notice=notice or None,
        errors=errors or {},
        status_code=status_code,
        **ctx,
    )


@get("/w/{slug:str}/cancel-flows/{flow_id:int}", sync_to_thread=True)
def builder(
    request: Request,
    slug: FromPath[str],
    flow_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Template:
    record = flows.require_flow(db, workspace.id, flow_id)
    return _builder(request, db, session, workspace, record)


def _autosave(request: Request) -> bool:
    return request.headers.get("x-backstop-autosave") == "1"


def _saved(request, db, session, workspace, record, flow: Flow, node_id: str | None) -> Template | Redirect:
    """After a builder edit: the live fragment for the autosave script, a redirect otherwise."""
    if _autosave(request):
        ctx = builder_context(db, workspace, record, flow, node_id)
        return render(request, "admin/_flow_live.html", workspace=workspace, **ctx)
    return Redirect(flow_url(workspace.slug, record.id, node_id))


@post("/w/{slug:str}/cancel-flows/{flow_id:int}/nodes/{node_id:str}", sync_to_thread=True)
def save_node(
    request: Request,
    slug: FromPath[str],
    flow_id: FromPath[int],
    node_id: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    record = flows.require_flow(db, workspace.id, flow_id)
    try:
        flow = editing.apply_node_form(record.draft, node_id, data)
    except KeyError:
        raise NotFound(node_id)
    record = flows.save_draft(db, workspace.id, flow_id, flow)
    return _saved(request, db, session, workspace, record, flow, node_id)


@post("/w/{slug:str}/cancel-flows/{flow_id:int}/nodes", sync_to_thread=True)
def add_node(
    request: Request,
    slug: FromPath[str],
    flow_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Redirect | Template:
    record = flows.require_flow(db, workspace.id, flow_id)
    try:
        flow, node_id = editing.add_node(record.draft, data.get("type", ""))
    except ValueError as exc:
        return _builder(request, db, session, workspace, record, status_code=400, errors={"type": str(exc)})
    flows.save_draft(db, workspace.id, flow_id, flow)
    return Redirect(flow_url(workspace.slug, flow_id, node_id))


@post("/w/{slug:str}/cancel-flows/{flow_id:int}/nodes/{node_id:str}/delete", sync_to_thread=True)
def delete_node(
    request: Request,
    slug: FromPath[str],
    flow_id: FromPath[int],
    node_id: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Redirect:
    record = flows.require_flow(db, workspace.id, flow_id)
    if record.draft.node(node_id) is None:
        raise NotFound(node_id)
    flows.save_draft(db, workspace.id, flow_id, editing.delete_node(record.draft, node_id))
    return Redirect(flow_url(workspace.slug, flow_id, notice="deleted"))


@post("/w/{slug:str}/cancel-flows/{flow_id:int}/settings", sync_to_thread=True)
def save_settings(
    request: Request,
    slug: FromPath[str],
    flow_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Template | Redirect:
    record = flows.require_flow(db, workspace.id, flow_id)
    flow = editing.apply_settings_form(record.draft, data)
    record = flows.save_draft(db, workspace.id, flow_id, flow)
    if _autosave(request):
        return _saved(request, db, session, workspace, record, flow, None)
    return Redirect(flow_url(workspace.slug, flow_id, notice="settings"))


@get("/w/{slug:str}/cancel-flows/{flow_id:int}/export.json", sync_to_thread=True)
def export_flow(
    request: Request,
    slug: FromPath[str],
    flow_id: FromPath[int],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
) -> Response:
    record = flows.require_flow(db, workspace.id, flow_id)
    doc = record.draft_json
    name = "draft"
    wanted = request.query_params.get("version")
    if wanted:
        version = next(
            (v for v in flows.versions(db, workspace.id, flow_id) if str(v.version) == wanted), None
        )
        if version is None:
            raise NotFound(wanted)
        doc, name = version.document_json, f"v{version.version}"
    filename = f"{workspace.slug}-flow-{flow_id}-{name}.json"
    return Response(
        content=json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


handlers = [
    flows_list,
    from_template,
    import_flow,
    builder,
    save_node,
    add_node,
    delete_node,
    save_settings,
    export_flow,
]
