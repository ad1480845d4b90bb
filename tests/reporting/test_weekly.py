"""The weekly summary: off by default, once per week per workspace, to every owner, with the
week's own numbers, through the workspace's email queue."""

from __future__ import annotations

import time_machine

from backstop.email import holds
from backstop.reporting import weekly
from backstop.workspaces.workspaces import add_member, create_workspace
from tests.builders import put_row
from tests.email.fixtures import SHARED_SENDER, aws_env, ses  # noqa: F401 - fixtures

MONDAY = "2026-11-30 09:00:00+00:00"  # the week of 23 to 29 November has just ended
LAST_WEEK = "2026-11-25T10:00:00+00:00"
WEEK_BEFORE = "2026-11-18T10:00:00+00:00"


def summaries(db, workspace_id: int) -> list[dict]:
    return [
        dict(r)
        for r in db.execute(
            "SELECT week, status, recipients, work_state FROM weekly_summaries WHERE workspace_id = ?",
            [workspace_id],
        )
    ]


def summary_emails(db, workspace_id: int) -> list[dict]:
    return [
        dict(r)
        for r in db.execute(
            "SELECT to_email, subject, text, status, work_state FROM email_messages "
            "WHERE workspace_id = ? AND kind = 'weekly_summary' ORDER BY id",
            [workspace_id],
        )
    ]


def turn_on(db, workspace_id: int) -> None:
    with time_machine.travel("2026-11-20 12:00:00+00:00", tick=False):
        weekly.set_enabled(db, workspace_id, True)


def campaign(
    db, workspace_id: int, status: str, closed_at: str | None, amount: int = 4900, opened_at=LAST_WEEK
):
    values = {"workspace_id": workspace_id, "status": status, "amount_due": amount, "currency": "usd"}
    put_row(
        db,
        "campaigns",
        {
            **values,
            "invoice_id": f"in_{status}_{closed_at}_{amount}",
            "closed_at": closed_at,
            "opened_at": opened_at,
            "customer_email": "ada@acme.test",
        },
    )


def run_week(db, settings) -> list[str]:
    with time_machine.travel(MONDAY, tick=False):
        return [weekly.send_summary(db, settings, row_id) for row_id in weekly.schedule_due(db)]


def test_it_is_off_by_default(db, settings, acme):
    assert weekly.is_enabled(db, acme.id) is False
    assert run_week(db, settings) == []
    assert summaries(db, acme.id) == [] and summary_emails(db, acme.id) == []


def test_it_sends_each_owner_one_summary_of_the_week_that_ended(db, settings, acme, marco):
    add_member(db, acme, marco.admin.email, "owner")
    turn_on(db, acme.id)
    campaign(db, acme.id, "recovered", LAST_WEEK, 4900)
    campaign(db, acme.id, "recovered", LAST_WEEK, 2900)
    campaign(db, acme.id, "recovered", WEEK_BEFORE, 9900)  # not last week's
    campaign(db, acme.id, "lost", LAST_WEEK, 1900)
    campaign(db, acme.id, "in_flight", None, 4900, opened_at="2026-11-01T10:00:00+00:00")
    put_row(
        db,
        "cancel_sessions",
        {
            "workspace_id": acme.id, "key_hash": "k1", "source": "embed", "customer_id": "cus_1", "arm": "flow",
            "state": "finished", "outcome": "saved_discount", "currency": "usd", "mrr_saved": 3900,
            "opened_at": LAST_WEEK, "finished_at": LAST_WEEK,
        },
    )  # fmt: skip

    assert run_week(db, settings) == ["sent"]

    assert summaries(db, acme.id) == [
        {"week": "2026-11-23", "status": "sent", "recipients": 2, "work_state": "done"}
    ]
    emails = summary_emails(db, acme.id)
    assert [e["to_email"] for e in emails] == ["olivia@acme.test", "marco@acme.test"]
    email = emails[0]
    assert email["subject"] == "Your week with Backstop: Acme Analytics, 23–29 November 2026"
    assert "Recovered: $78.00 from 2 failed payments" in email["text"]
    assert "Lost: $19.00 from 1 campaign that ran out of retries" in email["text"]
    assert "Saved by cancel flows: $39.00 of monthly revenue from 1 save" in email["text"]
    assert "1 campaign has been in flight for 14 days or more." in email["text"]
    assert "- ada@acme.test, $49.00, open since 1 November: http://" in email["text"]
    assert email["status"] == "queued" and email["work_state"] == "pending"


def test_a_restart_or_a_second_run_never_sends_a_week_twice(db, settings, acme):
    turn_on(db, acme.id)
    assert run_week(db, settings) == ["sent"]
    with time_machine.travel(MONDAY, tick=False):
        assert weekly.schedule_due(db) == []  # the next hour's scheduler
        row_id = db.execute("SELECT id FROM weekly_summaries").fetchone()[0]
        assert weekly.send_summary(db, settings, row_id) == "not_due"  # the sweeper's twin
    # A process that died mid-send: its lease runs out and the row runs again; the emails it had
    # queued are found by their dedupe keys, not queued again.
    db.execute(
        "UPDATE weekly_summaries SET work_state = 'working', claimed_until = '2026-11-30T09:01:00+00:00'"
    )
    with time_machine.travel("2026-11-30 10:00:00+00:00", tick=False):
        assert weekly.send_summary(db, settings, row_id) == "sent"
    assert len(summary_emails(db, acme.id)) == 1


def test_the_next_week_gets_its_own_summary(db, settings, acme):
    turn_on(db, acme.id)
    run_week(db, settings)
    with time_machine.travel("2026-12-07 08:00:00+00:00", tick=False):
        for row_id in weekly.schedule_due(db):
            weekly.send_summary(db, settings, row_id)
    assert [s["week"] for s in summaries(db, acme.id)] == ["2026-11-23", "2026-11-30"]
    assert len(summary_emails(db, acme.id)) == 2


def test_a_week_that_ended_before_it_was_turned_on_is_not_sent(db, settings, acme):
    with time_machine.travel("2026-12-01 12:00:00+00:00", tick=False):
        weekly.set_enabled(db, acme.id, True)
        assert weekly.schedule_due(db) == []


def test_turned_off_before_it_went_out_it_is_skipped(db, settings, acme):
    turn_on(db, acme.id)
    with time_machine.travel(MONDAY, tick=False):
        [row_id] = weekly.schedule_due(db)
        weekly.set_enabled(db, acme.id, False)
        assert weekly.send_summary(db, settings, row_id) == "skipped"
    assert summaries(db, acme.id)[0]["status"] == "skipped"
    assert summary_emails(db, acme.id) == []


def test_only_workspaces_that_asked_get_one(db, settings, box, acme, olivia):
    other, _ = create_workspace(db, box, "Bolt Bikes", olivia.admin, "bolt")
    turn_on(db, acme.id)
    run_week(db, settings)
    assert summary_emails(db, other.id) == []
    assert len(summary_emails(db, acme.id)) == 1


def test_a_paused_workspace_still_tells_its_owners(db, settings, acme):
    turn_on(db, acme.id)
    holds.hold(db, acme.id)
    run_week(db, settings)
    [email] = summary_emails(db, acme.id)
    assert email["work_state"] == "pending"


def test_the_preview_uses_the_workspaces_numbers(db, settings, acme):
    campaign(db, acme.id, "recovered", LAST_WEEK, 4900)
    with time_machine.travel(MONDAY, tick=False):
        preview = weekly.render_preview(db, settings.public_url, acme.id)
    assert "$49.00 from 1 failed payment" in preview.text
    assert summary_emails(db, acme.id) == []


def test_an_owner_who_unsubscribed_gets_no_more_summaries(db, settings, acme):
    from backstop.email import suppression

    turn_on(db, acme.id)
    suppression.record(db, acme.id, "olivia@acme.test", "unsubscribed_at")
    run_week(db, settings)
    [email] = summary_emails(db, acme.id)
    assert email["status"] == "suppressed"


def test_it_goes_out_through_the_workspaces_transport(db, settings, acme, ses):  # noqa: F811 - the fixture imported above
    from backstop.email import providers, sending

    ses_settings = settings.with_overrides(email_transport="ses", shared_sender=SHARED_SENDER)
    turn_on(db, acme.id)
    run_week(db, ses_settings)
    message_id = db.execute("SELECT id FROM email_messages WHERE kind = 'weekly_summary'").fetchone()[0]
    with time_machine.travel(MONDAY, tick=False):
        assert (
            sending.send_message(db, ses_settings, message_id, providers.mailer_for(ses_settings)) == "sent"
        )
    [sent] = ses.sent_messages
    assert sent.source == SHARED_SENDER
    assert "Subject: Your week with Backstop: Acme Analytics" in sent.raw_data
    assert set(sent.destinations) == {"olivia@acme.test"}
