"""Less common paths: paused subscriptions, manual invoices, the `unpaid` outcome, dropped
connections, and running the fake by hand."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import stripe

from tests.fake_stripe import FakeStripe

ROOT = Path(__file__).resolve().parents[2]


def test_trial_ending_without_a_card_pauses_and_resume_restarts(fake_stripe: FakeStripe, stripe_client):
    price = fake_stripe.create_price(1200)
    cus = stripe_client.v1.customers.create(params={"email": "nocard@example.com"})
    sub = stripe_client.v1.subscriptions.create(
        params={
            "customer": cus.id,
            "items": [{"price": price["id"]}],
            "trial_period_days": 7,
            "trial_settings": {"end_behavior": {"missing_payment_method": "pause"}},
        }
    )
    fake_stripe.advance(days=8)
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "paused"
    (paused,) = fake_stripe.events("customer.subscription.paused")
    assert paused["data"]["previous_attributes"] == {"status": "trialing"}
    fake_stripe.make_card(cus.id, default=True)
    resumed = stripe_client.v1.subscriptions.resume(sub.id)
    assert resumed.status == "active"
    assert fake_stripe.events("customer.subscription.resumed")
    assert stripe_client.v1.invoices.retrieve(resumed.latest_invoice).status == "paid"


def test_a_manual_invoice_finalizes_and_is_collected_when_due(fake_stripe: FakeStripe, stripe_client):
    cus = stripe_client.v1.customers.create(params={"email": "manual@example.com"})
    fake_stripe.make_card(cus.id, default=True)
    draft = stripe_client.v1.invoices.create(params={"customer": cus.id, "auto_advance": True})
    assert draft.status == "draft" and draft.automatically_finalizes_at == draft.created + 3600
    fake_stripe.advance(3601)
    done = stripe_client.v1.invoices.retrieve(draft.id)
    assert done.status == "paid" and done.number.startswith(fake_stripe.get(cus.id)["invoice_prefix"])
    other = stripe_client.v1.invoices.create(params={"customer": cus.id})
    assert stripe_client.v1.invoices.finalize_invoice(other.id).status == "paid"  # nothing to charge
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.invoices.finalize_invoice(other.id)


def test_final_failure_can_leave_the_subscription_unpaid(fake_stripe: FakeStripe, stripe_client):
    fake_stripe.state.billing.retry_days = [1]
    fake_stripe.state.billing.after_final_failure = "unpaid"
    fake_stripe.state.billing.invoice_after_final_failure = "uncollectible"
    story = fake_stripe.customer_with_declining_card("generic_decline")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    fake_stripe.advance(days=2)
    assert stripe_client.v1.subscriptions.retrieve(story.subscription["id"]).status == "unpaid"
    assert stripe_client.v1.invoices.retrieve(invoice["id"]).status == "uncollectible"


def test_a_dropped_connection_is_a_network_error(fake_stripe: FakeStripe, stripe_client):
    fake_stripe.faults.disconnect(path="/v1/customers")
    with pytest.raises(stripe.APIConnectionError):
        stripe_client.v1.customers.list()
    assert stripe_client.v1.customers.list().data == []


def test_it_runs_by_hand(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_stripe", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        key_line = process.stdout.readline()
        url = first.rsplit(" ", 1)[-1].strip()
        key = key_line.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:") and key.startswith("sk_test_")
        client = stripe.StripeClient(key, base_addresses={"api": url, "connect": url, "files": url})
        assert client.v1.customers.create(params={"email": "hand@example.com"}).id.startswith("cus_")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_cards_from_numbers_and_the_any_code_token(fake_stripe: FakeStripe, stripe_client):
    story = fake_stripe.customer_with_declining_card()
    cus = story.customer["id"]
    by_number = stripe_client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": "4000000000000341", "exp_month": 4, "exp_year": 2032}}
    )
    assert (by_number.card.last4, by_number.card.exp_year) == ("0341", 2032)
    stripe_client.v1.payment_methods.attach(by_number.id, params={"customer": cus})  # attaches, fails later
    lost = stripe_client.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail_lost_card", params={"customer": cus}
    )
    stripe_client.v1.subscriptions.update(
        story.subscription["id"], params={"default_payment_method": lost.id}
    )
    fake_stripe.renewal_fails(story.subscription["id"])
    charge = fake_stripe.events("charge.failed")[0]["data"]["object"]
    assert charge["payment_method"] == lost.id and charge["outcome"]["reason"] == "lost_card"
    assert charge["outcome"]["advice_code"] == "do_not_try_again"


def test_a_publishable_key_can_only_confirm_with_the_client_secret(fake_stripe: FakeStripe, stripe_client):
    cus = stripe_client.v1.customers.create(params={"email": "browser@example.com"})
    seti = stripe_client.v1.setup_intents.create(params={"customer": cus.id})
    browser = fake_stripe.client(fake_stripe.publishable_key)
    with pytest.raises(stripe.AuthenticationError):
        browser.v1.customers.list()
    with pytest.raises(stripe.InvalidRequestError):
        browser.v1.setup_intents.confirm(
            seti.id, params={"client_secret": "wrong", "payment_method": "pm_card_visa"}
        )
    done = browser.v1.setup_intents.confirm(
        seti.id, params={"client_secret": seti.client_secret, "payment_method": "pm_card_visa"}
    )
    assert done.status == "succeeded"
