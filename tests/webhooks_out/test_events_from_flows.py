"""Each event type, caused by the real flow against the fake Stripe, arrives at a receiver that
verifies it with the stripe SDK, with the documented data."""

# ruff: noqa: F401, F811 - fixtures imported from other test modules are used as parameters
from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest
import stripe
import time_machine
from litestar.testing import TestClient

import jobs.winback
from backstop import clock
from backstop.db import write_transaction
from backstop.email.branding import save_branding
from backstop.recovery import winback
from backstop.webhooks_out import endpoints
from backstop.webhooks_out.events import EVENT_TYPES
from tests.recovery.conftest import connected, loop, stripe_settings


@pytest.fixture
def secret(db, box, connected, outbound, receiver):
    with write_transaction(db):
        _, secret = endpoints.create_endpoint(
            db, box, connected.id, url=receiver.url, events=list(EVENT_TYPES), allow_private=True
        )
    return secret


def verified(receiver, secret, type: str) -> list[dict]:
    """The deliveries of ``type``, each checked with Stripe's library."""
    out = []
    for r in receiver.requests:
        event = stripe.Webhook.construct_event(r.body, r.headers["x-backstop-signature"], secret)
        if event["type"] == type:
            out.append(event.to_dict())
    return out


def test_a_failed_renewal_sends_recovery_opened(db, fake_stripe, loop, secret, receiver):
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    (event,) = verified(receiver, secret, "recovery.opened")
    data = event["data"]
    assert data["invoice_id"] == invoice["id"] and data["subscription_id"] == story.subscription["id"]
    assert data["customer_id"] == story.customer["id"] and data["customer_email"] == "dana@example.com"
    assert data["amount_due"] == {"amount": invoice["amount_due"], "currency": invoice["currency"]}
    assert (data["decline_code"], data["decline_class"], data["status"]) == (
        "insufficient_funds",
        "soft",
        "in_flight",
    )
    assert data["closed_at"] is None and data["opened_at"].endswith("Z")
    assert event["id"].startswith("evt_") and event["livemode"] is False


def test_a_paid_invoice_sends_recovery_recovered(db, fake_stripe, loop, secret, receiver):
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    fake_stripe.client().v1.invoices.pay(invoice["id"], params={"paid_out_of_band": True})
    loop.settle()
    (opened,) = verified(receiver, secret, "recovery.opened")
    (event,) = verified(receiver, secret, "recovery.recovered")
    assert event["data"]["campaign_id"] == opened["data"]["campaign_id"]
    assert event["data"]["status"] == "recovered" and event["data"]["close_reason"] == "The invoice was paid"
    assert event["data"]["closed_at"].endswith("Z")


def test_a_retry_that_goes_through_sends_recovery_recovered(db, fake_stripe, loop, secret, receiver):
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    fake_stripe.set_card_decline(story.payment_method["id"], None)  # payday
    with time_machine.travel(clock.now() + timedelta(days=3, minutes=1), tick=False):
        loop.settle()
    (event,) = verified(receiver, secret, "recovery.recovered")
    assert event["data"]["close_reason"] == "Paid on a retry by Backstop"


def test_a_campaign_that_runs_out_sends_recovery_lost(db, fake_stripe, loop, secret, receiver):
    story = fake_stripe.customer_with_declining_card("stolen_card")
    fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    with time_machine.travel(clock.now() + timedelta(days=22), tick=False):
        loop.settle()
    (event,) = verified(receiver, secret, "recovery.lost")
    assert event["data"]["status"] == "lost" and event["data"]["decline_class"] == "never"
    assert event["data"]["close_reason"] == "Cancel the subscription"
    assert verified(receiver, secret, "recovery.recovered") == []


def test_a_trial_reminder_sends_trial_reminder_sent(db, loop, fake_stripe, connected, secret, receiver):
    save_branding(db, connected.id, {"reply_to": "help@acme.test"})
    price = fake_stripe.create_price(4900, "usd", "month", product_name="Pro plan")
    cus = fake_stripe.create_customer(email="trial@example.com")
    sub = fake_stripe.create_subscription(cus["id"], price["id"], trial_period_days=7)
    loop.settle()
    fake_stripe.advance(days=4, seconds=60)
    loop.settle()
    (event,) = verified(receiver, secret, "trial.reminder_sent")
    data = event["data"]
    assert (data["customer_id"], data["customer_email"], data["subscription_id"]) == (
        cus["id"],
        "trial@example.com",
        sub["id"],
    )
    assert data["price_id"] == price["id"] and data["plan_name"] == "Pro plan"
    assert data["amount"] == {"amount": 4900, "currency": "usd"}
    email_id = db.execute("SELECT id FROM email_messages WHERE kind = 'trial_ending'").fetchone()[0]
    assert data["email_id"] == email_id and data["trial_end"].endswith("Z")


@pytest.fixture
def web(stripe_settings, db, loop):
    from backstop.web.app import create_app

    app = create_app(dataclasses.replace(stripe_settings, webhooks_allow_private=True), run_jobs=False)
    with TestClient(app=app, base_url="http://127.0.0.1") as c:
        yield c


def test_winback_email_and_restart_send_reactivation_sent_and_winback_recorded(
    db, web, loop, fake_stripe, stripe_settings, connected, secret, receiver
):
    price = fake_stripe.create_price(4900, "usd", "month", product_name="Pro plan")
    cus = fake_stripe.create_customer(email="sam@example.com", name="Sam")
    fake_stripe.make_card(cus["id"], default=True)
    sub = fake_stripe.create_subscription(cus["id"], price["id"])
    fake_stripe.client().v1.subscriptions.cancel(sub["id"])
    loop.settle()
    with time_machine.travel(clock.now() + timedelta(days=14, hours=1), tick=False):
        assert [winback.send(db, i, stripe_settings) for i in winback.due_ids(db)] == ["sent"]
        (sent,) = verified(receiver, secret, "reactivation.sent")
        html = db.execute("SELECT html FROM email_messages WHERE kind = 'winback'").fetchone()[0]
        link = re.search(r'href="https?://[^"/]+(/win-back/[^"]+)"', html).group(1)
        token = re.search(r'name="_csrf_token" value="([^"]+)"', web.get(link).text).group(1)
        web.post(link, data={"_csrf_token": token})
        web.post(link, data={"_csrf_token": token})  # a double click restarts (and reports) once
    assert (
        sent["data"]["previous_subscription_id"] == sub["id"]
        and sent["data"]["customer_email"] == "sam@example.com"
    )
    assert (
        sent["data"]["amount"] == {"amount": 4900, "currency": "usd"}
        and sent["data"]["ended_reason"] == "canceled"
    )
    assert (
        sent["data"]["email_id"]
        == db.execute("SELECT id FROM email_messages WHERE kind = 'winback'").fetchone()[0]
    )
    (recorded,) = verified(receiver, secret, "winback.recorded")
    new_sub = fake_stripe.client().v1.subscriptions.list(params={"customer": cus["id"]}).data[0]
    assert recorded["data"]["subscription_id"] == new_sub.id
    assert recorded["data"]["winback_id"] == sent["data"]["winback_id"] and recorded["data"]["coupon"] is None
