"""What cancel sessions add up to: the funnel, reasons, save rate and MRR saved per version,
variant and offer, whether two arms differ yet, and the holdout's lift.

Save rate = sessions that ended saved ÷ sessions that ended saved or canceled. Abandoned
sessions (opened, not finished within an hour) are counted in the funnel but not in the rate:
those customers neither stayed by choice nor left. "Never mind" counts as a save.

Significance is the two-proportion z-test at a fixed horizon in ``backstop.lib.stats`` (shared
with the dunning holdout of recovery): decide how many sessions per arm you need before looking,
and read the p-value once both arms have them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.db import all_rows
from backstop.lib import stats

SAVED_SQL = "outcome LIKE 'saved_%'"


def _since(days: int | None) -> str:
    return clock.iso(clock.now() - timedelta(days=days)) if days else ""


@dataclass(frozen=True)
class Funnel:
    opened: int
    answered_reason: int
    offer_shown: int
    accepted: int
    kept: int  # "Never mind" without an offer
    canceled: int
    abandoned: int
    pending: int  # decided, Stripe change not applied yet
    open_now: int


def funnel(db: Database, workspace_id: int, *, days: int | None = None, flow_id: int | None = None) -> Funnel:
    where, params = "workspace_id = ? AND opened_at >= ?", [workspace_id, _since(days)]
    if flow_id is not None:
        where += " AND flow_id = ?"
        params.append(flow_id)
    row = db.execute(
        "SELECT COUNT(*), SUM(reason_code IS NOT NULL), SUM(offers_shown != '[]'), "  # noqa: S608
        f"SUM({SAVED_SQL} AND offer_accepted IS NOT NULL), SUM({SAVED_SQL} AND offer_accepted IS NULL), "
        "SUM(outcome = 'canceled'), SUM(outcome = 'abandoned'), SUM(state = 'pending_action'), SUM(state = 'open') "
        f"FROM cancel_sessions WHERE {where}",
        params,
    ).fetchone()
    return Funnel(*(v or 0 for v in row))


@dataclass
class ReasonRow:
    code: str
    label: str
    count: int
    share: float
    excerpts: list[str] = field(default_factory=list)


def reasons(
    db: Database, workspace_id: int, *, days: int | None = None, flow_id: int | None = None, excerpts: int = 3
) -> list[ReasonRow]:
    where, params = (
        "workspace_id = ? AND opened_at >= ? AND reason_code IS NOT NULL",
        [workspace_id, _since(days)],
    )
    if flow_id is not None:
        where += " AND flow_id = ?"
        params.append(flow_id)
    rows = all_rows(
        db,
        f"SELECT reason_code, MAX(reason_label) AS label, COUNT(*) AS n FROM cancel_sessions WHERE {where} "  # noqa: S608
        "GROUP BY reason_code ORDER BY n DESC, reason_code",
        params,
    )
    total = sum(r["n"] for r in rows) or 1
    out = []
    for r in rows:
        texts = [
            t[0]
            for t in db.execute(
                f"SELECT free_text FROM cancel_sessions WHERE {where} AND reason_code = ? "  # noqa: S608
                "AND free_text IS NOT NULL ORDER BY id DESC LIMIT ?",
                [*params, r["reason_code"], excerpts],
            )
        ]
        out.append(
            ReasonRow(
                r["reason_code"],
                r["label"] or r["reason_code"],
                r["n"],
                r["n"] / total,
                [_excerpt(t) for t in texts],
            )
        )
    return out


def _excerpt(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass
class RateRow:
    key: str  # "v2", "holdout", "offer_price/a", "discount"
    label: str
    sessions: int  # saved + canceled
    saves: int
    mrr_saved: dict[str, int]
    shown: int | None = None  # variants and offers: how many saw it

    @property
    def save_rate(self) -> float | None:
        return self.saves / self.sessions if self.sessions else None

    # As a ``backstop.lib.stats.Arm``: the sessions that ended, and the saves among them.
    @property
    def trials(self) -> int:
        return self.sessions

    @property
    def successes(self) -> int:
        return self.saves


def _mrr(rows: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        if r["outcome"] and r["outcome"].startswith("saved_") and r["currency"]:
            out[r["currency"]] = out.get(r["currency"], 0) + (r["mrr_saved"] or 0)
    return out


def _decided(db: Database, workspace_id: int, flow_id: int | None, days: int | None) -> list[dict]:
    where, params = (
        "workspace_id = ? AND outcome IS NOT NULL AND outcome != 'abandoned' AND opened_at >= ?",
        [
            workspace_id,
            _since(days),
        ],
    )
    if flow_id is not None:
        where += " AND flow_id = ?"
        params.append(flow_id)
    return all_rows(
        db,
        "SELECT arm, version, outcome, currency, mrr_saved, offers_shown, offer_accepted "  # noqa: S608
        f"FROM cancel_sessions WHERE {where}",
        params,
    )


def by_arm(
    db: Database, workspace_id: int, flow_id: int | None = None, days: int | None = None
) -> list[RateRow]:
    groups: dict[str, list[dict]] = {}
    for r in _decided(db, workspace_id, flow_id, days):
        groups.setdefault(r["arm"], []).append(r)
    out = []
    for arm in sorted(
        groups, key=lambda a: (a == "holdout", a == "none", int(a[1:]) if a[1:].isdigit() else 0)
    ):
        rows = groups[arm]
        label = {"holdout": "Holdout (no offers)", "none": "No live flow"}.get(arm, f"Version {arm[1:]}")
        saves = sum(1 for r in rows if r["outcome"].startswith("saved_"))
        out.append(RateRow(arm, label, len(rows), saves, _mrr(rows)))
    return out


def by_variant(
    db: Database, workspace_id: int, flow_id: int | None = None, days: int | None = None
) -> list[RateRow]:
    """Per offer variant shown: how many saw it, how many accepted it, MRR those saves kept."""
    shown: dict[str, RateRow] = {}
    for r in _decided(db, workspace_id, flow_id, days):
        accepted = json.loads(r["offer_accepted"]) if r["offer_accepted"] else None
        for s in json.loads(r["offers_shown"] or "[]"):
            key = f"{s['node']}/{s['variant']}"
            row = shown.setdefault(
                key, RateRow(key, f"{s['node']} · variant {s['variant']} ({s['kind']})", 0, 0, {}, 0)
            )
            row.shown = (row.shown or 0) + 1
            row.sessions += 1
            if accepted and accepted.get("node") == s["node"] and accepted.get("variant") == s["variant"]:
                row.saves += 1
                if r["currency"]:
                    row.mrr_saved[r["currency"]] = row.mrr_saved.get(r["currency"], 0) + (r["mrr_saved"] or 0)
    return sorted(shown.values(), key=lambda x: x.key)


def by_offer(
    db: Database, workspace_id: int, flow_id: int | None = None, days: int | None = None
) -> list[RateRow]:
    """Per offer kind (discount, pause, …), across nodes and variants."""
    kinds: dict[str, RateRow] = {}
    for r in _decided(db, workspace_id, flow_id, days):
        accepted = json.loads(r["offer_accepted"]) if r["offer_accepted"] else None
        for kind in {s["kind"] for s in json.loads(r["offers_shown"] or "[]")}:
            row = kinds.setdefault(kind, RateRow(kind, kind.replace("_", " ").capitalize(), 0, 0, {}, 0))
            row.shown = (row.shown or 0) + 1
            row.sessions += 1
            if accepted and accepted.get("kind") == kind:
                row.saves += 1
                if r["currency"]:
                    row.mrr_saved[r["currency"]] = row.mrr_saved.get(r["currency"], 0) + (r["mrr_saved"] or 0)
    return sorted(kinds.values(), key=lambda x: -x.shown if x.shown else 0)


def compare(a: RateRow, b: RateRow) -> stats.Comparison:
    """Whether two arms' save rates differ yet (``backstop.lib.stats.compare``)."""
    return stats.compare(a, b)


def holdout_lift(arms: list[RateRow]) -> float | None:
    """Save rate with offers minus save rate of the holdout, or None without both."""
    holdout = next((a for a in arms if a.key == "holdout"), None)
    offered = [a for a in arms if a.key not in ("holdout", "none")]
    sessions = sum(a.sessions for a in offered)
    if holdout is None or not holdout.sessions or not sessions:
        return None
    return sum(a.saves for a in offered) / sessions - holdout.save_rate


# --- 30-day numbers for the Overview and /api/v1/stats -----------------------------------------------


def saved_and_lost(
    db: Database, workspace_id: int, since: str, until: str | None = None
) -> tuple[dict[str, int], int, dict[str, int], int]:
    """(MRR saved per currency, saves, MRR lost to cancellations per currency, cancellations):
    sessions whose outcome was applied in Stripe within the window (``until`` excluded)."""
    saved: dict[str, int] = {}
    lost: dict[str, int] = {}
    saves = cancels = 0
    for row in db.execute(
        "SELECT outcome, currency, SUM(mrr_saved), SUM(mrr_at_stake), COUNT(*) FROM cancel_sessions "
        "WHERE workspace_id = ? AND state = 'finished' AND finished_at >= ? "
        "AND (? IS NULL OR finished_at < ?) "
        "AND (outcome LIKE 'saved_%' OR outcome = 'canceled') GROUP BY outcome, currency",
        [workspace_id, since, until, until],
    ):
        outcome, currency, kept, at_stake, n = row
        if outcome == "canceled":
            cancels += n
            if currency:
                lost[currency] = lost.get(currency, 0) + (at_stake or 0)
        else:
            saves += n
            if currency:
                saved[currency] = saved.get(currency, 0) + (kept or 0)
    return saved, saves, lost, cancels
