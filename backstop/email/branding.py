"""Email branding per workspace: logo, brand colour, from name, reply-to, footer, page theme."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sqlite_utils import Database

from backstop import clock
from backstop.db import one
from backstop.email.policy import header_problem, valid_address
from backstop.lib.forms import FieldErrors
from backstop.workspaces.errors import ValidationError

LOGO_MAX_BYTES = 200 * 1024
THEMES = ("auto", "light", "dark")
DEFAULT_COLOR = "#3b5bdb"
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
LOGO_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif"}


@dataclass(frozen=True)
class Branding:
    workspace_id: int
    company: str  # the workspace's name: what customers know the product by
    from_name: str | None = None
    reply_to: str | None = None
    brand_color: str = DEFAULT_COLOR
    footer: str | None = None
    theme: str = "auto"
    logo_sha: str | None = None
    logo_type: str | None = None

    @property
    def display_name(self) -> str:
        return self.from_name or self.company

    def logo_path(self) -> str | None:
        if not self.logo_sha or not self.logo_type:
            return None
        return f"/brand/logo/{self.logo_sha}.{LOGO_TYPES[self.logo_type]}"


def get_branding(db: Database, workspace_id: int) -> Branding:
    ws = one(db, "SELECT name FROM workspaces WHERE id = ?", [workspace_id])
    row = one(
        db,
        "SELECT from_name, reply_to, brand_color, footer, theme, logo_sha, logo_type "
        "FROM email_branding WHERE workspace_id = ?",
        [workspace_id],
    )
    return Branding(workspace_id=workspace_id, company=ws["name"] if ws else "", **(row or {}))


def parse_branding(form: dict[str, str]) -> dict[str, str | None]:
    """The branding form's values; raises ``FieldErrors``."""
    values, errors = _read_branding(form)
    errors.raise_if_any()
    return values


def preview_values(form: dict[str, str]) -> dict[str, str | None]:
    """The form's values that are valid (a live preview shows those and keeps the rest)."""
    values, errors = _read_branding(form)
    return {k: v for k, v in values.items() if k not in errors}


def _read_branding(form: dict[str, str]) -> tuple[dict[str, str | None], FieldErrors]:
    errors = FieldErrors()
    from_name = " ".join((form.get("from_name") or "").split(" ")).strip()
    if from_name and (problem := header_problem(from_name, "from name", 80)):
        errors.errors["from_name"] = problem
    reply_to = (form.get("reply_to") or "").strip()
    if reply_to and (header_problem(reply_to, "reply-to address") or not valid_address(reply_to)):
        errors.errors["reply_to"] = (
            f"“{reply_to[:80]}” isn't an email address; use one such as support@yourcompany.com."
        )
    color = (form.get("brand_color") or DEFAULT_COLOR).strip()
    if not COLOR_RE.match(color):
        errors.errors["brand_color"] = "Use a colour like #3b5bdb (a # and six hex digits)."
    footer = (form.get("footer") or "").strip().replace("\r\n", "\n")
    if len(footer) > 500:
        errors.errors["footer"] = "Keep the footer under 500 characters."
    theme = (form.get("theme") or "auto").strip()
    if theme not in THEMES:
        errors.errors["theme"] = "Pick light, dark or auto (follows the customer's device)."
    values = {
        "from_name": from_name or None,
        "reply_to": reply_to.lower() or None,
        "brand_color": color.lower(),
        "footer": footer or None,
        "theme": theme,
    }
    return values, errors


def save_branding(db: Database, workspace_id: int, form: dict[str, str]) -> Branding:
    values = parse_branding(form)
    db.execute(
        "INSERT INTO email_branding (workspace_id, from_name, reply_to, brand_color, footer, theme, "
        "updated_at) VALUES (:ws, :from_name, :reply_to, :brand_color, :footer, :theme, :now) "
        "ON CONFLICT (workspace_id) DO UPDATE SET from_name = :from_name, reply_to = :reply_to, "
        "brand_color = :brand_color, footer = :footer, theme = :theme, updated_at = :now",
        {**values, "ws": workspace_id, "now": clock.iso()},
    )
    return get_branding(db, workspace_id)


def sniff_image(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def check_logo(data: bytes, filename: str = "") -> str:
    """The logo's content type, or a ValidationError that says what to upload instead."""
    if not data:
        raise ValidationError("Choose an image file to upload.", "logo")
    if len(data) > LOGO_MAX_BYTES:
        raise ValidationError(
            f"That image is {len(data) / 1024:,.0f} KB; upload one under {LOGO_MAX_BYTES // 1024} KB "
            "(a logo 400 pixels wide is plenty for email).",
            "logo",
        )
    kind = sniff_image(data)
    if kind is None:
        head = data[:256].lstrip().lower()
        what = "an SVG" if b"<svg" in head or head.startswith(b"<?xml") else "not an image Backstop can use"
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            what = "a WebP image, which many email apps don't show"
        raise ValidationError(f"That file is {what}; upload a PNG, JPEG or GIF.", "logo")
    return kind


def set_logo(db: Database, workspace_id: int, data: bytes, filename: str = "") -> Branding:
    kind = check_logo(data, filename)
    # The logo's public address is a hash of the workspace and the file: a new logo gets a new
    # address (mail clients cache images), and two workspaces with one file still differ.
    sha = hashlib.sha256(f"{workspace_id}:".encode() + data).hexdigest()[:32]
    db.execute(
        "INSERT INTO email_branding (workspace_id, logo, logo_type, logo_sha, updated_at) "
        "VALUES (:ws, :logo, :type, :sha, :now) ON CONFLICT (workspace_id) DO UPDATE SET "
        "logo = :logo, logo_type = :type, logo_sha = :sha, updated_at = :now",
        {"ws": workspace_id, "logo": data, "type": kind, "sha": sha, "now": clock.iso()},
    )
    return get_branding(db, workspace_id)


def remove_logo(db: Database, workspace_id: int) -> None:
    db.execute(
        "UPDATE email_branding SET logo = NULL, logo_type = NULL, logo_sha = NULL, updated_at = ? "
        "WHERE workspace_id = ?",
        [clock.iso(), workspace_id],
    )


def logo_by_sha(db: Database, sha: str) -> tuple[bytes, str] | None:
    row = one(db, "SELECT logo, logo_type FROM email_branding WHERE logo_sha = ?", [sha])
    if row is None or row["logo"] is None:
        return None
    return bytes(row["logo"]), row["logo_type"]
