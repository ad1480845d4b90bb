"""The ordered, append-only schema history. Never edit a step that has shipped: add a new one.

Names are ``NNNN_verb_noun``. Money is integer minor units plus a currency; times are UTC
ISO-8601 text from ``backstop.clock.iso``.
"""

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("backstop")


@migrations(name="0001_create_admins_and_workspaces")
def create_admins_and_workspaces(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE admins (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            password_hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_login_at TEXT
        );
        CREATE TABLE admin_sessions (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            user_agent TEXT
        );
        CREATE INDEX admin_sessions_admin ON admin_sessions(admin_id);
        CREATE TABLE login_attempts (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL COLLATE NOCASE,
            ip TEXT NOT NULL,
            attempted_at TEXT NOT NULL,
            succeeded INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX login_attempts_email ON login_attempts(email, attempted_at);
        CREATE INDEX login_attempts_ip ON login_attempts(ip, attempted_at);
        CREATE TABLE workspaces (
            id INTEGER PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            embed_secret_enc TEXT NOT NULL,
            embed_secret_rotated_at TEXT,
            embed_step_done_at TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE workspace_members (
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('owner', 'member')),
            created_at TEXT NOT NULL,
            PRIMARY KEY (workspace_id, admin_id)
        );
        CREATE INDEX workspace_members_admin ON workspace_members(admin_id);
        """
    )


@migrations(name="0002_create_api_tokens")
def create_api_tokens(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            created_by INTEGER REFERENCES admins(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        );
        CREATE INDEX api_tokens_workspace ON api_tokens(workspace_id);
        """
    )


@migrations(name="0003_create_login_tokens")
def create_login_tokens(db: Database) -> None:
    # One-time sign-in links for the desktop window: only a hash is kept, each row is used once.
    db.executescript(
        """
        CREATE TABLE login_tokens (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT
        );
        CREATE INDEX login_tokens_expires ON login_tokens(expires_at);
        """
    )
