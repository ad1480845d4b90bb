"""The first full copy of a Stripe account into the mirror: paged, paced, resumable.

One row per workspace in ``stripe_backfills`` holds the stage and the list cursor; every page is
applied and the cursor advanced in one transaction, so a killed process resumes at the page it
was on and nothing is fetched or written twice. Lists ask for 100 objects a page and expand what
would otherwise need one call per object.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.connectors.stripe import (
    StripeAuthFailed,
    StripeGateway,
    StripePermissionMissing,
    StripeUnavailable,
)
from backstop.db import one, write_transaction
from backstop.lib import workrows
from backstop.stripe_sync import connection, mirror

log = logging.getLogger("backstop.stripe.backfill")

TABLE = "stripe_backfills"
LEASE = timedelta(minutes=2)
RECENT_PAID_DAYS = 90


@dataclass(frozen=True)
class Stage:
    key: str
    label: str
    path: str
    params: dict


def stages() -> list[Stage]:
    recent = int((clock.now() - timedelta(days=RECENT_PAID_DAYS)).timestamp())
    return [
        Stage("products", "Products", "/v1/products", {}),
        Stage("prices", "Prices", "/v1/prices", {}),
        Stage(
            "customers",
            "Customers",
            "/v1/customers",
            {"expand": ["data.invoice_settings.default_payment_method"]},
        ),
        Stage(
            "subscriptions",
            "Subscriptions",
            "/v1/subscriptions",
            {"status": "all", "expand": ["data.default_payment_method"]},
        ),
        Stage("invoices_open", "Open invoices", "/v1/invoices", {"status": "open"}),
        Stage(
            "invoices_uncollectible", "Uncollectible invoices", "/v1/invoices", {"status": "uncollectible"}
        ),
        Stage(
            "invoices_paid",
            "Recently paid invoices",
            "/v1/invoices",
            {"status": "paid", "created": {"gte": recent}},
        ),
    ]


STAGE_KEYS = [s.key for s in stages()]


def resume_or_start(db: Database, workspace_id: int, *, restart: bool = False) -> int:
    """The backfill to run now: the unfinished one, made due at once (a lease left by a stopped
    process would otherwise hold it), or a new one when there is none, it finished or failed,
    or ``restart`` is asked."""
    row = one(
        db, "SELECT id, finished_at, work_state FROM stripe_backfills WHERE workspace_id = ?", [workspace_id]
    )
    if row is None or restart or row["finished_at"] or row["work_state"] == "failed":
        return start(db, workspace_id)
    db.execute(
        "UPDATE stripe_backfills SET work_state = 'pending', claimed_until = NULL, due_at = ? "
        "WHERE id = ? AND work_state != 'done'",
        [clock.iso(), row["id"]],
    )
    return row["id"]


def start(db: Database, workspace_id: int) -> int:
    """Create (or restart) the workspace's backfill; return its row id for the job."""
    now = clock.iso()
    db.execute(
        "INSERT INTO stripe_backfills (workspace_id, stage, cursor, counts, started_at, due_at) "
        "VALUES (?, ?, NULL, '{}', ?, ?) ON CONFLICT (workspace_id) DO UPDATE SET stage = excluded.stage, "
        "cursor = NULL, counts = '{}', started_at = excluded.started_at, finished_at = NULL, "
        "work_state = 'pending', due_at = excluded.due_at, claimed_until = NULL, attempts = 0, last_error = NULL",
        [workspace_id, STAGE_KEYS[0], now, now],
    )
    return one(db, "SELECT id FROM stripe_backfills WHERE workspace_id = ?", [workspace_id])["id"]


@dataclass(frozen=True)
class Progress:
    stage: str
    stage_label: str
    stage_index: int
    stage_count: int
    counts: dict
    synced: int
    finished_at: str | None
    state: str
    last_error: str | None

    @property
    def percent(self) -> int:
        if self.finished_at:
            return 100
        return int(100 * self.stage_index / self.stage_count)


def progress(db: Database, workspace_id: int) -> Progress | None:
    row = one(db, "SELECT * FROM stripe_backfills WHERE workspace_id = ?", [workspace_id])
    if row is None:
        return None
    counts = json.loads(row["counts"] or "{}")
    all_stages = stages()
    index = STAGE_KEYS.index(row["stage"]) if row["stage"] in STAGE_KEYS else len(all_stages)
    label = all_stages[index].label if index < len(all_stages) else "Done"
    return Progress(
        stage=row["stage"],
        stage_label=label,
        stage_index=index,
        stage_count=len(all_stages),
        counts=counts,
        synced=sum(counts.values()),
        finished_at=row["finished_at"],
        state=row["work_state"],
        last_error=row["last_error"],
    )


def run(
    db: Database,
    row_id: int,
    gateway_for: Callable[[int], StripeGateway],
    on_page: Callable[[Progress], None] | None = None,
) -> str | None:
    """Work through the remaining stages. Returns 'done', 'retrying', 'failed', or None when the
    row is not claimable (another worker has it, or there is nothing to do)."""
    if not workrows.claim(db, TABLE, row_id, lease=LEASE):
        return None
    row = one(db, "SELECT * FROM stripe_backfills WHERE id = ?", [row_id])
    workspace_id = row["workspace_id"]
    try:
        gateway: StripeGateway = gateway_for(workspace_id)
        _run_stages(db, row_id, workspace_id, gateway, on_page)
    except StripeUnavailable as exc:
        workrows.retry_later(
            db,
            TABLE,
            row_id,
            workrows.backoff(row["attempts"], cap=timedelta(minutes=30)),
            f"Stripe is unavailable: {exc.message}",
        )
        return "retrying"
    except (StripeAuthFailed, StripePermissionMissing) as exc:
        connection.mark_failing(db, workspace_id, f"Stripe refused Backstop's key: {exc.message}")
        workrows.fail(db, TABLE, row_id, f"Stripe refused the key: {exc.message}")
        return "failed"
    except Exception as exc:  # unplanned: give the row back at once, with why
        workrows.release_failed(db, TABLE, row_id, exc)
        return "retrying"
    db.execute("UPDATE stripe_backfills SET finished_at = ? WHERE id = ?", [clock.iso(), row_id])
    workrows.complete(db, TABLE, row_id)
    return "done"


def _run_stages(
    db: Database,
    row_id: int,
    workspace_id: int,
    gateway: StripeGateway,
    on_page: Callable[[Progress], None] | None,
) -> None:
    all_stages = stages()
    while True:
        row = one(db, "SELECT stage, cursor, counts FROM stripe_backfills WHERE id = ?", [row_id])
        if row["stage"] not in STAGE_KEYS:
            return
        stage = all_stages[STAGE_KEYS.index(row["stage"])]
        counts = json.loads(row["counts"] or "{}")
        for objects, has_more in gateway.list_pages(stage.path, stage.params, starting_after=row["cursor"]):
            version = int(clock.now_ts())
            with write_transaction(db):
                for obj in objects:
                    if obj.get("object") == "invoice":
                        obj = mirror.complete_invoice_lines(gateway.get, obj)
                    mirror.apply_object(db, workspace_id, obj, version)
                counts[stage.key] = counts.get(stage.key, 0) + len(objects)
                next_stage = stage.key
                cursor = objects[-1]["id"] if objects else row["cursor"]
                if not has_more:
                    position = STAGE_KEYS.index(stage.key) + 1
                    next_stage = STAGE_KEYS[position] if position < len(STAGE_KEYS) else "done"
                    cursor = None
                db.execute(
                    "UPDATE stripe_backfills SET stage = ?, cursor = ?, counts = ?, claimed_until = ? WHERE id = ?",
                    [next_stage, cursor, json.dumps(counts), clock.iso(clock.now() + LEASE), row_id],
                )
            if on_page is not None:
                on_page(progress(db, workspace_id))
