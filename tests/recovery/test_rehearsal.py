"""“Simulate a failed renewal” in Stripe test mode: a real renewal fails in the (fake) Stripe test
account through the real SDK, Stripe's webhook reaches Backstop and a campaign opens end to end.
Live mode never shows the button and refuses the POST before any Stripe call."""

from __future__ import annotations

import re

import pytest

from backstop.recovery import campaigns
from backstop.stripe_sync import connection
from tests.conftest import csrf_from, login, post_form
from tests.stripe_sync.support import aimed_at, restricted_key

WHSEC = "whsec_acme_rehearsal_secret_1234"


@pytest.fixture
def settings(settings, fake_stripe):
    # The platform's keys too, for workspaces connected with Connect.
    return aimed_at(
        settings,
        fake_stripe,
        stripe_client_id=fake_stripe.client_id,
        stripe_secret_key=fake_stripe.secret_key,
    )


def deliver_new_events(client, fake, seen: set[str]) -> list[str]:
    """Post every event Stripe recorded since the last call to the workspace's webhook URL."""
    delivered = []
    for event in reversed(fake.events()):
        if event["id"] in seen:
            continue
        seen.add(event["id"])
        body, headers = fake.webhooks.signed(event, WHSEC)
        assert client.post("/stripe/webhooks/acme", content=body, headers=headers).status_code == 200
        delivered.append(event["type"])
    return delivered


def connect(db, box, fake, workspace, *, livemode: bool = False) -> None:
    key = restricted_key(fake, livemode=livemode)
    connection.save_key_connection(db, box, workspace.id, key, livemode, webhook_secret=WHSEC, polling=False)


def test_in_test_mode_a_real_renewal_fails_and_its_webhook_opens_a_campaign(
    client, db, box, olivia, acme, fake_stripe
):
    connect(db, box, fake_stripe, acme)
    seen: set[str] = set()
    fake_stripe.create_price(4900, product_name="Pro")
    fake_stripe.create_price(1900, product_name="Starter")
    deliver_new_events(client, fake_stripe, seen)  # the mirror learns the account's prices
    login(client, olivia)

    page = client.get("/w/acme/recovery").text
    assert "Try it in test mode" in page
    nonce = re.search(r'name="nonce" value="([0-9a-f]+)"', page).group(1)
    before = len(fake_stripe.requests)
    answer = client.post(
        "/w/acme/recovery/simulate-failure",
        data={"_csrf_token": csrf_from(page), "nonce": nonce},
        follow_redirects=False,
    )
    assert answer.status_code in (302, 303), answer.text
    assert answer.headers["location"].startswith("/w/acme/recovery?simulated=test")
    assert "A renewal just failed in your Stripe test account" in client.get(answer.headers["location"]).text

    # Stripe holds a past_due subscription on the cheapest monthly price, with an open invoice.
    writes = [r for r in list(fake_stripe.requests)[before:] if r.method == "POST"]
    assert len(writes) == 3
    assert all(r.idempotency_key.startswith(f"backstop-rehearsal-{acme.id}-{nonce}-") for r in writes)
    (created,) = [e["data"]["object"] for e in fake_stripe.events("customer.created")]
    assert created["metadata"] == {"backstop_simulated": "failed_renewal"}
    customer = fake_stripe.get(created["id"])
    (started,) = [e["data"]["object"] for e in fake_stripe.events("customer.subscription.created")]
    subscription = fake_stripe.get(started["id"])
    assert subscription["customer"] == customer["id"]
    assert subscription["status"] == "past_due"
    assert subscription["items"]["data"][0]["price"]["unit_amount"] == 1900
    invoice = fake_stripe.get(subscription["latest_invoice"])
    assert invoice["status"] == "open" and invoice["amount_remaining"] == 1900

    # Stripe's webhook arrives: the campaign opens, Backstop takes over, the first email is queued.
    assert "invoice.payment_failed" in deliver_new_events(client, fake_stripe, seen)
    campaign = campaigns.find_by_invoice(db, acme.id, invoice["id"])
    assert campaign is not None and campaign.status == "in_flight"
    assert campaign.customer_email == customer["email"]
    assert "Test customer (simulated failed renewal)" in client.get("/w/acme/recovery").text
    emails = db.execute(
        "SELECT kind FROM email_messages WHERE dedupe_key LIKE ?", [f"dunning:{invoice['id']}:%"]
    ).fetchall()
    assert [e[0] for e in emails] == ["dunning_1"]

    # The same form sent twice (a double click) makes no second customer.
    again = client.post(
        "/w/acme/recovery/simulate-failure",
        data={"_csrf_token": csrf_from(page), "nonce": nonce},
        follow_redirects=False,
    )
    assert again.status_code in (302, 303)
    assert len(fake_stripe.events("customer.created")) == 1
    assert len(fake_stripe.events("customer.subscription.created")) == 1


def test_with_connect_in_test_mode_the_renewal_fails_in_the_connected_account(
    client, db, box, olivia, acme, fake_stripe
):
    from backstop.db import write_transaction
    from backstop.stripe_sync import mirror

    account = fake_stripe.connect_account()
    connection.save_oauth_connection(db, acme.id, account, False, "read_write", polling=False)
    price = fake_stripe.create_price(2900, product_name="Pro", account=account)
    with write_transaction(db):  # what the mirror knows once the price's event has arrived
        mirror.apply_object(db, acme.id, fake_stripe.get(price["product"], account=account), 1)
        mirror.apply_object(db, acme.id, price, 1)
    login(client, olivia)
    answer = post_form(client, "/w/acme/recovery", "/w/acme/recovery/simulate-failure", {})
    assert answer.status_code in (302, 303), answer.text

    writes = fake_stripe.requests.filter("POST")
    assert len(writes) == 3 and {w.account for w in writes} == {account}
    (started,) = [
        e["data"]["object"] for e in fake_stripe.events("customer.subscription.created", account=account)
    ]
    subscription = fake_stripe.get(started["id"], account=account)
    assert subscription["status"] == "past_due"
    assert fake_stripe.get(subscription["latest_invoice"], account=account)["status"] == "open"
    assert fake_stripe.events("customer.created") == []  # nothing on the platform's own account


def test_without_a_recurring_price_it_says_what_to_add(client, db, box, olivia, acme, fake_stripe):
    connect(db, box, fake_stripe, acme)
    login(client, olivia)
    answer = post_form(client, "/w/acme/recovery", "/w/acme/recovery/simulate-failure", {})
    assert answer.status_code == 409
    assert "has no active recurring price yet" in answer.text
    assert not fake_stripe.requests.filter("POST")


def test_live_mode_has_no_button_and_refuses_the_post_before_calling_stripe(
    client, db, box, olivia, acme, fake_stripe
):
    connect(db, box, fake_stripe, acme, livemode=True)
    login(client, olivia)
    page = client.get("/w/acme/recovery").text
    assert "Simulate a failed renewal" not in page and "Try it in test mode" not in page
    before = len(fake_stripe.requests)
    answer = post_form(client, "/w/acme/recovery", "/w/acme/recovery/simulate-failure", {"nonce": "ab" * 8})
    assert answer.status_code == 403
    assert "works only in Stripe test mode" in answer.text
    assert len(fake_stripe.requests) == before


def test_before_stripe_is_connected_it_asks_for_a_test_key(client, olivia, acme):
    login(client, olivia)
    answer = post_form(client, "/w/acme/recovery", "/w/acme/recovery/simulate-failure", {})
    assert answer.status_code == 409 and "Connect Stripe with a test-mode key first" in answer.text
