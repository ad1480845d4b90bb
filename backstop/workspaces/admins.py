"""Admin accounts, login with a rate limit, and server-side sessions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.db import one, write_transaction
from backstop.lib import passwords
from backstop.lib.crypto import random_token, sha256_hex
from backstop.workspaces.errors import ValidationError

EMAIL_RE = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
SESSION_LIFETIME = timedelta(days=14)
LOGIN_WINDOW = timedelta(minutes=15)
# Failed sign-ins for one email from one address: the first few are free, then each waits twice
# as long as the one before (2 s, 4 s, 8 s … at most 5 minutes). Someone guessing from elsewhere
# slows only themselves down; the owner signing in from their own address is never locked out.
FREE_FAILURES = 3
FIRST_DELAY_SECONDS = 2
MAX_DELAY_SECONDS = 300
# Any emails from one address: past this many failures in the window, that address waits.
MAX_FAILURES_PER_IP = 30


@dataclass(frozen=True)
class Admin:
    id: int
    email: str


@dataclass(frozen=True)
class Session:
    id: int
    admin: Admin


def normalise_email(email: str) -> str:
    email = (email or "").strip()
    if not email:
        raise ValidationError("Enter an email address.", "email")
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise ValidationError(f"“{email[:80]}” doesn't look like an email address.", "email")
    return email.lower()


def any_admin_exists(db: Database) -> bool:
    return db.execute("SELECT 1 FROM admins LIMIT 1").fetchone() is not None


def create_admin(db: Database, email: str, password: str) -> Admin:
    email = normalise_email(email)
    problem = passwords.password_problem(password, email)
    if problem:
        raise ValidationError(problem, "password")
    if one(db, "SELECT id FROM admins WHERE email = ?", [email]):
        raise ValidationError(f"An admin with the email {email} already exists.", "email")
    cur = db.execute(
        "INSERT INTO admins (email, password_hash, created_at) VALUES (?, ?, ?)",
        [email, passwords.hash_password(password), clock.iso()],
    )
    return Admin(id=cur.lastrowid, email=email)


def get_admin(db: Database, admin_id: int) -> Admin | None:
    row = one(db, "SELECT id, email FROM admins WHERE id = ?", [admin_id])
    return Admin(**row) if row else None


def find_admin_by_email(db: Database, email: str) -> Admin | None:
    row = one(db, "SELECT id, email FROM admins WHERE email = ?", [email.strip().lower()])
    return Admin(**row) if row else None


class LoginThrottled(Exception):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(retry_after_seconds)
        self.retry_after_seconds = retry_after_seconds


def delay_after(failures: int) -> int:
    """Seconds to wait after this many recent failures for one email from one address."""
    if failures < FREE_FAILURES:
        return 0
    return min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** (failures - FREE_FAILURES))


def login_wait(db: Database, email: str, ip: str) -> int:
    """Seconds before this email may try again from this address (0: now)."""
    now = clock.now()
    since = clock.iso(now - LOGIN_WINDOW)
    pair = db.execute(
        "SELECT COUNT(*), MAX(attempted_at) FROM login_attempts "
        "WHERE email = ? AND ip = ? AND succeeded = 0 AND attempted_at > ?",
        [email, ip, since],
    ).fetchone()
    wait = 0
    if pair[0] and pair[1]:
        ready = clock.parse(pair[1]) + timedelta(seconds=delay_after(pair[0]))
        wait = max(0, int((ready - now).total_seconds() + 0.999))
    address = db.execute(
        "SELECT COUNT(*), MIN(attempted_at) FROM login_attempts WHERE ip = ? AND succeeded = 0 AND attempted_at > ?",
        [ip, since],
    ).fetchone()
    if address[0] >= MAX_FAILURES_PER_IP and address[1]:
        ready = clock.parse(address[1]) + LOGIN_WINDOW
        wait = max(wait, int((ready - now).total_seconds() + 0.999))
    return wait


def authenticate(db: Database, email: str, password: str, ip: str) -> Admin | None:
    """Check credentials, refusing early while this email and address must wait (see
    ``delay_after``) or the address has failed too often with any email."""
    email = (email or "").strip().lower()
    wait = login_wait(db, email, ip)
    if wait:
        raise LoginThrottled(wait)
    row = one(db, "SELECT id, email, password_hash FROM admins WHERE email = ?", [email])
    ok = passwords.verify_password(row["password_hash"] if row else passwords.DUMMY_HASH, password)
    ok = ok and row is not None
    db.execute(
        "INSERT INTO login_attempts (email, ip, attempted_at, succeeded) VALUES (?, ?, ?, ?)",
        [email, ip, clock.iso(), int(ok)],
    )
    if not ok:
        return None
    if passwords.needs_rehash(row["password_hash"]):
        db.execute(
            "UPDATE admins SET password_hash = ? WHERE id = ?",
            [passwords.hash_password(password), row["id"]],
        )
    db.execute("UPDATE admins SET last_login_at = ? WHERE id = ?", [clock.iso(), row["id"]])
    # A successful login clears the slate for this email from this address.
    db.execute("DELETE FROM login_attempts WHERE email = ? AND ip = ? AND succeeded = 0", [email, ip])
    return Admin(id=row["id"], email=row["email"])


def start_session(db: Database, admin: Admin, user_agent: str = "") -> str:
    """Create a session and return the raw token for the cookie; only its hash is stored."""
    token = random_token()
    now = clock.now()
    db.execute(
        "INSERT INTO admin_sessions (token_hash, admin_id, created_at, last_seen_at, "
        "expires_at, user_agent) VALUES (?, ?, ?, ?, ?, ?)",
        [
            sha256_hex(token),
            admin.id,
            clock.iso(now),
            clock.iso(now),
            clock.iso(now + SESSION_LIFETIME),
            user_agent[:300],
        ],
    )
    return token


def resolve_session(db: Database, token: str | None) -> Session | None:
    if not token:
        return None
    row = one(
        db,
        "SELECT s.id, s.expires_at, a.id AS admin_id, a.email FROM admin_sessions s "
        "JOIN admins a ON a.id = s.admin_id WHERE s.token_hash = ?",
        [sha256_hex(token)],
    )
    if row is None:
        return None
    if clock.parse(row["expires_at"]) <= clock.now():
        db.execute("DELETE FROM admin_sessions WHERE id = ?", [row["id"]])
        return None
    return Session(id=row["id"], admin=Admin(row["admin_id"], row["email"]))


def end_session(db: Database, token: str | None) -> None:
    if token:
        db.execute("DELETE FROM admin_sessions WHERE token_hash = ?", [sha256_hex(token)])


def set_password(db: Database, email: str, password: str) -> None:
    """Replace an admin's password and end all their sessions."""
    from backstop.workspaces.errors import NotFound

    admin = find_admin_by_email(db, email)
    if admin is None:
        raise NotFound(email)
    problem = passwords.password_problem(password, admin.email)
    if problem:
        raise ValidationError(problem, "password")
    with write_transaction(db):
        db.execute(
            "UPDATE admins SET password_hash = ? WHERE id = ?",
            [passwords.hash_password(password), admin.id],
        )
        db.execute("DELETE FROM admin_sessions WHERE admin_id = ?", [admin.id])
        # A reset is how a locked-out owner gets back in: the old failures no longer count.
        db.execute("DELETE FROM login_attempts WHERE email = ? AND succeeded = 0", [admin.email])


def first_admin(db: Database) -> Admin | None:
    """The admin created first (the default owner of workspaces made from the CLI)."""
    row = db.execute("SELECT id, email FROM admins ORDER BY id LIMIT 1").fetchone()
    return Admin(row["id"], row["email"]) if row else None
