"""Pause recovery holds every charge and every customer email of the workspace, and releases them
in the order they came due, once each, when resumed (against the fake Stripe, the clock moved)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from litestar.testing import TestClient

from backstop import clock
from backstop.connectors.ses.outbox import OutboxMailer
from backstop.db import write_transaction
from backstop.email.branding import save_branding
from backstop.email.messages import queue_email
from backstop.recovery import campaigns, reminders, winback
from jobs import queue
from tests.conftest import login, post_form

PAUSE = "/w/acme/settings/pause-recovery"


@pytest.fixture
def client(stripe_settings, db) -> Iterator[TestClient]:
    from backstop.web.app import create_app

    queue.configure(stripe_settings, immediate=True)
    with TestClient(app=create_app(stripe_settings, run_jobs=False), base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
def outbox(monkeypatch) -> list[str]:
    """What actually left: the X-Backstop-Kind of each message handed to the mail transport."""
    sent: list[str] = []
    original = OutboxMailer.send

    def record(self, mail):
        kind = next(
            line.split(b":", 1)[1].strip().decode()
            for line in mail.raw.splitlines()
            if line.startswith(b"X-Backstop-Kind:")
        )
        sent.append(kind)
        return original(self, mail)

    monkeypatch.setattr(OutboxMailer, "send", record)
    return sent


def backstop_calls(fake):
    """Charges and collection changes Backstop asked Stripe for (replays not counted)."""
    return [
        (r.method, r.path)
        for r in fake.requests.filter("POST")
        if (r.idempotency_key or "").startswith("backstop-") and not r.replayed
    ]


def test_pause_holds_every_send_and_charge_and_resuming_releases_them_in_order_once(
    db, client, olivia, fake_stripe, loop, connected, stripe_settings, outbox
):
    T = clock.now().replace(microsecond=0)
    save_branding(db, connected.id, {"reply_to": "help@acme.test"})
    campaigns.save_winback_settings(db, connected.id, "1", "")
    price = fake_stripe.create_price(4900, "usd", "month", product_name="Pro plan")
    # A customer who canceled: a win-back comes due a day later.
    gone = fake_stripe.create_customer(email="gone@example.com", name="Gail")
    fake_stripe.make_card(gone["id"], default=True)
    fake_stripe.client().v1.subscriptions.cancel(
        fake_stripe.create_subscription(gone["id"], price["id"])["id"]
    )
    # A card that expires before the next renewal, and a trial about to end.
    soon = fake_stripe.create_customer(email="soon@example.com")
    now = datetime.now(UTC)
    fake_stripe.make_card(soon["id"], default=True, exp_month=now.month, exp_year=now.year)
    fake_stripe.create_subscription(soon["id"], price["id"])
    trial = fake_stripe.create_customer(email="trial@example.com")
    fake_stripe.create_subscription(trial["id"], price["id"], trial_period_days=7)
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    loop.settle()
    outbox.clear()
    before = len(backstop_calls(fake_stripe))

    login(client, olivia)
    with time_machine.travel(T, tick=False):
        assert post_form(client, PAUSE, PAUSE, {"paused": "1"}).status_code in (302, 303)
        invoice = fake_stripe.renewal_fails(story.subscription["id"])  # takeover + dunning 1 due now
        loop.settle()
    with time_machine.travel(T + timedelta(days=1, hours=1), tick=False):
        loop.settle()
        assert [winback.send(db, i, stripe_settings) for i in winback.due_ids(db)] == []
        assert winback.send(db, winback.for_workspace(db, connected.id)[0]["id"], stripe_settings) is None
        assert reminders.queue_card_expiry_warnings(db, stripe_settings) == 1
    with time_machine.travel(T + timedelta(days=2), tick=False), write_transaction(db):
        queue_email(  # any other kind of customer email is held too
            db,
            stripe_settings,
            workspace_id=connected.id,
            kind="payment_recovered",
            to_email="paid@example.com",
            context={
                "amount": 4900,
                "currency": "usd",
                "plan_name": "Pro plan",
                "paid_on": "3 March",
                "receipt_url": None,
            },
        )
    with time_machine.travel(T + timedelta(days=2, hours=1), tick=False):
        fake_stripe.advance(days=4, seconds=60)  # Stripe announces the trial's end
        loop.settle()
    with time_machine.travel(T + timedelta(days=4), tick=False):
        loop.settle()  # retry 1 and dunning 2 come due on day 3, and wait

        # Nothing left: no email reached the transport, Stripe saw no charge and no takeover.
        assert outbox == []
        assert backstop_calls(fake_stripe)[before:] == []
        assert fake_stripe.get(invoice["id"])["auto_advance"] is True
        held = db.execute(
            "SELECT kind FROM email_messages WHERE work_state = 'held' AND status = 'queued' ORDER BY id"
        ).fetchall()
        assert [r[0] for r in held] == ["card_expiry", "payment_recovered", "trial_ending"]

        page = client.get(PAUSE).text
        for label, count in (
            ("Charge retries", 1),
            ("Dunning emails", 2),
            ("Taking collection over from Stripe", 1),
            ("Win-back emails", 1),
            ("Card-expiry warning", 1),
            ("Payment-recovered receipt", 1),
            ("Trial-ending reminder", 1),
        ):
            assert f'<tr><td>{label}</td><td class="num">{count}</td></tr>' in page, label
        assert "banner-amber" in page

        assert post_form(client, PAUSE, PAUSE, {"paused": "0"}).status_code in (302, 303)
        # In the order it came due: day 0, then day 1, day 1 + 1 h, day 2, day 2 + 1 h, day 3.
        assert outbox == [
            "dunning_1",
            "winback",
            "card_expiry",
            "payment_recovered",
            "trial_ending",
            "dunning_2",
        ]
        calls = backstop_calls(fake_stripe)[before:]
        assert calls == [
            ("POST", f"/v1/invoices/{invoice['id']}"),  # collection taken over first (day 0)
            ("POST", f"/v1/invoices/{invoice['id']}/pay"),  # the day-3 retry
        ]
        # Once: the periodic passes find nothing left to do.
        loop.settle()
        assert [winback.send(db, i, stripe_settings) for i in winback.due_ids(db)] == []
        from jobs.sweeper import sweep_once

        sweep_once()
        assert len(outbox) == 6 and len(backstop_calls(fake_stripe)[before:]) == 2
        assert "banner-amber" not in client.get("/w/acme/overview").text
        assert "Recovery is running" in client.get(PAUSE).text


def test_the_send_diagnostic_to_an_admin_is_not_held(db, connected, stripe_settings, outbox):
    from backstop.email import holds
    from backstop.email.sending import send_message

    with write_transaction(db):
        holds.hold(db, connected.id)
        diag = queue_email(
            db, stripe_settings, workspace_id=connected.id, kind="diagnostic", to_email="olivia@acme.test",
            context={"transport": "outbox", "sender": "the outbox"},
        )  # fmt: skip
    assert send_message(db, stripe_settings, diag.id, OutboxMailer()) == "sent"
    assert outbox == ["diagnostic"]
