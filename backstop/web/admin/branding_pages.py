"""Settings → Email branding: logo, brand colour, from name, reply-to, footer, page theme, and
a live preview of a dunning email with the values in the form."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template

from backstop.db import write_transaction
from backstop.email import branding as brand
from backstop.email.render import render_sample
from backstop.lib.forms import FieldErrors
from backstop.web.admin.email_pages import email_frame
from backstop.web.admin.forms import SettingsPage
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace
from backstop.web.state import app_state
from backstop.workspaces.workspaces import require_owner

# Room for a logo well past the limit, so an oversized file gets a sentence, not a bare 413.
UPLOAD_BODY_LIMIT = 8 * 1024 * 1024
Multipart = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
PREVIEW_KINDS = ("dunning_1", "payment_recovered", "winback")


def _context(db, workspace) -> dict:
    current = brand.get_branding(db, workspace.id)
    return {"branding": current, "values": _as_form(current), "logo_limit_kb": brand.LOGO_MAX_BYTES // 1024}


BRANDING = SettingsPage("admin/settings_email_branding.html", "email-branding", _context)


@get("/w/{slug:str}/settings/email-branding", sync_to_thread=True)
def branding_page(
    request: Request, slug: FromPath[str], db: DB, session: CurrentSession, workspace: CurrentWorkspace
) -> Template:
    return BRANDING.saved(request, db, session, workspace, "Branding saved.")


@post("/w/{slug:str}/settings/email-branding", sync_to_thread=True, request_max_body_size=UPLOAD_BODY_LIMIT)
def save_branding(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Multipart,
) -> Template | Redirect:
    require_owner(workspace)
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    errors = FieldErrors()
    try:
        brand.parse_branding(form)
    except FieldErrors as exc:
        errors.update(exc)
    logo = data.get("logo")
    logo_bytes = b""
    if isinstance(logo, UploadFile) and logo.filename:
        logo_bytes = logo.file.read()  # bounded by UPLOAD_BODY_LIMIT
        try:
            brand.check_logo(logo_bytes, logo.filename)
        except FieldErrors as exc:
            errors.update(exc)
    if errors:
        return BRANDING.invalid(request, db, session, workspace, errors, values=form)
    with write_transaction(db):
        brand.save_branding(db, workspace.id, form)
        if logo_bytes:
            brand.set_logo(db, workspace.id, logo_bytes, logo.filename)  # type: ignore[union-attr]
    return Redirect(f"/w/{workspace.slug}/settings/email-branding?saved=1")


@post("/w/{slug:str}/settings/email-branding/remove-logo", sync_to_thread=True)
def remove_logo(slug: FromPath[str], db: DB, workspace: CurrentWorkspace) -> Redirect:
    require_owner(workspace)
    brand.remove_logo(db, workspace.id)
    return Redirect(f"/w/{workspace.slug}/settings/email-branding?saved=1")


@get("/w/{slug:str}/settings/email-branding/preview", sync_to_thread=True)
def branding_preview(request: Request, slug: FromPath[str], db: DB, workspace: CurrentWorkspace) -> Response:
    """The preview frame: saved branding with any valid values from the query on top."""
    current = brand.get_branding(db, workspace.id)
    params = dict(request.query_params)
    overrides = brand.preview_values({**_as_form(current), **params})
    kind = params.get("kind") if params.get("kind") in PREVIEW_KINDS else PREVIEW_KINDS[0]
    preview = replace(current, **overrides)
    return email_frame(render_sample(kind, preview, app_state(request).settings.public_url).html)


def _as_form(b: brand.Branding) -> dict[str, str]:
    return {
        "from_name": b.from_name or "",
        "reply_to": b.reply_to or "",
        "brand_color": b.brand_color,
        "footer": b.footer or "",
        "theme": b.theme,
    }


handlers = [branding_page, save_branding, remove_logo, branding_preview]
