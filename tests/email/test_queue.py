"""Queuing and sending with the outbox transport: rows first, suppression, escaping, injection."""

from __future__ import annotations

import email
import email.policy

import pytest

from backstop.db import one
from backstop.email import branding, providers, sending, suppression
from backstop.email.kinds import KINDS
from backstop.email.messages import queue_email, send_again
from backstop.workspaces.workspaces import create_workspace


def queue(db, settings, acme, kind="dunning_1", to="sam@customer.test", **extra):
    context = {**KINDS[kind].sample, **extra.pop("context", {})}
    return queue_email(db, settings, workspace_id=acme.id, kind=kind, to_email=to, context=context, **extra)


def send(db, settings, message_id):
    return sending.send_message(db, settings, message_id, providers.mailer_for(settings))


def row(db, message_id):
    return one(db, "SELECT * FROM email_messages WHERE id = ?", [message_id])


def test_it_keeps_outbox_mail_viewable_and_marks_it_sent_nowhere(db, settings, acme):
    queued = queue(db, settings, acme, to_name="Sam")
    assert send(db, settings, queued.id) == "sent"
    r = row(db, queued.id)
    assert r["transport"] == "outbox" and r["status"] == "sent"
    assert "Update your card" in r["html"] and "$49.00" in r["text"]
    assert r["from_header"] == "Acme Analytics <outbox@backstop.invalid>"


def test_it_sends_a_claimed_message_only_once(db, settings, acme):
    queued = queue(db, settings, acme)
    assert send(db, settings, queued.id) == "sent"
    assert send(db, settings, queued.id) == "not-due"


def test_a_customer_name_cannot_inject_headers(db, settings, acme):
    queued = queue(
        db, settings, acme, to_name="Sam\r\nBcc: victim@evil.test", context={"plan_name": "Pro\r\nX-Evil: 1"}
    )
    r = row(db, queued.id)
    raw, _ = sending.build_mime(r, "Acme", "billing@shared.test", None)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert parsed["To"].addresses[0].display_name == "Sam Bcc: victim@evil.test"
    assert parsed["To"].addresses[0].addr_spec == "sam@customer.test"


def test_it_escapes_customer_data_in_html(db, settings, acme):
    queued = queue(
        db, settings, acme, to_name="<script>alert(1)</script>", context={"plan_name": "<b>Pro</b>"}
    )
    html = row(db, queued.id)["html"]
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;Pro&lt;/b&gt;" in html


def test_every_email_carries_one_click_unsubscribe(db, settings, acme):
    queued = queue(db, settings, acme)
    r = row(db, queued.id)
    raw, _ = sending.build_mime(r, "Acme", "billing@shared.test", "help@acme.test")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["List-Unsubscribe"] == f"<{r['unsubscribe_url']}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Reply-To"] == "help@acme.test"
    assert r["unsubscribe_url"] in parsed.get_body(("plain",)).get_content()
    assert parsed.get_body(("html",)).get_content().count(r["unsubscribe_url"]) == 1


def test_dunning_reaches_an_unsubscribed_customer_but_winback_does_not(db, settings, acme):
    suppression.record(db, acme.id, "sam@customer.test", "unsubscribed_at")
    assert queue(db, settings, acme, "dunning_3").status == "queued"
    winback = queue(db, settings, acme, "winback")
    assert winback.status == "suppressed"
    assert "unsubscribed" in row(db, winback.id)["status_reason"]


@pytest.mark.parametrize("column", ["bounced_at", "complained_at"])
def test_nothing_goes_to_a_bounced_or_complaining_address(db, settings, acme, column):
    suppression.record(db, acme.id, "Sam@Customer.test", column)
    for kind in ("dunning_1", "payment_recovered", "winback"):
        assert queue(db, settings, acme, kind).status == "suppressed"


def test_a_complaint_after_queuing_stops_the_send(db, settings, acme):
    queued = queue(db, settings, acme)
    suppression.record(db, acme.id, "sam@customer.test", "complained_at")
    assert send(db, settings, queued.id) == "suppressed"
    assert "marked an earlier email as spam" in row(db, queued.id)["status_reason"]


def test_suppression_belongs_to_one_workspace(db, settings, acme, box, olivia):
    other, _ = create_workspace(db, box, "Beta", olivia.admin, "beta")
    suppression.record(db, other.id, "sam@customer.test", "unsubscribed_at")
    assert queue(db, settings, acme, "winback").status == "queued"


def test_an_invalid_address_is_recorded_as_failed_with_the_reason(db, settings, acme):
    queued = queue(db, settings, acme, to="not-an-address")
    assert queued.status == "failed"
    assert "isn't a valid email address" in row(db, queued.id)["status_reason"]


def test_mail_without_any_sender_waits_as_blocked(db, settings, acme):
    smtp_settings = settings.with_overrides(email_transport="smtp", smtp_url="smtp+plain://127.0.0.1:1")
    queued = queue(db, smtp_settings, acme)
    assert send(db, smtp_settings, queued.id) == "blocked"
    r = row(db, queued.id)
    assert r["status"] == "blocked" and r["work_state"] == "held"
    assert "BACKSTOP_SHARED_SENDER" in r["status_reason"]


def test_branding_shapes_the_email(db, settings, acme):
    branding.save_branding(
        db, acme.id, {"from_name": "Acme Billing", "brand_color": "#ff6600", "footer": "Acme Ltd, 1 Main St"}
    )
    queued = queue(db, settings, acme)
    send(db, settings, queued.id)
    r = row(db, queued.id)
    assert r["from_header"] == "Acme Billing <outbox@backstop.invalid>"
    assert "background: #ff6600" in r["html"] and "Acme Ltd, 1 Main St" in r["html"]


def test_only_failed_messages_can_be_sent_again(db, settings, acme):
    queued = queue(db, settings, acme)
    assert not send_again(db, acme.id, queued.id)
    db.execute("UPDATE email_messages SET status = 'failed', work_state = 'failed' WHERE id = ?", [queued.id])
    assert not send_again(db, acme.id + 1, queued.id)
    assert send_again(db, acme.id, queued.id)
    assert send(db, settings, queued.id) == "sent"
