"""Embed and portal-domain upkeep: re-check portal domains' DNS, forget expired hosted sessions."""

from __future__ import annotations

from huey import crontab

from backstop.embed import hosted, portal_domains
from jobs.queue import app_db, huey, settings


@huey.periodic_task(crontab(minute="*/30"), name="embed.recheck_portal_domains")
def recheck_portal_domains() -> int:
    """Every 30 minutes: waiting domains verify without a click; a verified domain whose records
    are definitely gone stops being served (a resolver that doesn't answer changes nothing)."""
    with app_db() as db:
        return portal_domains.recheck_all(db, settings())


@huey.periodic_task(crontab(minute="41"), name="embed.forget_hosted_sessions")
def forget_hosted_sessions() -> int:
    """Hourly: portal and payment-wall sessions a day past their expiry."""
    with app_db() as db:
        return hosted.forget_expired(db)
