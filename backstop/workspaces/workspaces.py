"""Workspaces (one Stripe account in one mode + its settings) and who may use them."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlite_utils import Database

from backstop import clock
from backstop.db import all_rows, one, write_transaction
from backstop.lib.crypto import SecretBox, random_token
from backstop.workspaces.admins import Admin, create_admin, find_admin_by_email, normalise_email
from backstop.workspaces.errors import NotFound, PermissionDenied, ValidationError

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
RESERVED_SLUGS = {"new", "admin", "api", "static", "login", "logout", "setup", "settings", "w"}
ROLES = ("owner", "member")


@dataclass(frozen=True)
class Workspace:
    id: int
    slug: str
    name: str
    role: str  # the viewing admin's role
    embed_step_done_at: str | None

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:40].strip("-")


def has_control_characters(text: str) -> bool:
    """Invisible characters (NUL, escape sequences…) that no one means to type in a name."""
    return any(unicodedata.category(c) == "Cc" for c in text)


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("Give the workspace a name, such as your product's name.", "name")
    if has_control_characters(name):
        raise ValidationError("Remove the invisible control characters from the name.", "name")
    if len(name) > 80:
        raise ValidationError("Keep the name under 80 characters.", "name")
    return name


def validate_slug(slug: str) -> str:
    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug):
        raise ValidationError(
            "Use 1–40 lowercase letters, digits and dashes, starting and ending with a letter "
            "or digit (it appears in URLs and the embed snippet).",
            "slug",
        )
    if slug in RESERVED_SLUGS:
        raise ValidationError(f"“{slug}” is reserved; pick another slug.", "slug")
    return slug


def workspace_name_problem(name: str) -> str | None:
    """Why a workspace can't be made from this name alone (its slug made from it), or None."""
    try:
        cleaned = _clean_name(name)
    except ValidationError as exc:
        return exc.message
    slug = slugify(cleaned) or "workspace"
    if slug in RESERVED_SLUGS:
        return f"Its address would be /w/{slug}, which Backstop keeps for itself; add a word to the name."
    return None


def new_embed_secret() -> str:
    return "es_" + random_token(32)


def create_workspace(
    db: Database, box: SecretBox, name: str, owner: Admin | None, slug: str | None = None
) -> tuple[Workspace, str]:
    """Create a workspace; return it and its embed secret in clear (shown to the admin)."""
    name = _clean_name(name)
    slug = validate_slug(slug if slug else slugify(name) or "workspace")
    secret = new_embed_secret()
    with write_transaction(db):
        if one(db, "SELECT id FROM workspaces WHERE slug = ?", [slug]):
            raise ValidationError(f"The slug “{slug}” is taken; pick another.", "slug")
        cur = db.execute(
            "INSERT INTO workspaces (slug, name, embed_secret_enc, created_at) VALUES (?, ?, ?, ?)",
            [slug, name, box.encrypt(secret), clock.iso()],
        )
        if owner is not None:
            db.execute(
                "INSERT INTO workspace_members (workspace_id, admin_id, role, created_at) "
                "VALUES (?, ?, 'owner', ?)",
                [cur.lastrowid, owner.id, clock.iso()],
            )
    return Workspace(cur.lastrowid, slug, name, "owner", None), secret


_SELECT = (
    "SELECT w.id, w.slug, w.name, m.role, w.embed_step_done_at FROM workspaces w "
    "JOIN workspace_members m ON m.workspace_id = w.id AND m.admin_id = ?"
)


def workspaces_for(db: Database, admin: Admin) -> list[Workspace]:
    return [Workspace(**r) for r in all_rows(db, _SELECT + " ORDER BY w.name COLLATE NOCASE", [admin.id])]


def workspace_for(db: Database, admin: Admin, slug: str) -> Workspace:
    """The workspace if this admin is a member; NotFound otherwise (no hint that it exists)."""
    row = one(db, _SELECT + " WHERE w.slug = ?", [admin.id, slug])
    if row is None:
        raise NotFound(slug)
    return Workspace(**row)


def get_workspace_by_slug(db: Database, slug: str) -> dict | None:
    return one(db, "SELECT id, slug, name FROM workspaces WHERE slug = ?", [slug])


def require_owner(ws: Workspace) -> None:
    if not ws.is_owner:
        raise PermissionDenied("Only an owner of this workspace can do that.")


def rename_workspace(db: Database, ws: Workspace, name: str) -> None:
    require_owner(ws)
    db.execute("UPDATE workspaces SET name = ? WHERE id = ?", [_clean_name(name), ws.id])


def embed_secret(db: Database, box: SecretBox, workspace_id: int) -> str:
    row = one(db, "SELECT embed_secret_enc FROM workspaces WHERE id = ?", [workspace_id])
    if row is None:
        raise NotFound(workspace_id)
    return box.decrypt(row["embed_secret_enc"])


def rotate_embed_secret(db: Database, box: SecretBox, ws: Workspace) -> str:
    require_owner(ws)
    secret = new_embed_secret()
    db.execute(
        "UPDATE workspaces SET embed_secret_enc = ?, embed_secret_rotated_at = ? WHERE id = ?",
        [box.encrypt(secret), clock.iso(), ws.id],
    )
    return secret


def set_embed_step_done(db: Database, ws: Workspace, done: bool) -> None:
    db.execute(
        "UPDATE workspaces SET embed_step_done_at = ? WHERE id = ?",
        [clock.iso() if done else None, ws.id],
    )


def members(db: Database, ws: Workspace) -> list[dict]:
    return all_rows(
        db,
        "SELECT a.id, a.email, m.role, m.created_at, a.last_login_at FROM workspace_members m "
        "JOIN admins a ON a.id = m.admin_id WHERE m.workspace_id = ? ORDER BY a.email",
        [ws.id],
    )


def add_member(db: Database, ws: Workspace, email: str, role: str, password: str | None = None) -> Admin:
    """Add an admin to the workspace, creating the account when the email is new."""
    require_owner(ws)
    if role not in ROLES:
        raise ValidationError("Pick a role: owner or member.", "role")
    email = normalise_email(email)
    with write_transaction(db):
        admin = find_admin_by_email(db, email)
        if admin is None:
            if not password:
                raise ValidationError(
                    f"{email} has no Backstop account yet; set a first password for them.",
                    "password",
                )
            admin = create_admin(db, email, password)
        if one(
            db,
            "SELECT 1 AS x FROM workspace_members WHERE workspace_id = ? AND admin_id = ?",
            [ws.id, admin.id],
        ):
            raise ValidationError(f"{email} is already a member of this workspace.", "email")
        db.execute(
            "INSERT INTO workspace_members (workspace_id, admin_id, role, created_at) VALUES (?, ?, ?, ?)",
            [ws.id, admin.id, role, clock.iso()],
        )
    return admin


def _owner_count(db: Database, ws: Workspace) -> int:
    return db.execute(
        "SELECT COUNT(*) FROM workspace_members WHERE workspace_id = ? AND role = 'owner'", [ws.id]
    ).fetchone()[0]


def _member_role(db: Database, ws: Workspace, admin_id: int) -> str:
    row = one(
        db,
        "SELECT role FROM workspace_members WHERE workspace_id = ? AND admin_id = ?",
        [ws.id, admin_id],
    )
    if row is None:
        raise NotFound(admin_id)
    return row["role"]


def change_role(db: Database, ws: Workspace, admin_id: int, role: str) -> None:
    require_owner(ws)
    if role not in ROLES:
        raise ValidationError("Pick a role: owner or member.", "role")
    with write_transaction(db):
        current = _member_role(db, ws, admin_id)
        if current == "owner" and role != "owner" and _owner_count(db, ws) == 1:
            raise ValidationError("A workspace needs at least one owner; make someone else owner first.")
        db.execute(
            "UPDATE workspace_members SET role = ? WHERE workspace_id = ? AND admin_id = ?",
            [role, ws.id, admin_id],
        )


def remove_member(db: Database, ws: Workspace, admin_id: int) -> None:
    require_owner(ws)
    with write_transaction(db):
        if _member_role(db, ws, admin_id) == "owner" and _owner_count(db, ws) == 1:
            raise ValidationError("A workspace needs at least one owner; make someone else owner first.")
        db.execute("DELETE FROM workspace_members WHERE workspace_id = ? AND admin_id = ?", [ws.id, admin_id])


def get_workspace_by_id(db: Database, workspace_id: int) -> dict | None:
    return one(db, "SELECT * FROM workspaces WHERE id = ?", [workspace_id])


def adopt_orphan_workspaces(db: Database, admin: Admin) -> list[str]:
    """Workspaces made from the CLI before any admin existed get this admin as owner; returns
    their slugs."""
    orphans = [
        r["slug"]
        for r in db.execute(
            "SELECT slug FROM workspaces w WHERE NOT EXISTS "
            "(SELECT 1 FROM workspace_members m WHERE m.workspace_id = w.id AND m.role = 'owner')"
        ).fetchall()
    ]
    for slug in orphans:
        db.execute(
            "INSERT OR IGNORE INTO workspace_members (workspace_id, admin_id, role, created_at) "
            "SELECT id, ?, 'owner', ? FROM workspaces WHERE slug = ?",
            [admin.id, clock.iso(), slug],
        )
    return orphans


def owner_emails(db: Database, workspace_id: int) -> list[str]:
    """Where notices about the workspace go: its owners' sign-in addresses."""
    return [
        r["email"]
        for r in all_rows(
            db,
            "SELECT a.email FROM workspace_members m JOIN admins a ON a.id = m.admin_id "
            "WHERE m.workspace_id = ? AND m.role = 'owner' ORDER BY a.id",
            [workspace_id],
        )
    ]
