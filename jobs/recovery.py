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


@huey.task(name="recovery.run_released")
def run_released(workspace_id: int, items: list[list]) -> list[str | None]:
    """Run what a lifted pause released, one after another in the given order (the order it came
    due): ``items`` are ``[table, id]`` pairs from ``pause.resume``. A dunning step's email goes
    right after its step. Each row is claimed as usual, so a row another worker already ran is
    skipped, never run twice."""
    from backstop.email import messages, providers, sending
    from backstop.recovery import winback

    conf = settings()
    box = SecretBox(conf.secret_key)
    mailer = providers.mailer_for(conf)
    outcomes: list[str | None] = []
    released_emails = {row_id for table, row_id in items if table == "email_messages"}
    with app_db() as db:

        def gateway_for(ws: int):
            return connection.gateway(db, box, conf, ws)

        for table, row_id in items:
            if table == "recovery_steps":
                outcomes.append(steps.run_step(db, row_id, settings=conf, gateway_for=gateway_for))
            elif table == "winbacks":
                outcomes.append(winback.send(db, row_id, conf))
            elif table == "email_messages":
                outcomes.append(sending.send_message(db, conf, row_id, mailer))
            if table != "email_messages":  # the email a step or a win-back just queued
                for message_id in messages.due_ids(db, workspace_id):
                    if message_id in released_emails:
                        continue  # its turn comes in the order it came due
                    outcomes.append(sending.send_message(db, conf, message_id, mailer))
    return outcomes
