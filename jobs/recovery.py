"""Recovery tasks: run each due step; a periodic pass finds what is due."""

from __future__ import annotations

from huey import crontab

from backstop.lib.crypto import SecretBox
from backstop.recovery import steps
from backstop.stripe_sync import connection
from jobs.queue import app_db, huey, settings


@huey.task(name="recovery.run_step")
def run_step(step_id: int) -> str | None:
    conf = settings()
    box = SecretBox(conf.secret_key)
    with app_db() as db:
        return steps.run_step(
            db, step_id, settings=conf, gateway_for=lambda ws: connection.gateway(db, box, conf, ws)
        )


@huey.periodic_task(crontab(minute="*"), name="recovery.run_due_steps")
def run_due_steps() -> int:
    """Enqueue every due step of unpaused workspaces, oldest first. Paused work simply stays due
    and goes out in order once the workspace is unpaused."""
    with app_db() as db:
        ids = steps.due_step_ids(db)
    for step_id in ids:
        run_step(step_id)
    return len(ids)


@huey.task(name="recovery.kick")
def kick() -> int:
    """Run what is due now, without waiting for the next minute (after an event or unpausing)."""
    return run_due_steps.call_local()
