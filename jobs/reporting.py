"""Reporting tasks: the founder's weekly summary. The hourly scheduler writes a work row per
workspace for the week that ended; the send task takes one row id. The sweeper re-enqueues rows
left behind (the table is listed in ``backstop.manifest``)."""

from __future__ import annotations

from huey import crontab

from backstop.reporting import weekly
from jobs.queue import app_db, huey, settings


@huey.task(name="reporting.send_weekly_summary")
def send_weekly_summary(summary_id: int) -> str:
    with app_db() as db:
        return weekly.send_summary(db, settings(), summary_id)


@huey.periodic_task(crontab(minute="7"), name="reporting.schedule_weekly_summaries")
def schedule_weekly_summaries() -> list[int]:
    """Hourly: a summary row for the week that last ended, for each workspace that wants one.
    Hourly rather than once on Monday, so a Backstop that was off on Monday still sends it."""
    with app_db() as db:
        return weekly.schedule_due(db)
