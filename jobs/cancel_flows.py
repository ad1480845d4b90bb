"""Cancel-flow tasks: carry out a session's Stripe change; close sessions left open an hour."""

from __future__ import annotations

from huey import crontab

from backstop.cancel_flows import sessions
from backstop.embed import tokens
from backstop.lib.crypto import SecretBox
from backstop.stripe_sync import connection
from jobs import sweeper
from jobs.queue import app_db, huey, settings


@huey.task(name="cancel_flows.apply_action")
def apply_action(action_id: int) -> str:
    conf = settings()
    box = SecretBox(conf.secret_key)
    with app_db() as db:
        return sessions.run_action(
            db, action_id, lambda ws: connection.gateway(db, box, conf, ws, max_attempts=2, timeout=15.0)
        )


@huey.periodic_task(crontab(minute="*/5"), name="cancel_flows.close_abandoned")
def close_abandoned() -> int:
    """Every five minutes: sessions opened over an hour ago and never decided are abandoned; used
    embed-token ids older than a day are forgotten."""
    with app_db() as db:
        closed = sessions.close_abandoned(db)
        tokens.forget_expired_uses(db)
    return closed


# A failed Stripe call leaves its row pending with a backoff; the sweeper brings it back.
sweeper.register(sessions.ACTIONS_TABLE, apply_action)
