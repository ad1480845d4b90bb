"""SES bounce and complaint notifications, delivered by SNS to ``POST /hooks/ses``.

A notification is trusted only with a valid SNS signature, and acted on only when it names a
message Backstop sent (by SES message id): that ties it to one workspace, and a stranger who
subscribed their own topic to the hook can't suppress anyone. Each SNS message id is handled once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from sqlite_utils import Database

from backstop import clock
from backstop.connectors.ses.sns import SnsError, SnsVerifier
from backstop.db import all_rows
from backstop.email import suppression

log = logging.getLogger("backstop.email.feedback")


@dataclass(frozen=True)
class Outcome:
    status_code: int
    text: str


def handle_sns(
    db: Database, verifier: SnsVerifier, body: bytes, allowed_topics: tuple[str, ...] = ()
) -> Outcome:
    try:
        message = json.loads(body)
        if not isinstance(message, dict):
            raise ValueError
    except RecursionError:
        return Outcome(400, "The body is nested too deeply to be an SNS message.")
    except ValueError:
        return Outcome(400, "The body is not an SNS message (JSON object expected).")
    try:
        verifier.verify(message)
    except SnsError as exc:
        log.warning("refused an SNS message: %s", exc)
        return Outcome(403, f"Signature not accepted: {exc}")
    topic = message.get("TopicArn", "")
    if allowed_topics and topic not in allowed_topics:
        return Outcome(403, f"Topic {topic} is not in BACKSTOP_SNS_TOPIC_ARNS.")
    kind = message.get("Type")
    if kind == "SubscriptionConfirmation":
        try:
            verifier.fetch(message.get("SubscribeURL", ""))
        except SnsError as exc:
            return Outcome(502, f"Could not confirm the subscription: {exc}")
        log.info("confirmed the SNS subscription to %s", topic)
        return Outcome(200, "Subscription confirmed.")
    if kind != "Notification":
        return Outcome(200, f"Nothing to do for {kind}.")
    cur = db.execute(
        "INSERT INTO ses_notifications (message_id, type, topic_arn, outcome, received_at) "
        "VALUES (?, ?, ?, 'received', ?) ON CONFLICT (message_id) DO NOTHING",
        [message.get("MessageId", ""), kind, topic, clock.iso()],
    )
    if cur.rowcount == 0:
        return Outcome(200, "Already handled.")
    outcome = apply_ses_event(db, message.get("Message", ""))
    db.execute(
        "UPDATE ses_notifications SET outcome = ? WHERE message_id = ?",
        [outcome, message.get("MessageId", "")],
    )
    return Outcome(200, outcome)


def apply_ses_event(db: Database, raw: str) -> str:
    try:
        event = json.loads(raw)
    except ValueError:
        return "ignored: the notification's Message is not JSON"
    kind = event.get("notificationType") or event.get("eventType")
    ses_id = (event.get("mail") or {}).get("messageId")
    rows = all_rows(
        db,
        "SELECT id, workspace_id, to_email FROM email_messages WHERE provider_message_id = ? "
        "AND transport = 'ses'",
        [ses_id or ""],
    )
    if not rows:
        return f"ignored: no message with SES id {ses_id}"
    msg = rows[0]
    if kind == "Bounce":
        bounce = event.get("bounce") or {}
        recipients = [r.get("emailAddress", "") for r in bounce.get("bouncedRecipients") or []]
        detail = "; ".join(
            f"{r.get('emailAddress')}: {r.get('diagnosticCode') or r.get('status') or 'bounced'}"
            for r in bounce.get("bouncedRecipients") or []
        )
        if bounce.get("bounceType") != "Permanent":
            _mark(db, msg["id"], None, f"Soft bounce ({bounce.get('bounceSubType')}): {detail}")
            return "soft bounce noted"
        for address in recipients or [msg["to_email"]]:
            suppression.record(db, msg["workspace_id"], address, "bounced_at", detail[:500])
        _mark(db, msg["id"], "bounced", f"Bounced: {detail}" if detail else "Bounced permanently.")
        return "hard bounce recorded"
    if kind == "Complaint":
        complaint = event.get("complainedRecipients") or (event.get("complaint") or {}).get(
            "complainedRecipients"
        )
        addresses = [r.get("emailAddress", "") for r in complaint or []] or [msg["to_email"]]
        for address in addresses:
            suppression.record(db, msg["workspace_id"], address, "complained_at")
        feedback = (event.get("complaint") or {}).get("complaintFeedbackType")
        _mark(db, msg["id"], "complained", f"Marked as spam{f' ({feedback})' if feedback else ''}.")
        return "complaint recorded"
    return f"ignored: {kind} notifications change nothing"


def _mark(db: Database, message_id: int, status: str | None, reason: str) -> None:
    if status is None:
        db.execute(
            "UPDATE email_messages SET status_reason = ?, updated_at = ? WHERE id = ?",
            [reason[:1000], clock.iso(), message_id],
        )
    else:
        db.execute(
            "UPDATE email_messages SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?",
            [status, reason[:1000], clock.iso(), message_id],
        )
