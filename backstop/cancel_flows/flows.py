"""Stored cancel flows: drafts, published versions and their traffic, the active flow, offer
policies and publish approvals. Every function is scoped to one workspace: a flow of another
workspace is simply not found.

A flow has one editable draft. Publishing snapshots the draft as the next version (v1, v2, …):
versions never change afterwards, so a session always knows exactly what its customer saw. A new
version takes all of the flow's traffic; "Versions & traffic" can then split it across versions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlite_utils import Database

from backstop import clock
from backstop.cancel_flows import document
from backstop.cancel_flows.document import Flow, Problem
from backstop.cancel_flows.policy import DEFAULT_COOLDOWN_DAYS, OfferPolicy, over_threshold
from backstop.db import all_rows, one, write_transaction
from backstop.workspaces.errors import NotFound, ValidationError


@dataclass(frozen=True)
class FlowRecord:
    id: int
    workspace_id: int
    name: str
    template: str | None
    draft_json: dict
    draft_updated_at: str
    holdout_percent: int
    is_active: bool
    created_at: str
    archived_at: str | None

    @property
    def draft(self) -> Flow:
        return document.parse(self.draft_json)


@dataclass(frozen=True)
class VersionRecord:
    id: int
    workspace_id: int
    flow_id: int
    version: int
    document_json: dict
    traffic_percent: int
    published_at: str
    published_by: int | None

    @property
    def flow(self) -> Flow:
        return document.parse(self.document_json)


@dataclass(frozen=True)
class Approval:
    id: int
    workspace_id: int
    flow_id: int
    flow_name: str
    reasons: list[str]
    status: str
    requested_by_email: str | None
    requested_at: str
    decided_at: str | None
    version_id: int | None


@dataclass(frozen=True)
class PublishResult:
    status: str  # published | refused | pending_approval
    version: VersionRecord | None = None
    problems: list[Problem] = field(default_factory=list)
    approval_reasons: list[str] = field(default_factory=list)
    approval_id: int | None = None


# --- reading ---------------------------------------------------------------------------------


def _flow(row: dict | None) -> FlowRecord | None:
    if row is None:
        return None
    row = dict(row)
    row["draft_json"] = json.loads(row["draft_json"])
    row["is_active"] = bool(row["is_active"])
    return FlowRecord(**row)


def _version(row: dict | None) -> VersionRecord | None:
    if row is None:
        return None
    row = dict(row)
    row["document_json"] = json.loads(row["document_json"])
    return VersionRecord(**row)


def get_flow(db: Database, workspace_id: int, flow_id: int) -> FlowRecord | None:
    return _flow(
        one(
            db,
            "SELECT * FROM cancel_flows WHERE id = ? AND workspace_id = ? AND archived_at IS NULL",
            [flow_id, workspace_id],
        )
    )


def require_flow(db: Database, workspace_id: int, flow_id: int) -> FlowRecord:
    flow = get_flow(db, workspace_id, flow_id)
    if flow is None:
        raise NotFound(f"flow {flow_id}")
    return flow


def list_flows(db: Database, workspace_id: int) -> list[FlowRecord]:
    rows = all_rows(
        db,
        "SELECT * FROM cancel_flows WHERE workspace_id = ? AND archived_at IS NULL "
        "ORDER BY is_active DESC, created_at DESC, id DESC",
        [workspace_id],
    )
    return [_flow(r) for r in rows]  # type: ignore[misc]


def active_flow(db: Database, workspace_id: int) -> FlowRecord | None:
    """The flow customers of this workspace get."""
    return _flow(
        one(
            db,
            "SELECT * FROM cancel_flows WHERE workspace_id = ? AND is_active = 1 AND archived_at IS NULL",
            [workspace_id],
        )
    )


def versions(db: Database, workspace_id: int, flow_id: int) -> list[VersionRecord]:
    rows = all_rows(
        db,
        "SELECT * FROM cancel_flow_versions WHERE workspace_id = ? AND flow_id = ? ORDER BY version DESC",
        [workspace_id, flow_id],
    )
    return [_version(r) for r in rows]  # type: ignore[misc]


def live_versions(db: Database, workspace_id: int, flow_id: int) -> list[VersionRecord]:
    """Published versions that currently get traffic, oldest first."""
    return sorted(
        (v for v in versions(db, workspace_id, flow_id) if v.traffic_percent > 0), key=lambda v: v.version
    )


def get_version(db: Database, workspace_id: int, version_id: int) -> VersionRecord | None:
    return _version(
        one(
            db,
            "SELECT * FROM cancel_flow_versions WHERE id = ? AND workspace_id = ?",
            [version_id, workspace_id],
        )
    )


def has_published_version(db: Database, workspace_id: int) -> bool:
    row = db.execute(
        "SELECT 1 FROM cancel_flow_versions WHERE workspace_id = ? LIMIT 1", [workspace_id]
    ).fetchone()
    return row is not None


# --- writing drafts --------------------------------------------------------------------------


def create_flow(db: Database, workspace_id: int, flow: Flow, *, template: str | None = None) -> FlowRecord:
    """Store a new flow (its draft). The workspace's first flow becomes the active one."""
    now = clock.iso()
    with write_transaction(db):
        has_active = db.execute(
            "SELECT 1 FROM cancel_flows WHERE workspace_id = ? AND is_active = 1 AND archived_at IS NULL",
            [workspace_id],
        ).fetchone()
        cur = db.execute(
            "INSERT INTO cancel_flows (workspace_id, name, template, draft_json, draft_updated_at, "
            "is_active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                workspace_id,
                flow.name or "Untitled flow",
                template,
                json.dumps(document.to_json(flow)),
                now,
                0 if has_active else 1,
                now,
            ],
        )
        flow_id = cur.lastrowid
    return require_flow(db, workspace_id, flow_id)


def save_draft(db: Database, workspace_id: int, flow_id: int, flow: Flow) -> FlowRecord:
    require_flow(db, workspace_id, flow_id)
    with write_transaction(db):
        db.execute(
            "UPDATE cancel_flows SET draft_json = ?, name = ?, draft_updated_at = ? "
            "WHERE id = ? AND workspace_id = ?",
            [
                json.dumps(document.to_json(flow)),
                flow.name or "Untitled flow",
                clock.iso(),
                flow_id,
                workspace_id,
            ],
        )
    return require_flow(db, workspace_id, flow_id)


def set_active(db: Database, workspace_id: int, flow_id: int) -> None:
    """Make this the flow customers get (one active flow per workspace)."""
    require_flow(db, workspace_id, flow_id)
    with write_transaction(db):
        db.execute("UPDATE cancel_flows SET is_active = 0 WHERE workspace_id = ?", [workspace_id])
        db.execute(
            "UPDATE cancel_flows SET is_active = 1 WHERE id = ? AND workspace_id = ?", [flow_id, workspace_id]
        )


def archive_flow(db: Database, workspace_id: int, flow_id: int) -> None:
    flow = require_flow(db, workspace_id, flow_id)
    if flow.is_active:
        raise ValidationError("This is the active flow: make another flow active before deleting it.")
    with write_transaction(db):
        db.execute(
            "UPDATE cancel_flows SET archived_at = ? WHERE id = ? AND workspace_id = ?",
            [clock.iso(), flow_id, workspace_id],
        )


def set_traffic(
    db: Database, workspace_id: int, flow_id: int, traffic: dict[int, int], holdout_percent: int
) -> None:
    """Split the flow's traffic across its published versions (summing to 100) and set the
    holdout: the share of customers who are shown no offer."""
    require_flow(db, workspace_id, flow_id)
    known = {v.id for v in versions(db, workspace_id, flow_id)}
    if not known:
        raise ValidationError("Publish a version first: traffic is split across published versions.")
    if set(traffic) - known:
        raise ValidationError("One of those versions doesn't belong to this flow; reload the page.")
    if any(p < 0 or p > 100 for p in traffic.values()):
        raise ValidationError("Each version's traffic must be a whole percent from 0 to 100.")
    total = sum(traffic.values())
    if total != 100:
        raise ValidationError(f"Traffic across versions must add up to 100%; it adds up to {total}%.")
    if not 0 <= holdout_percent <= 50:
        raise ValidationError("The holdout must be a whole percent from 0 to 50.", field="holdout_percent")
    with write_transaction(db):
        for version_id in known:
            db.execute(
                "UPDATE cancel_flow_versions SET traffic_percent = ? WHERE id = ? AND workspace_id = ?",
                [traffic.get(version_id, 0), version_id, workspace_id],
            )
        db.execute(
            "UPDATE cancel_flows SET holdout_percent = ? WHERE id = ? AND workspace_id = ?",
            [holdout_percent, flow_id, workspace_id],
        )


# --- offer policy ----------------------------------------------------------------------------


def offer_policy(db: Database, workspace_id: int) -> OfferPolicy:
    row = one(db, "SELECT * FROM cancel_offer_policies WHERE workspace_id = ?", [workspace_id])
    if row is None:
        return OfferPolicy(cooldown_days=DEFAULT_COOLDOWN_DAYS)
    return OfferPolicy(
        cooldown_days=row["cooldown_days"],
        max_percent_off=row["max_percent_off"],
        max_free_months=row["max_free_months"],
        max_value_amount=row["max_value_amount"],
        max_value_currency=row["max_value_currency"],
    )


def save_offer_policy(db: Database, workspace_id: int, policy: OfferPolicy) -> None:
    if not 0 <= policy.cooldown_days <= 3650:
        raise ValidationError(
            "Set the cooldown to a whole number of days from 0 to 3650.", field="cooldown_days"
        )
    if policy.max_percent_off is not None and not 1 <= policy.max_percent_off <= 100:
        raise ValidationError(
            "Set the largest percent off from 1 to 100, or leave it empty.", field="max_percent_off"
        )
    if policy.max_free_months is not None and not 0 <= policy.max_free_months <= 12:
        raise ValidationError(
            "Set the most free months from 0 to 12, or leave it empty.", field="max_free_months"
        )
    if policy.max_value_amount is not None:
        if policy.max_value_amount < 0:
            raise ValidationError(
                "Set the value limit to a positive amount, or leave it empty.", field="max_value_amount"
            )
        if not policy.max_value_currency or len(policy.max_value_currency) != 3:
            raise ValidationError(
                "Give the value limit a three-letter currency, e.g. usd.", field="max_value_currency"
            )
    with write_transaction(db):
        db.execute(
            "INSERT INTO cancel_offer_policies (workspace_id, cooldown_days, max_percent_off, max_free_months, "
            "max_value_amount, max_value_currency, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (workspace_id) DO UPDATE SET cooldown_days = excluded.cooldown_days, "
            "max_percent_off = excluded.max_percent_off, max_free_months = excluded.max_free_months, "
            "max_value_amount = excluded.max_value_amount, max_value_currency = excluded.max_value_currency, "
            "updated_at = excluded.updated_at",
            [
                workspace_id,
                policy.cooldown_days,
                policy.max_percent_off,
                policy.max_free_months,
                policy.max_value_amount,
                policy.max_value_currency.lower() if policy.max_value_currency else None,
                clock.iso(),
            ],
        )


def approval_reasons(db: Database, workspace_id: int, flow: Flow) -> list[str]:
    """Why publishing this flow needs an owner's approval under the workspace's policy."""
    from backstop.stripe_sync.prices import max_monthly_amount

    policy = offer_policy(db, workspace_id)
    if not policy.has_threshold:
        return []
    reference = None
    if policy.max_value_amount is not None and policy.max_value_currency:
        reference = max_monthly_amount(db, workspace_id, policy.max_value_currency)
    return over_threshold(policy, document.offers(flow), reference)


# --- publishing ------------------------------------------------------------------------------


def _insert_version(db: Database, workspace_id: int, flow_id: int, doc: dict, admin_id: int | None) -> int:
    """Inside an open write transaction: the next version, taking all of the flow's traffic."""
    (latest,) = db.execute(
        "SELECT COALESCE(MAX(version), 0) FROM cancel_flow_versions WHERE flow_id = ? AND workspace_id = ?",
        [flow_id, workspace_id],
    ).fetchone()
    db.execute("UPDATE cancel_flow_versions SET traffic_percent = 0 WHERE flow_id = ?", [flow_id])
    cur = db.execute(
        "INSERT INTO cancel_flow_versions (workspace_id, flow_id, version, document_json, traffic_percent, "
        "published_at, published_by) VALUES (?, ?, ?, ?, 100, ?, ?)",
        [workspace_id, flow_id, latest + 1, json.dumps(doc), clock.iso(), admin_id],
    )
    return cur.lastrowid


def publish(db: Database, workspace_id: int, flow_id: int, *, admin_id: int | None = None) -> PublishResult:
    """Snapshot the draft as the next version, unless the validator finds problems (refused) or
    its offers exceed the approval threshold (a pending approval is created instead)."""
    record = require_flow(db, workspace_id, flow_id)
    flow = record.draft
    problems = document.validate(flow)
    if problems:
        return PublishResult("refused", problems=problems)
    doc = document.to_json(flow)
    reasons = approval_reasons(db, workspace_id, flow)
    with write_transaction(db):
        # A newer publish of the same flow, approved or not, replaces a request still waiting.
        db.execute(
            "UPDATE cancel_flow_approvals SET status = 'superseded', decided_at = ? "
            "WHERE flow_id = ? AND workspace_id = ? AND status = 'pending'",
            [clock.iso(), flow_id, workspace_id],
        )
        if reasons:
            cur = db.execute(
                "INSERT INTO cancel_flow_approvals (workspace_id, flow_id, document_json, reasons_json, "
                "requested_by, requested_at) VALUES (?, ?, ?, ?, ?, ?)",
                [workspace_id, flow_id, json.dumps(doc), json.dumps(reasons), admin_id, clock.iso()],
            )
            return PublishResult("pending_approval", approval_reasons=reasons, approval_id=cur.lastrowid)
        version_id = _insert_version(db, workspace_id, flow_id, doc, admin_id)
    return PublishResult("published", version=get_version(db, workspace_id, version_id))


# --- approvals -------------------------------------------------------------------------------

_APPROVAL_SELECT = (
    "SELECT a.id, a.workspace_id, a.flow_id, f.name AS flow_name, a.reasons_json, a.status, "
    "ad.email AS requested_by_email, a.requested_at, a.decided_at, a.version_id "
    "FROM cancel_flow_approvals a JOIN cancel_flows f ON f.id = a.flow_id "
    "LEFT JOIN admins ad ON ad.id = a.requested_by "
)


def _approval(row: dict | None) -> Approval | None:
    if row is None:
        return None
    row = dict(row)
    row["reasons"] = json.loads(row.pop("reasons_json"))
    return Approval(**row)


def pending_approvals(db: Database, workspace_id: int) -> list[Approval]:
    rows = all_rows(
        db,
        _APPROVAL_SELECT + "WHERE a.workspace_id = ? AND a.status = 'pending' AND f.archived_at IS NULL "
        "ORDER BY a.requested_at, a.id",
        [workspace_id],
    )
    return [_approval(r) for r in rows]  # type: ignore[misc]


def get_approval(db: Database, workspace_id: int, approval_id: int) -> Approval | None:
    return _approval(
        one(db, _APPROVAL_SELECT + "WHERE a.id = ? AND a.workspace_id = ?", [approval_id, workspace_id])
    )


def decide_approval(
    db: Database, workspace_id: int, approval_id: int, *, approve: bool, admin_id: int | None
) -> Approval:
    """Approve (publish the snapshot that was requested) or reject a pending approval.

    Callers check that the admin is an owner; this only checks the request is still pending.
    """
    with write_transaction(db):
        row = one(
            db,
            "SELECT * FROM cancel_flow_approvals WHERE id = ? AND workspace_id = ?",
            [approval_id, workspace_id],
        )
        if row is None:
            raise NotFound(f"approval {approval_id}")
        if row["status"] != "pending":
            raise ValidationError(f"This request was already {row['status']}; nothing changed.")
        version_id = None
        if approve:
            version_id = _insert_version(
                db, workspace_id, row["flow_id"], json.loads(row["document_json"]), row["requested_by"]
            )
        db.execute(
            "UPDATE cancel_flow_approvals SET status = ?, decided_by = ?, decided_at = ?, version_id = ? "
            "WHERE id = ?",
            ["approved" if approve else "rejected", admin_id, clock.iso(), version_id, approval_id],
        )
    return get_approval(db, workspace_id, approval_id)  # type: ignore[return-value]
