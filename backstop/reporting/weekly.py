"""The founder's weekly summary: what recovery and cancel flows did last week, by email to the
workspace's owners, when an owner turned it on (Settings → Notifications; off by default).

A week runs Monday 00:00 to Monday 00:00 UTC. Once a week has ended, the hourly scheduler
writes one ``weekly_summaries`` row for it per workspace that wants the summary (``UNIQUE
(workspace_id, week)``); the send job claims that row, queues one email per owner with a dedupe
key naming the week, and marks the row sent, all in one transaction. A restart, a second worker
or the sweeper running the row again finds it done, or finds the emails already queued: a week
is never sent twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.cancel_flows.analytics import saved_and_lost
from backstop.db import all_rows, one, write_transaction
from backstop.email.messages import queue_email
from backstop.lib import workrows
from backstop.lib.money import money
from backstop.recovery import queries as recovery_queries
from backstop.settings import Settings
from backstop.workspaces.workspaces import get_workspace_by_id, owner_emails

log = logging.getLogger("backstop.reporting")

TABLE = "weekly_summaries"
KIND = "weekly_summary"
STALLED_SHOWN = 5


# -- the setting --------------------------------------------------------------------------------


def is_enabled(db: Database, workspace_id: int) -> bool:
    row = one(db, "SELECT weekly_summary FROM notification_settings WHERE workspace_id = ?", [workspace_id])
    return bool(row and row["weekly_summary"])


def set_enabled(db: Database, workspace_id: int, enabled: bool) -> None:
    """Turn the summary on or off. Turned on, the first summary covers the first week that ends
    after now: no summary of a week that was over before anyone asked for it."""
    with write_transaction(db):
        db.execute(
            "INSERT INTO notification_settings (workspace_id, weekly_summary, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (workspace_id) DO UPDATE SET weekly_summary = excluded.weekly_summary, "
            "updated_at = CASE WHEN weekly_summary = excluded.weekly_summary THEN updated_at "
            "ELSE excluded.updated_at END",
            [workspace_id, int(enabled), clock.iso()],
        )


# -- weeks --------------------------------------------------------------------------------------


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 UTC of the week ``moment`` falls in."""
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def last_full_week(now: datetime | None = None) -> tuple[datetime, datetime]:
    end = week_start(now or clock.now())
    return end - timedelta(days=7), end


def next_summary_day(now: datetime | None = None) -> datetime:
    """The Monday the next summary goes out: the end of the week now running."""
    return week_start(now or clock.now()) + timedelta(days=7)


def week_label(start: datetime) -> str:
    """'30 November to 6 December 2026', with an en dash (the last day is the Sunday)."""
    last = start + timedelta(days=6)
    if start.year != last.year:
        return f"{start.day} {start:%B %Y} – {last.day} {last:%B %Y}"
    if start.month != last.month:
        return f"{start.day} {start:%B} – {last.day} {last:%B %Y}"
    return f"{start.day}–{last.day} {last:%B %Y}"


# -- the numbers --------------------------------------------------------------------------------


def _amounts(by_currency: dict[str, int]) -> str | None:
    """'$98.00 + €30.00', or None when there is nothing to say."""
    parts = [
        money(amount, currency) for currency, amount in sorted(by_currency.items()) if currency and amount
    ]
    return " + ".join(parts) or None


def _day(moment: datetime) -> str:
    """'2 November' (strftime's %-d is not on every platform the desktop app runs on)."""
    return f"{moment.day} {moment:%B}"


def _amount_from(amount: str | None, things: str) -> str:
    """'$98.00 from 2 failed payments', or just '2 failed payments' without an amount."""
    return f"{amount} from {things}" if amount else things[0].upper() + things[1:]


def _count(n: int, one_word: str, many: str) -> str:
    return f"{n} {one_word if n == 1 else many}"


@dataclass
class Summary:
    workspace_id: int
    slug: str
    name: str
    week: str  # the Monday the week starts, YYYY-MM-DD
    label: str
    recovered: str | None
    recovered_count: int
    lost: str | None
    lost_count: int
    saved: str | None
    saves: int
    stalled_count: int
    stalled: list[dict] = field(default_factory=list)

    @property
    def quiet(self) -> bool:
        return not (self.recovered_count or self.lost_count or self.saves or self.stalled_count)


def summarize(db: Database, workspace_id: int, start: datetime, end: datetime) -> Summary:
    ws = get_workspace_by_id(db, workspace_id)
    if ws is None:
        raise LookupError(f"no workspace {workspace_id}")
    closed = recovery_queries.closed_between(db, workspace_id, clock.iso(start), clock.iso(end))
    saved, saves, _, _ = saved_and_lost(db, workspace_id, clock.iso(start), clock.iso(end))
    stalled = [
        {
            "id": c["id"],
            "who": c.get("customer_name") or c.get("customer_email") or c.get("customer_id") or "A customer",
            "amount": money(c.get("amount_due"), c.get("currency")),
            "opened": _day(clock.parse(c["opened_at"])),
        }
        for c in recovery_queries.stalled(db, workspace_id, limit=STALLED_SHOWN)
    ]
    return Summary(
        workspace_id=workspace_id,
        slug=ws["slug"],
        name=ws["name"],
        week=start.date().isoformat(),
        label=week_label(start),
        recovered=_amounts(closed["recovered"]),
        recovered_count=closed["recovered_count"],
        lost=_amounts(closed["lost"]),
        lost_count=closed["lost_count"],
        saved=_amounts(saved),
        saves=saves,
        stalled_count=recovery_queries.stalled_count(db, workspace_id),
        stalled=stalled,
    )


def email_context(summary: Summary, public_url: str) -> dict:
    """Every sentence the email shows, already whole: the template never has to guess at a
    missing number."""
    base = f"{public_url}/w/{summary.slug}"
    recovered = (
        _amount_from(summary.recovered, _count(summary.recovered_count, "failed payment", "failed payments"))
        if summary.recovered_count
        else "No failed payment was recovered."
    )
    lost = (
        _amount_from(
            summary.lost, _count(summary.lost_count, "campaign", "campaigns") + " that ran out of retries"
        )
        if summary.lost_count
        else "No campaign was lost."
    )
    saved = (
        _amount_from(
            summary.saved and f"{summary.saved} of monthly revenue", _count(summary.saves, "save", "saves")
        )
        if summary.saves
        else "No subscription was saved by a cancel flow."
    )
    stalled = (
        f"{_count(summary.stalled_count, 'campaign has', 'campaigns have')} been in flight for "
        f"{recovery_queries.STALLED_DAYS} days or more."
        if summary.stalled_count
        else "No campaign is stalled."
    )
    return {
        "week_label": summary.label,
        "workspace_name": summary.name,
        "recovered_line": recovered,
        "lost_line": lost,
        "saved_line": saved,
        "stalled_line": stalled,
        "stalled": [{**c, "url": f"{base}/recovery/{c['id']}"} for c in summary.stalled],
        "stalled_more": max(0, summary.stalled_count - len(summary.stalled)),
        "quiet": summary.quiet,
        "overview_url": f"{base}/overview",
        "recovery_url": f"{base}/recovery",
        "cancel_url": f"{base}/cancel-flows/analytics",
        "settings_url": f"{base}/settings/notifications",
    }


# -- scheduling and sending ---------------------------------------------------------------------


def schedule_due(db: Database, now: datetime | None = None) -> list[int]:
    """One summary row for the week that last ended, per workspace that wants one and doesn't
    have it yet. Safe to run any number of times."""
    start, end = last_full_week(now)
    week = start.date().isoformat()
    created: list[int] = []
    with write_transaction(db):
        for row in all_rows(
            db,
            "SELECT workspace_id FROM notification_settings WHERE weekly_summary = 1 AND updated_at < ?",
            [clock.iso(end)],
        ):
            cur = db.execute(
                "INSERT INTO weekly_summaries (workspace_id, week, created_at, due_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (workspace_id, week) DO NOTHING",
                [row["workspace_id"], week, clock.iso(), clock.iso()],
            )
            if cur.rowcount:
                created.append(cur.lastrowid)
                workrows.ready_after_commit(db, TABLE, cur.lastrowid)
    return created


def send_summary(db: Database, settings: Settings, summary_id: int) -> str:
    """Queue the week's email to each owner, once; returns what happened."""
    if not workrows.claim(db, TABLE, summary_id):
        return "not_due"
    try:
        return _send_claimed(db, settings, summary_id)
    except Exception as exc:  # unplanned: give the row back at once, with why
        workrows.release_failed(db, TABLE, summary_id, exc)
        return "retrying"


def _send_claimed(db: Database, settings: Settings, summary_id: int) -> str:
    row = one(db, "SELECT workspace_id, week FROM weekly_summaries WHERE id = ?", [summary_id])
    if row is None:
        return "gone"
    workspace_id = row["workspace_id"]
    with write_transaction(db):
        if not is_enabled(db, workspace_id):
            db.execute("UPDATE weekly_summaries SET status = 'skipped' WHERE id = ?", [summary_id])
            workrows.complete(db, TABLE, summary_id)
            return "skipped"
        start = datetime.fromisoformat(row["week"]).replace(tzinfo=UTC)
        summary = summarize(db, workspace_id, start, start + timedelta(days=7))
        context = email_context(summary, settings.public_url)
        recipients = owner_emails(db, workspace_id)
        for address in recipients:
            queue_email(
                db,
                settings,
                workspace_id=workspace_id,
                kind=KIND,
                to_email=address,
                context=context,
                dedupe_key=f"{KIND}:{row['week']}:{address.lower()}",
            )
        db.execute(
            "UPDATE weekly_summaries SET status = 'sent', recipients = ?, sent_at = ? WHERE id = ?",
            [len(recipients), clock.iso(), summary_id],
        )
        workrows.complete(db, TABLE, summary_id)
    log.info(
        "weekly summary of workspace %s for the week of %s queued to %d owners",
        workspace_id,
        row["week"],
        len(recipients),
    )
    return "sent"


def recent(db: Database, workspace_id: int, limit: int = 5) -> list[dict]:
    """The last summaries of a workspace, newest first, for the settings page."""
    return all_rows(
        db,
        "SELECT week, status, recipients, sent_at, created_at FROM weekly_summaries WHERE workspace_id = ? "
        "ORDER BY week DESC LIMIT ?",
        [workspace_id, limit],
    )


def render_preview(db: Database, public_url: str, workspace_id: int):
    """Last week's summary as it would go out, with this workspace's real numbers; nothing is
    queued."""
    from backstop.email.branding import get_branding
    from backstop.email.render import render_email

    start, end = last_full_week()
    context = email_context(summarize(db, workspace_id, start, end), public_url)
    return render_email(KIND, context, get_branding(db, workspace_id), public_url, context["settings_url"])
