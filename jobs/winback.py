"""Win-back and reminder tasks: send each due win-back email; warn about expiring cards daily."""

from __future__ import annotations

from huey import crontab

from backstop.recovery import reminders as _reminders
from backstop.recovery import winback
from jobs.queue import app_db, huey, settings


@huey.task(name="winback.send")
def send(winback_id: int) -> str | None:
    with app_db() as db:
        return winback.send(db, winback_id, settings())


@huey.periodic_task(crontab(minute="7"), name="winback.send_due")
def send_due() -> int:
    """Hourly: win-backs whose day has come. The cost follows what is due, not the table size."""
    with app_db() as db:
        ids = winback.due_ids(db)
    for row_id in ids:
        send(row_id)
    return len(ids)


@huey.periodic_task(crontab(minute="23", hour="9"), name="reminders.card_expiry")
def card_expiry_warnings() -> int:
    """Daily: warn customers whose card expires before their next renewal (once per card and period)."""
    with app_db() as db:
        return _reminders.queue_card_expiry_warnings(db, settings())
