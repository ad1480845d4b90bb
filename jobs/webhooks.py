"""Outbound webhook tasks: make one delivery attempt. New deliveries are handed here right after
the change that caused them commits; the sweeper re-enqueues retries that come due and rows a
dead worker left behind."""

from __future__ import annotations

from backstop.webhooks_out import delivery, events
from jobs.queue import app_db, huey, settings
from jobs.sweeper import register


@huey.task(name="webhooks.deliver")
def deliver(delivery_id: int) -> str:
    with app_db() as db:
        return delivery.deliver(db, settings(), delivery_id)


def enqueue(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        deliver(delivery_id)


register(delivery.TABLE, deliver)
events.set_dispatcher(enqueue)
