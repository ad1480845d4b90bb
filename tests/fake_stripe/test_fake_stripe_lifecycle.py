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
