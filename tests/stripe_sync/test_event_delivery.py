"""Events from real fake-Stripe activity, delivered through POST /stripe/webhooks/{slug}: duplicates
and any order give the state in-order delivery gives; a failing handler is retried, not dropped."""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest
import time_machine

from backstop import clock
from backstop.recovery import campaigns
from backstop.stripe_sync import connection
from backstop.workspaces.workspaces import create_workspace
from jobs.sweeper import sweep_once
from tests.stripe_sync.support import ALL_PERMISSIONS, aimed_at, mirror_state, restricted_key

WHSEC = "whsec_acme_endpoint_secret_1234"


@pytest.fixture
def settings(settings, fake_stripe):
    return aimed_at(settings, fake_stripe)


def busy_account(fake, stripe_client, customers: int = 60) -> list[dict]:
    """A month of billing in a second: sign-ups, renaming, plan changes, pauses, cancels, failed
    renewals (some paid after a card fix), Stripe's retries, a deleted customer. Oldest first."""
    monthly = fake.create_price(2000, product_name="Pro")
    yearly = fake.create_price(19000, interval="year", product_name="Pro yearly")
    signed_up = []
    for n in range(customers):
        cus = fake.create_customer(email=f"c{n}@example.com", name=f"Customer {n}")
        pm = fake.make_card(customer=cus["id"], default=True)
        signed_up.append((cus, pm, fake.create_subscription(cus["id"], monthly["id"])))
    for n, (cus, pm, sub) in enumerate(signed_up):
        for version in range(3):  # several updates within one second: `created` can't order them
            stripe_client.v1.customers.update(
                cus["id"], params={"name": f"Customer {n} v{version}", "metadata": {"v": str(version)}}
            )
        if n % 4 == 0:
            stripe_client.v1.subscriptions.update(sub["id"], params={"cancel_at_period_end": True})
        elif n % 4 == 1:
            stripe_client.v1.subscriptions.update(
                sub["id"], params={"pause_collection": {"behavior": "void"}}
            )
        elif n % 4 == 2:
            item = sub["items"]["data"][0]["id"]
            stripe_client.v1.subscriptions.update(
                sub["id"], params={"items": [{"id": item, "price": yearly["id"]}]}
            )
        else:
            invoice = fake.renewal_fails(sub["id"], "insufficient_funds")
            if n % 8 == 3:
                fake.set_card_decline(pm["id"], None)
                stripe_client.v1.invoices.pay(invoice["id"])
    fake.advance(days=4)  # Stripe's own retries of the failed renewals
    stripe_client.v1.customers.delete(signed_up[5][0]["id"])
    return list(reversed(fake.events()))


def connect_with_webhooks(db, box, fake, workspace) -> None:
    key = restricted_key(fake)
    connection.save_key_connection(db, box, workspace.id, key, False, webhook_secret=WHSEC, polling=False)


def post(client, fake, event, slug: str):
    body, headers = fake.webhooks.signed(event, WHSEC)
    return client.post(f"/stripe/webhooks/{slug}", content=body, headers=headers)


def test_three_shuffled_deliveries_leave_what_one_in_order_delivery_leaves(
    client, db, box, olivia, acme, fake_stripe, stripe_client
):
    beta, _ = create_workspace(db, box, "Beta", olivia.admin, "beta")
    connect_with_webhooks(db, box, fake_stripe, acme)
    connect_with_webhooks(db, box, fake_stripe, beta)
    # Both workspaces watch one Stripe account: recovery is paused so neither retries its invoices
    # and Stripe's state stays what the activity below made it.
    for workspace in (acme, beta):
        campaigns.set_paused(db, workspace.id, True)
    events = busy_account(fake_stripe, stripe_client)
    assert len(events) >= 1000

    for event in events:
        assert post(client, fake_stripe, event, "beta").json()["duplicate"] is False
    deliveries = events * 3
    random.Random(4).shuffle(deliveries)
    answers = [post(client, fake_stripe, event, "acme") for event in deliveries]
    assert {a.status_code for a in answers} == {200}
    assert sum(not a.json()["duplicate"] for a in answers) == len(events)

    rows = db.execute(
        "SELECT event_id, count(*) AS n FROM stripe_events WHERE workspace_id = ? GROUP BY event_id",
        [acme.id],
    ).fetchall()
    assert len(rows) == len(events) and {r["n"] for r in rows} == {1}
    outcomes = dict(
        db.execute(
            "SELECT outcome, count(*) FROM stripe_events WHERE workspace_id = ? GROUP BY outcome", [acme.id]
        ).fetchall()
    )
    assert set(outcomes) == {"processed", "ignored"}  # none failed or left waiting
    ignored = {
        r[0]
        for r in db.execute("SELECT DISTINCT type FROM stripe_events WHERE outcome = 'ignored'").fetchall()
    }
    assert ignored == {
        "charge.succeeded",
        "charge.failed",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
    }

    shuffled, in_order = mirror_state(db, acme.id), mirror_state(db, beta.id)
    assert shuffled == in_order
    # And both are what Stripe holds now.
    for sub in shuffled["stripe_subscriptions"]:
        now = fake_stripe.get(sub["id"])
        assert (sub["status"], sub["price_id"], sub["cancel_at_period_end"]) == (
            now["status"],
            now["items"]["data"][0]["price"]["id"],
            int(now["cancel_at_period_end"]),
        )
    for inv in shuffled["stripe_invoices"]:
        now = fake_stripe.get(inv["id"])
        assert (inv["status"], inv["amount_paid"], inv["attempt_count"]) == (
            now["status"],
            now["amount_paid"],
            now["attempt_count"],
        )
    names = {c["id"]: (c["name"], c["deleted"]) for c in shuffled["stripe_customers"]}
    assert len(names) == 60
    deleted = [cid for cid, (_, gone) in names.items() if gone]
    assert len(deleted) == 1
    for cid, (name, gone) in names.items():
        if not gone:
            assert name == fake_stripe.get(cid)["name"] and name.endswith("v2")


def test_a_failing_handler_is_recorded_and_retried_later(client, db, box, acme, fake_stripe, stripe_client):
    key = restricted_key(fake_stripe)
    connection.save_key_connection(db, box, acme.id, key, False, webhook_secret=WHSEC, polling=False)
    cus = fake_stripe.create_customer(email="frank@example.com")
    fake_stripe.make_card(customer=cus["id"], default=True)
    prices = [fake_stripe.create_price(100 + n, product_name=f"Seat {n}") for n in range(12)]
    sub = fake_stripe.create_subscription(
        cus["id"], prices[0]["id"], items=[{"price": p["id"]} for p in prices]
    )
    paid = fake_stripe.events("invoice.paid")[0]
    assert paid["data"]["object"]["lines"]["has_more"] is True  # its lines must be fetched

    # The founder narrowed the key: reading the rest of the invoice's lines is refused.
    fake_stripe.add_key(key, permissions={**ALL_PERMISSIONS, "invoices": "none"})
    response = post(client, fake_stripe, paid, "acme")
    assert response.status_code == 200
    stored = dict(db.execute("SELECT * FROM stripe_events WHERE event_id = ?", [paid["id"]]).fetchone())
    assert stored["outcome"] is None and stored["work_state"] == "pending"
    assert stored["attempts"] == 1 and stored["last_error"].startswith("StripePermissionMissing")
    assert clock.parse(stored["due_at"]) > clock.now() + timedelta(seconds=25)
    assert db.execute("SELECT count(*) FROM stripe_invoices").fetchone()[0] == 0  # rolled back

    # A redelivery is a duplicate: it neither runs the handler again nor loses the failure.
    assert post(client, fake_stripe, paid, "acme").json()["duplicate"] is True
    assert sweep_once() == {}  # not due yet

    fake_stripe.add_key(key, permissions=ALL_PERMISSIONS)
    with time_machine.travel(clock.now() + timedelta(seconds=31)):
        assert sweep_once() == {"stripe_events": 1}
    stored = dict(db.execute("SELECT * FROM stripe_events WHERE event_id = ?", [paid["id"]]).fetchone())
    assert (stored["outcome"], stored["work_state"], stored["attempts"]) == ("processed", "done", 2)
    invoice = sub["latest_invoice"]
    lines = db.execute("SELECT count(*) FROM stripe_invoice_lines WHERE invoice_id = ?", [invoice]).fetchone()
    assert lines[0] == 12


def test_stripe_failing_during_processing_fails_the_event_fast_for_a_later_retry(
    client, db, box, acme, fake_stripe
):
    connection.save_key_connection(
        db, box, acme.id, restricted_key(fake_stripe), False, webhook_secret=WHSEC, polling=False
    )
    cus = fake_stripe.create_customer(email="frank@example.com")
    fake_stripe.make_card(customer=cus["id"], default=True)
    prices = [fake_stripe.create_price(100 + n, product_name=f"Seat {n}") for n in range(12)]
    fake_stripe.create_subscription(cus["id"], prices[0]["id"], items=[{"price": p["id"]} for p in prices])
    paid = fake_stripe.events("invoice.paid")[0]
    fake_stripe.faults.server_error(count=10, path="/v1/invoices/")
    fake_stripe.requests.clear()

    assert post(client, fake_stripe, paid, "acme").status_code == 200
    # Two tries, not five: the event's own backoff takes over while Stripe recovers.
    assert len(fake_stripe.requests.filter("GET", re.compile("/lines$"))) == 2
    stored = dict(db.execute("SELECT * FROM stripe_events WHERE event_id = ?", [paid["id"]]).fetchone())
    assert stored["work_state"] == "pending" and stored["last_error"].startswith("StripeUnavailable")
