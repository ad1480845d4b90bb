"""The first copy of a Stripe account, against the fake Stripe through the real SDK: what lands in
the mirror, how few calls it takes, and how it rides out faults and crashes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine

from backstop import clock
from backstop.stripe_sync import backfill, connection, mirror
from jobs import queue
from jobs.sweeper import sweep_once
from tests.conftest import login
from tests.stripe_sync.support import aimed_at, connect, counts, run_backfill

PER_OBJECT = re.compile(r"^/v1/(customers|subscriptions|products|prices|invoices|payment_methods)/[^/]+$")


@pytest.fixture
def settings(settings, fake_stripe):
    return aimed_at(settings, fake_stripe)


def row(db, sql, *params):
    found = db.execute(sql, params).fetchone()
    return dict(found) if found else None


@pytest.fixture
def account(fake_stripe, stripe_client):
    """A small account with one of everything the mirror cares about."""
    fake = fake_stripe
    monthly = fake.create_price(2000, product_name="Pro plan")
    dana = fake.customer_with_declining_card("insufficient_funds")
    open_invoice = fake.renewal_fails(dana.subscription["id"])

    erin = fake.customer_with_declining_card("card_declined", email="erin@example.com", name="Erin")
    written_off = fake.renewal_fails(erin.subscription["id"])
    stripe_client.v1.invoices.mark_uncollectible(written_off["id"])

    # A plan with twelve add-ons: its invoice has more lines than Stripe embeds.
    frank = fake.create_customer(email="frank@example.com", name="Frank")
    card = fake.make_card(customer=frank["id"], default=True, token="pm_card_mastercard")
    addons = [fake.create_price(100 + n, product_name=f"Add-on {n}") for n in range(11)]
    big = fake.create_subscription(
        frank["id"], monthly["id"], items=[{"price": p["id"]} for p in [monthly, *addons]]
    )

    gone = fake.create_customer(email="gone@example.com")
    fake.make_card(customer=gone["id"], default=True)
    canceled = fake.create_subscription(gone["id"], monthly["id"])
    stripe_client.v1.subscriptions.cancel(canceled["id"])

    trial = fake.create_customer(email="trial@example.com")
    trialing = fake.create_subscription(trial["id"], monthly["id"], trial_period_days=14)
    return {
        "dana": dana,
        "open_invoice": open_invoice,
        "uncollectible": written_off,
        "frank": frank,
        "frank_card": card,
        "big": big,
        "canceled": canceled,
        "trialing": trialing,
    }


def test_it_mirrors_the_account_with_lines_and_card_metadata(db, box, settings, acme, fake_stripe, account):
    row_id = connect(db, box, settings, acme, fake_stripe)
    fake_stripe.requests.clear()
    assert run_backfill(db, box, settings, row_id) == "done"

    mirrored = counts(db, acme.id)
    assert mirrored["stripe_products"] == len(fake_stripe.store().table("product"))
    assert mirrored["stripe_prices"] == len(fake_stripe.store().table("price"))
    assert mirrored["stripe_customers"] == len(fake_stripe.store().table("customer")) == 5
    assert mirrored["stripe_subscriptions"] == 5  # every status, the canceled one included

    statuses = dict(db.execute("SELECT id, status FROM stripe_subscriptions").fetchall())
    assert statuses[account["dana"].subscription["id"]] == "past_due"
    assert statuses[account["canceled"]["id"]] == "canceled"
    assert statuses[account["trialing"]["id"]] == "trialing"
    assert statuses[account["big"]["id"]] == "active"

    dana = row(db, "SELECT * FROM stripe_customers WHERE id = ?", account["dana"].customer["id"])
    assert dana["email"] == "dana@example.com" and dana["delinquent"] == 1
    card = row(db, "SELECT * FROM stripe_payment_methods WHERE id = ?", dana["default_payment_method"])
    pm = account["dana"].payment_method["card"]
    assert (card["card_brand"], card["card_last4"], card["card_exp_month"], card["card_exp_year"]) == (
        "visa",
        pm["last4"],
        pm["exp_month"],
        pm["exp_year"],
    )
    frank_card = row(
        db, "SELECT card_brand FROM stripe_payment_methods WHERE id = ?", account["frank_card"]["id"]
    )
    assert frank_card == {"card_brand": "mastercard"}

    open_invoice = row(db, "SELECT * FROM stripe_invoices WHERE id = ?", account["open_invoice"]["id"])
    assert open_invoice["status"] == "open" and open_invoice["attempt_count"] == 1
    assert open_invoice["subscription_id"] == account["dana"].subscription["id"]
    assert row(db, "SELECT status FROM stripe_invoices WHERE id = ?", account["uncollectible"]["id"]) == {
        "status": "uncollectible"
    }

    big_invoice = account["big"]["latest_invoice"]
    lines = db.execute(
        "SELECT position, amount FROM stripe_invoice_lines WHERE invoice_id = ? ORDER BY position",
        [big_invoice],
    ).fetchall()
    assert [tuple(r) for r in lines] == [(0, 2000)] + [(n + 1, 100 + n) for n in range(11)]

    # Lists only; the one extra call pages the long invoice's lines.
    per_object = [r.path for r in fake_stripe.requests if PER_OBJECT.search(r.path)]
    assert per_object == []
    assert [r.path for r in fake_stripe.requests.filter("GET", re.compile("/lines$"))] == [
        f"/v1/invoices/{big_invoice}/lines"
    ]
    done = backfill.progress(db, acme.id)
    assert done.finished_at and done.percent == 100 and done.synced == sum(done.counts.values())


def test_it_pages_through_lists_of_a_hundred(db, box, settings, acme, fake_stripe):
    fake_stripe.seed_customers(250)
    row_id = connect(db, box, settings, acme, fake_stripe)
    fake_stripe.requests.clear()
    run_backfill(db, box, settings, row_id)
    listed = fake_stripe.requests.filter("GET", "/v1/customers")
    pages = [p for p in listed if p.params.get("limit") == "100"]
    assert [p.params.get("starting_after") is None for p in pages] == [True, False, False]
    assert pages[0].params["expand"] == ["data.invoice_settings.default_payment_method"]
    # They were all created in the same second: creation time can't cut the list, so no
    # one-object requests look for its oldest customer; it is paged to the end.
    assert [p for p in listed if p.params.get("limit") != "100"] == []
    assert counts(db, acme.id)["stripe_customers"] == 250


def test_rate_limits_and_server_errors_mid_backfill_are_waited_out(db, box, settings, acme, fake_stripe):
    fake_stripe.seed_customers(350)
    row_id = connect(db, box, settings, acme, fake_stripe)
    fake_stripe.requests.clear()
    slept: list[float] = []

    injected = []

    def on_page(progress):
        if progress.counts.get("customers") == 200 and not injected:  # half-way through a list
            injected.append(True)
            fake_stripe.faults.rate_limit(count=2, path="/v1/customers", retry_after=2)
            fake_stripe.faults.server_error(count=2, path="/v1/customers")

    outcome = backfill.run(
        db, row_id, lambda ws: connection.gateway(db, box, settings, ws, sleep=slept.append), on_page
    )
    assert outcome == "done"
    faulted = [r.fault for r in fake_stripe.requests.filter("GET", "/v1/customers") if r.fault]
    assert faulted == ["rate_limit", "rate_limit", "server_error", "server_error"]
    # Retry-After was honoured for the 429s (plus up to a quarter of jitter); 500s backed off.
    assert 2 <= slept[0] <= 2.5 and 2 <= slept[1] <= 2.5
    assert 2 <= slept[2] <= 2.5 * 1.25 and slept[3] > slept[2]
    assert counts(db, acme.id)["stripe_customers"] == 350
    assert backfill.progress(db, acme.id).counts["customers"] == 350  # nothing counted twice
    # Each page was read successfully exactly once.
    cursors = [
        r.params.get("starting_after")
        for r in fake_stripe.requests.filter("GET", "/v1/customers")
        if not r.fault and r.params.get("limit") == "100"
    ]
    assert len(cursors) == len(set(cursors)) == 4


def test_when_stripe_stays_down_it_waits_then_resumes_where_it_stopped(
    client, db, box, settings, olivia, acme, fake_stripe
):
    fake_stripe.seed_customers(250)
    row_id = connect(db, box, settings, acme, fake_stripe)

    injected = []

    def on_page(progress):
        if progress.counts.get("customers") == 100 and not injected:  # then Stripe fails every retry
            injected.append(fake_stripe.faults.server_error(count=5, path="/v1/customers"))

    outcome = backfill.run(
        db, row_id, lambda ws: connection.gateway(db, box, settings, ws, sleep=lambda s: None), on_page
    )
    assert outcome == "retrying"
    stopped = backfill.progress(db, acme.id)
    assert stopped.stage == "customers" and stopped.counts["customers"] == 100
    assert "Stripe is unavailable" in stopped.last_error

    login(client, olivia)
    page = client.get("/w/acme/settings/stripe").text
    assert "Copying your Stripe account: 100 objects so far." in page
    assert '<td>Customers</td><td class="num">100 so far</td>' in page
    assert "Waiting to retry: Stripe is unavailable" in page
    assert f'<progress max="100" value="{stopped.percent}"' in page

    # Not due yet: the job does nothing until the backoff has passed.
    assert run_backfill(db, box, settings, row_id) is None
    fake_stripe.requests.clear()
    with time_machine.travel(clock.now() + timedelta(minutes=1)):
        assert run_backfill(db, box, settings, row_id) == "done"
    resumed = [r for r in fake_stripe.requests.filter("GET", "/v1/customers") if r.params["limit"] == "100"]
    assert len(resumed) == 2 and resumed[0].params["starting_after"]
    assert counts(db, acme.id)["stripe_customers"] == 250
    assert backfill.progress(db, acme.id).counts["customers"] == 250
    assert "Copied" in client.get("/w/acme/settings/stripe").text


def test_a_crash_mid_page_resumes_from_the_last_committed_page(
    db, box, settings, acme, fake_stripe, monkeypatch
):
    fake_stripe.seed_customers(450)
    row_id = connect(db, box, settings, acme, fake_stripe)
    written = {"n": 0}
    real_apply = mirror.apply_object

    def crashing_apply(*args, **kwargs):
        written["n"] += 1
        if written["n"] == 252:  # half-way through the third page of customers
            raise RuntimeError("the machine lost power")
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(backfill.mirror, "apply_object", crashing_apply)
    assert run_backfill(db, box, settings, row_id) == "retrying"
    monkeypatch.setattr(backfill.mirror, "apply_object", real_apply)
    row = db.execute("SELECT work_state, claimed_until, last_error FROM stripe_backfills").fetchone()
    assert tuple(row) == ("pending", None, "RuntimeError: the machine lost power")
    # The half-written page was rolled back with its cursor.
    assert counts(db, acme.id)["stripe_customers"] == 200
    assert backfill.progress(db, acme.id).counts["customers"] == 200

    # The failed run gave the row back at once, due again after a few seconds; then the sweeper
    # hands it on (a process that died instead would hold it for its lease).
    queue.configure(settings, immediate=True)

    assert sweep_once() == {}
    fake_stripe.requests.clear()
    with time_machine.travel(clock.now() + timedelta(seconds=6)):
        assert sweep_once() == {"stripe_backfills": 1}
    assert backfill.progress(db, acme.id).finished_at
    # It picked up after the 200th customer (lists are newest first), not from the start.
    first = fake_stripe.requests.filter("GET", "/v1/customers")[0]
    assert (
        first.params["limit"] == "100"
        and first.params["starting_after"] == fake_stripe.store().table("customer").newest_first()[199]
    )
    assert counts(db, acme.id)["stripe_customers"] == 450
    assert backfill.progress(db, acme.id).counts["customers"] == 450
