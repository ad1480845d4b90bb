"""Email tasks: send one queued message, re-check pending send domains.

Tasks take ids and call domain functions; the rows they act on are the truth, so enqueuing a
message twice (a request and the sweeper) is harmless.
"""

from __future__ import annotations

import logging

from huey import crontab

from backstop.email import messages, providers, send_domains, sending
from jobs.queue import app_db, huey, settings

log = logging.getLogger("backstop.jobs.email")


@huey.task(name="email.send_message")
def send_message(message_id: int) -> str:
    with app_db() as db:
        return sending.send_message(db, settings(), message_id, providers.mailer_for(settings()))


def enqueue(message_ids: list[int]) -> None:
    for message_id in message_ids:
        send_message(message_id)


@huey.periodic_task(crontab(minute="*/10"), name="email.recheck_send_domains")
def recheck_send_domains() -> dict[int, str]:
    """Ask SES and DNS again about every pending domain; release mail of the ones now verified."""
    results: dict[int, str] = {}
    config = settings()
    with app_db() as db:
        identities = providers.domain_identities(config)
        resolver = providers.dns_resolver(config)
        for workspace_id in send_domains.pending_workspace_ids(db):
            try:
                domain, released = send_domains.verify_domain(db, identities, resolver, workspace_id)
            except Exception:  # one workspace's failure must not stop the others
                log.exception("re-checking the send domain of workspace %s failed", workspace_id)
                continue
            results[workspace_id] = domain.status
            enqueue(released)
        # Mail held for a reason that has since gone (a shared sender configured and the server
        # restarted, a domain removed elsewhere) is tried again; it is held again if still blocked.
        for workspace_id in messages.held_workspace_ids(db):
            if send_domains.get_send_domain(db, workspace_id) is None:
                enqueue(messages.release_held(db, workspace_id))
    return results
