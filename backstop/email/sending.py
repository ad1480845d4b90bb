"""Sending one queued message: claim it, decide the sender, hand it over exactly once.

The hand-over is fenced: ``handoff_at`` is committed just before the provider is called and
the result just after. A run that finds ``handoff_at`` set without a result knows an earlier
run died in between, when the provider may or may not have taken the message. It does not send
again (that could deliver it twice); it marks the message failed with that reason, and an admin
can send it again from the send log.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr

from sqlite_utils import Database

from backstop import clock
from backstop.connectors.ses import Mailer, MaybeSent, NotSent, OutgoingEmail, Rejected
from backstop.db import one
from backstop.email import holds, suppression
from backstop.email.branding import get_branding
from backstop.email.messages import TABLE
from backstop.email.policy import DomainState, choose_sender, flatten_header, suppression_reason
from backstop.lib import workrows
from backstop.settings import Settings

log = logging.getLogger("backstop.email.sending")

# The unsubscribe URL is set raw and never refolded: folding a long URL would turn it into
# encoded words that mail clients can't read as a URL. Other headers fold as usual.
_POLICY = SMTP.clone(refold_source="none")

MAX_ATTEMPTS = 15  # with doubling backoff capped at 6 h: about a day and a half of retries
INTERRUPTED = (
    "Sending was interrupted after the message was handed to {transport}: it may have been "
    "delivered. Backstop didn't send it again, to avoid a duplicate. Send it again if the "
    "customer didn't get it."
)


def _domain_state(db: Database, workspace_id: int) -> DomainState | None:
    row = one(
        db, "SELECT domain, from_local, status FROM send_domains WHERE workspace_id = ?", [workspace_id]
    )
    return DomainState(**row) if row else None


def _finish(db: Database, row_id: int, status: str, reason: str | None, work_state: str) -> None:
    db.execute(
        "UPDATE email_messages SET status = ?, status_reason = ?, work_state = ?, claimed_until = NULL, "
        "updated_at = ? WHERE id = ?",
        [status, reason, work_state, clock.iso(), row_id],
    )


def build_mime(row: dict, from_name: str, from_address: str, reply_to: str | None) -> tuple[bytes, str]:
    domain = from_address.rsplit("@", 1)[1]
    message_id = make_msgid(idstring=f"bk{row['id']}", domain=domain)
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = Address(display_name=flatten_header(from_name, 80), addr_spec=from_address)
    msg["To"] = Address(display_name=flatten_header(row["to_name"] or "", 100), addr_spec=row["to_email"])
    msg["Subject"] = flatten_header(row["subject"], 250)
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Date"] = format_datetime(clock.now())
    msg["Message-ID"] = message_id
    # Our own URL (base URL + a URL-safe token): nothing in it can break the header.
    msg.set_raw("List-Unsubscribe", f"<{row['unsubscribe_url']}>")
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["X-Backstop-Kind"] = row["kind"]
    msg.set_content(row["text"])
    msg.add_alternative(row["html"], subtype="html")
    return msg.as_bytes(), message_id


def send_message(db: Database, settings: Settings, message_id: int, mailer: Mailer) -> str:
    """Send one message if it is due; return what became of it."""
    if not workrows.claim(db, TABLE, message_id):
        return "not-due"
    try:
        return _send_claimed(db, settings, message_id, mailer)
    except Exception as exc:  # unplanned: give the message back at once, with why. If it failed
        # after the hand-off fence was written, the next run reports it interrupted, never resends.
        workrows.release_failed(db, TABLE, message_id, exc)
        return "retrying"


def _send_claimed(db: Database, settings: Settings, message_id: int, mailer: Mailer) -> str:
    row = one(db, "SELECT * FROM email_messages WHERE id = ?", [message_id])
    if row is None:
        return "missing"
    if row["handoff_at"] and not row["sent_at"]:
        reason = INTERRUPTED.format(transport=row["transport"] or mailer.name)
        _finish(db, message_id, "failed", reason, "failed")
        log.warning("message %s was interrupted mid-send; not sending it again", message_id)
        return "failed"
    if held := holds.holds(db, row["workspace_id"], row["kind"]):
        # Queued before the pause: it waits with the rest and goes out when the pause is lifted.
        _finish(db, message_id, "queued", held, "held")
        return "held"
    why = suppression_reason(row["category"], suppression.state(db, row["workspace_id"], row["to_email"]))
    if why:
        _finish(db, message_id, "suppressed", why, "done")
        return "suppressed"
    shared = parseaddr(settings.shared_sender)[1] if settings.shared_sender else None
    choice = choose_sender(settings.email_transport, shared, _domain_state(db, row["workspace_id"]))
    if choice.address is None:
        _finish(db, message_id, "blocked", choice.reason, "held")
        return "blocked"
    branding = get_branding(db, row["workspace_id"])
    raw, mime_id = build_mime(row, branding.display_name, choice.address, branding.reply_to)
    from_header = str(
        Address(display_name=flatten_header(branding.display_name, 80), addr_spec=choice.address)
    )
    db.execute(
        "UPDATE email_messages SET handoff_at = ?, transport = ?, from_header = ?, reply_to = ?, "
        "status = 'queued', status_reason = NULL, updated_at = ? WHERE id = ?",
        [clock.iso(), mailer.name, from_header, branding.reply_to, clock.iso(), message_id],
    )
    try:
        provider_id = mailer.send(OutgoingEmail(choice.address, row["to_email"], raw, mime_id))
    except NotSent as exc:
        return _not_sent(db, row, exc.reason)
    except Rejected as exc:
        _after_handoff(db, message_id, "failed", exc.reason, "failed")
        return "failed"
    except MaybeSent as exc:
        reason = INTERRUPTED.format(transport=mailer.name) + f" ({exc.reason})"
        _after_handoff(db, message_id, "failed", reason, "failed")
        return "failed"
    now = clock.iso()
    db.execute(
        "UPDATE email_messages SET status = 'sent', status_reason = NULL, provider_message_id = ?, "
        "sent_at = ?, updated_at = ?, work_state = 'done', claimed_until = NULL, last_error = NULL "
        "WHERE id = ?",
        [provider_id, now, now, message_id],
    )
    return "sent"


def _after_handoff(db: Database, row_id: int, status: str, reason: str, work_state: str) -> None:
    db.execute(
        "UPDATE email_messages SET status = ?, status_reason = ?, work_state = ?, claimed_until = NULL, "
        "last_error = ?, updated_at = ? WHERE id = ?",
        [status, reason[:1000], work_state, reason[:2000], clock.iso(), row_id],
    )


def _not_sent(db: Database, row: dict, reason: str) -> str:
    # The provider did not take it: clear the fence so the next run may send.
    db.execute("UPDATE email_messages SET handoff_at = NULL WHERE id = ?", [row["id"]])
    attempts = row["attempts"]
    if attempts >= MAX_ATTEMPTS:
        _after_handoff(db, row["id"], "failed", f"Gave up after {attempts} tries: {reason}", "failed")
        return "failed"
    due = workrows.backoff(attempts, base=timedelta(seconds=30), cap=timedelta(hours=6))
    workrows.retry_later(db, TABLE, row["id"], due, reason)
    db.execute(
        "UPDATE email_messages SET status_reason = ?, updated_at = ? WHERE id = ?",
        [f"Will try again {clock.iso(due)}: {reason}"[:1000], clock.iso(), row["id"]],
    )
    return "retrying"
