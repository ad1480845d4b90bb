"""Emails: the send log with its filters, messages as customers see them, previews, diagnostic."""

from __future__ import annotations

from backstop.email import providers, sending
from backstop.email.kinds import KINDS, previewable
from backstop.email.messages import queue_email
from backstop.workspaces.workspaces import create_workspace
from tests.builders import text_of
from tests.conftest import post_form


def queue(db, settings, workspace, kind="dunning_1", to="sam@customer.test", send=True):
    queued = queue_email(
        db,
        settings,
        workspace_id=workspace.id,
        kind=kind,
        to_email=to,
        to_name="Sam",
        context=KINDS[kind].sample,
    )
    if send:
        sending.send_message(db, settings, queued.id, providers.mailer_for(settings))
    return queued.id


def test_the_outbox_says_nothing_was_delivered_and_shows_the_email(as_olivia, db, settings, acme):
    message_id = queue(db, settings, acme)
    log = text_of(as_olivia.get("/w/acme/emails").text)
    assert "Not delivered — outbox mode." in log
    assert "sam@customer.test" in log and "In outbox" in log
    detail = as_olivia.get(f"/w/acme/emails/{message_id}")
    assert "Your payment for Acme Analytics didn't go through" in text_of(detail.text)
    frame = as_olivia.get(f"/w/acme/emails/{message_id}/html")
    assert "Update your card" in frame.text
    assert frame.headers["x-frame-options"] == "SAMEORIGIN"
    assert "script-src" not in frame.headers["content-security-policy"]


def test_every_workspace_page_carries_the_outbox_banner(as_olivia):
    assert "Emails are not delivered — outbox mode" in text_of(as_olivia.get("/w/acme/overview").text)


def test_the_log_filters_by_status_kind_and_search(as_olivia, db, settings, acme):
    queue(db, settings, acme, "dunning_1", "sam@customer.test")
    queue(db, settings, acme, "winback", "kim@customer.test", send=False)
    queued_only = text_of(as_olivia.get("/w/acme/emails?status=queued").text)
    assert "kim@customer.test" in queued_only and "sam@customer.test" not in queued_only
    by_kind = text_of(as_olivia.get("/w/acme/emails?kind=dunning_1").text)
    assert "sam@customer.test" in by_kind and "kim@customer.test" not in by_kind
    searched = text_of(as_olivia.get("/w/acme/emails?q=kim").text)
    assert "kim@customer.test" in searched and "sam@customer.test" not in searched
    assert "No messages match this filter." in text_of(as_olivia.get("/w/acme/emails?status=bounced").text)


def test_another_workspaces_messages_stay_invisible(as_olivia, db, settings, box, marco, acme):
    other, _ = create_workspace(db, box, "Marco's Shop", marco.admin, "marco")
    message_id = queue(db, settings, other, to="secret@other.test")
    assert "secret@other.test" not in as_olivia.get("/w/acme/emails").text
    assert as_olivia.get(f"/w/acme/emails/{message_id}").status_code == 404
    assert as_olivia.get(f"/w/acme/emails/{message_id}/html").status_code == 404


def test_the_send_diagnostic_goes_to_the_signed_in_admin(as_olivia, olivia):
    response = post_form(as_olivia, "/w/acme/emails", "/w/acme/emails/diagnostic", {})
    detail = text_of(as_olivia.get(response.headers["location"]).text)
    assert "Backstop send diagnostic for Acme Analytics" in detail
    assert f"<{olivia.admin.email}>" in detail and "In outbox" in detail


def test_every_template_has_a_preview_with_sample_data(as_olivia):
    index = text_of(as_olivia.get("/w/acme/emails/templates").text)
    for kind in previewable():
        assert kind.label in index
        page = as_olivia.get(f"/w/acme/emails/templates/{kind.key}")
        assert page.status_code == 200 and "Plain-text version" in page.text
        assert as_olivia.get(f"/w/acme/emails/templates/{kind.key}/html").status_code == 200
    assert as_olivia.get("/w/acme/emails/templates/nope").status_code == 404


def test_a_failed_message_can_be_sent_again(as_olivia, db, settings, acme):
    message_id = queue(db, settings, acme, send=False)
    db.execute(
        "UPDATE email_messages SET status = 'failed', work_state = 'failed', status_reason = 'SES refused' "
        "WHERE id = ?",
        [message_id],
    )
    page = f"/w/acme/emails/{message_id}"
    assert "SES refused" in text_of(as_olivia.get(page).text)
    post_form(as_olivia, page, page + "/send-again", {})
    assert "In outbox" in text_of(as_olivia.get(page).text)


def test_a_send_that_failed_shows_why_and_when_it_is_tried_again(as_olivia, db, settings, acme, monkeypatch):
    import sqlite3
    from datetime import timedelta

    import time_machine

    from backstop import clock
    from backstop.db import one

    message_id = queue(db, settings, acme, send=False)
    real = sending.get_branding

    def locked(*args):
        raise sqlite3.OperationalError("database is locked")

    with time_machine.travel(clock.now().replace(microsecond=0), tick=False) as frozen:
        monkeypatch.setattr(sending, "get_branding", locked)
        assert sending.send_message(db, settings, message_id, providers.mailer_for(settings)) == "retrying"
        row = one(db, "SELECT * FROM email_messages WHERE id = ?", [message_id])
        assert (row["work_state"], row["claimed_until"], row["status"]) == ("pending", None, "queued")
        assert clock.parse(row["due_at"]) == clock.now() + timedelta(seconds=5)

        log = text_of(as_olivia.get("/w/acme/emails").text)
        assert "Try 1 failed, will try again: OperationalError: database is locked" in log
        detail = text_of(as_olivia.get(f"/w/acme/emails/{message_id}").text)
        assert "Attempts 1 · last: OperationalError: database is locked" in detail

        monkeypatch.setattr(sending, "get_branding", real)
        frozen.shift(timedelta(seconds=5))
        assert sending.send_message(db, settings, message_id, providers.mailer_for(settings)) == "sent"
    assert "database is locked" not in text_of(as_olivia.get("/w/acme/emails").text)


def test_sending_another_workspaces_message_again_is_a_404_and_changes_nothing(
    as_olivia, db, settings, box, marco, acme
):
    other, _ = create_workspace(db, box, "Marco's Shop", marco.admin, "marco")
    message_id = queue(db, settings, other, to="secret@other.test", send=False)
    db.execute(
        "UPDATE email_messages SET status = 'failed', work_state = 'failed' WHERE id = ?", [message_id]
    )
    answer = post_form(as_olivia, "/w/acme/emails", f"/w/acme/emails/{message_id}/send-again", {})
    assert answer.status_code == 404
    assert (
        db.execute("SELECT status FROM email_messages WHERE id = ?", [message_id]).fetchone()[0] == "failed"
    )
