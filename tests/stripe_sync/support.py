"""Helpers for tests that run Backstop's Stripe code against the fake Stripe through the real SDK."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

from sqlite_utils import Database

from backstop.lib.crypto import SecretBox
from backstop.settings import Settings
from backstop.stripe_sync import backfill, connection, service
from tests.conftest import VENV_BIN

# Everything Backstop's restricted key needs, in the fake's resource names.
ALL_PERMISSIONS = {
    "customers": "write",
    "subscriptions": "write",
    "invoices": "write",
    "payment_methods": "read",
    "setup_intents": "write",
    "coupons": "write",
    "products": "read",
    "prices": "read",
    "charges": "read",
    "events": "read",
    "webhook_endpoints": "write",
    "billing_portal": "read",
}

MIRROR_TABLES = (
    "stripe_customers",
    "stripe_payment_methods",
    "stripe_products",
    "stripe_prices",
    "stripe_subscriptions",
    "stripe_invoices",
    "stripe_invoice_lines",
)


def aimed_at(settings: Settings, fake, **changes) -> Settings:
    """Settings that send Stripe calls to the fake; a high rate so pacing doesn't slow tests."""
    return replace(
        settings,
        stripe_api_base=fake.url,
        stripe_connect_base=fake.url,
        stripe_rate_limit=changes.pop("stripe_rate_limit", 1000),
        **changes,
    )


def restricted_key(fake, livemode: bool = False, **overrides: str) -> str:
    mode = "live" if livemode else "test"
    key = f"rk_{mode}_{os.urandom(12).hex()}"
    return fake.add_key(key, permissions={**ALL_PERMISSIONS, **overrides}, livemode=livemode)


def connect(db: Database, box: SecretBox, settings: Settings, workspace, fake, **kwargs) -> int:
    """Connect with a fresh restricted key; return the backfill row id (the backfill isn't run)."""
    result = service.connect_restricted_key(
        db, box, settings, workspace.id, workspace.slug, restricted_key(fake), **kwargs
    )
    return result.backfill_id


def run_backfill(db: Database, box: SecretBox, settings: Settings, row_id: int, **gateway_overrides):
    return backfill.run(db, row_id, lambda ws: connection.gateway(db, box, settings, ws, **gateway_overrides))


def mirror_state(db: Database, workspace_id: int) -> dict[str, list[dict]]:
    """The mirrored rows as a user sees them: without bookkeeping (versions, sync times)."""
    state = {}
    for table in MIRROR_TABLES:
        rows = db.execute(
            f"SELECT * FROM {table} WHERE workspace_id = ? ORDER BY id",  # noqa: S608
            [workspace_id],
        ).fetchall()
        state[table] = [
            {k: v for k, v in dict(row).items() if k not in ("version", "synced_at", "workspace_id")}
            for row in rows
        ]
    return state


def counts(db: Database, workspace_id: int) -> dict[str, int]:
    return {
        table: db.execute(
            f"SELECT count(*) FROM {table} WHERE workspace_id = ?",  # noqa: S608
            [workspace_id],
        ).fetchone()[0]
        for table in MIRROR_TABLES
    }


def cli_env(data_dir: Path, settings: Settings, fake, **extra: str) -> dict[str, str]:
    """The environment an operator would set to point ``backstop`` at the fake."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BACKSTOP_")}
    return {
        **clean,
        "COLUMNS": "400",
        "BACKSTOP_DATA_DIR": str(data_dir),
        "BACKSTOP_SECRET_KEY": settings.secret_key,
        "BACKSTOP_STRIPE_API_BASE": fake.url,
        "BACKSTOP_STRIPE_CONNECT_BASE": fake.url,
        "BACKSTOP_STRIPE_RATE_LIMIT": "1000",
        **extra,
    }


def backstop_cli(
    env: dict[str, str], *args: str, timeout: float = 60, stdin: str | None = None
) -> subprocess.CompletedProcess:
    """Run ``backstop`` with ``stdin`` as its standard input (nothing, when None)."""
    return subprocess.run(
        [str(VENV_BIN / "backstop"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **({"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}),
    )


def backstop_popen(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(VENV_BIN / "backstop"), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
