"""Settings → Data: download everything the workspace holds as a zip (owners)."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Stream, Template

from backstop import export
from backstop.web.admin.common import render
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace, Form
from backstop.web.state import app_state
from backstop.workspaces.workspaces import require_owner


def _page(
    request: Request,
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    *,
    errors: dict | None = None,
    status_code: int = 200,
) -> Template:
    return render(
        request,
        "admin/settings_data.html",
        db=db,
        session=session,
        workspace=workspace,
        nav="settings",
        subnav="data",
        files=export.tables(db, workspace.id),
        errors=errors or {},
        status_code=status_code,
    )


@get("/w/{slug:str}/settings/data", sync_to_thread=True)
def data_page(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    return _page(request, db, session, workspace)


@post("/w/{slug:str}/settings/data/export", status_code=200, sync_to_thread=True)
def download_export(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Stream | Template:
    require_owner(workspace)
    fmt = data.get("format", "csv")
    if fmt not in export.FORMATS:
        errors = {"format": "Choose CSV or JSON Lines for the export's files."}
        return _page(request, db, session, workspace, errors=errors, status_code=400)
    target = export.Workspace(workspace.id, workspace.slug, workspace.name)
    return Stream(
        export.stream_zip(app_state(request).settings.db_path, target, fmt),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{export.zip_name(target, fmt)}"',
            "Cache-Control": "no-store",
        },
    )


handlers = [data_page, download_export]
