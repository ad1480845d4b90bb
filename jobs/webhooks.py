"""Outbound webhook tasks: make one delivery attempt. New deliveries are handed here right after
the change that caused them commits (``workrows.ready_after_commit``); the sweeper re-enqueues
retries that come due and rows a dead worker left behind (the table is listed in
``backstop.manifest``)."""

from __future__ import annotations

from backstop.webhooks_out import delivery
from jobs.queue import app_db, huey, settings


@huey.task(name="webhooks.deliver")
def deliver(delivery_id: int) -> str:
    with app_db() as db:
        return delivery.deliver(db, settings(), delivery_id)
