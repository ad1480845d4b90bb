"""The retry rules as a customer's payments meet them, against the fake Stripe: a hard decline,
the attempt cap counting Stripe's own tries, each terminal action, letting Stripe retry, and
events that arrive twice or in the wrong order."""

from dataclasses import replace
from datetime import timedelta

import pytest
import stripe
import time_machine

from backstop import clock
from backstop.recovery import campaigns
from backstop.recovery.policy import RetryPolicy
from backstop.stripe_sync import events


def campaign_of(db, ws):
    rows = db.execute("SELECT * FROM campaigns WHERE workspace_id = ?", [ws.id]).fetchall()
    assert len(rows) == 1, f"expected one campaign, found {len(rows)}"
    return dict(rows[0])


def email_kinds(db):
    return [r[0] for r in db.execute("SELECT kind FROM email_messages ORDER BY id")]


def our_pays(fake, invoice_id):
    """Backstop's charge attempts on the invoice, as Stripe saw them (not replays)."""
    return [
        r
        for r in fake.requests.filter("POST", f"/v1/invoices/{invoice_id}/pay")
        if (r.idempotency_key or "").startswith("backstop-") and not r.replayed
    ]


def settle_at(loop, when):
    with time_machine.travel(when, tick=False):
        loop.settle()


def deliver(loop, event):
    """One event through Backstop's intake exactly as a webhook would bring it."""
    loop.seen.add(event["id"])
    row_id, new = events.ingest_event(loop.db, loop.ws.id, event, "webhook")

    def fetch_for(ws_id):
        gw = loop.gateway(ws_id)
        return lambda path, params=None: gw.get(path, params)

    events.process_event(loop.db, row_id, fetch_for, loop.settings)
    return new


def test_an_expired_card_gets_one_polite_retry_then_only_emails_until_a_new_card(
    db, fake_stripe, loop, connected
):
    story = fake_stripe.customer_with_declining_card("expired_card")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    start = clock.parse(campaign_of(db, connected)["first_failed_at"])
    assert campaign_of(db, connected)["decline_class"] == "hard"

    for day in (1, 2):
        settle_at(loop, start + timedelta(days=day))
    assert our_pays(fake_stripe, invoice["id"]) == []  # nothing before day 3

    settle_at(loop, start + timedelta(days=3, minutes=1))
    settle_at(loop, start + timedelta(days=8, minutes=2))
    settle_at(loop, start + timedelta(days=15, minutes=3))
    campaign = campaign_of(db, connected)
    pays = our_pays(fake_stripe, invoice["id"])
    assert [p.idempotency_key for p in pays] == [f"backstop-{campaign['id']}-attempt-1"]
    attempted = clock.parse(db.execute("SELECT attempted_at FROM payment_attempts").fetchone()[0])
    assert attempted - start == timedelta(days=3, minutes=1)
    assert email_kinds(db) == ["dunning_1", "dunning_2", "dunning_3", "dunning_4"]
    assert campaign["status"] == "in_flight"
    assert [s["kind"] for s in campaigns.pending_steps(db, campaign["id"])] == ["terminal"]

    # The customer adds a working card: that earns an immediate retry, which pays.
    with time_machine.travel(start + timedelta(days=16), tick=False):
        fake_stripe.make_card(story.customer["id"], default=True)
        loop.settle()
        assert len(our_pays(fake_stripe, invoice["id"])) == 2
        assert campaign_of(db, connected)["status"] == "recovered"
        assert fake_stripe.get(invoice["id"])["status"] == "paid"


def test_an_invoice_stripe_already_tried_five_times_gets_one_retry_then_is_lost(
    db, fake_stripe, loop, connected
):
    fake_stripe.state.billing.retry_days = [1] * 7  # Smart Retries set to eight tries in Stripe
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    for _ in range(4):  # Stripe's own retries before Backstop hears of the invoice
        with pytest.raises(stripe.CardError):
            fake_stripe.client().v1.invoices.pay(invoice["id"])
    assert fake_stripe.get(invoice["id"])["attempt_count"] == 5
    loop.settle()
    campaign = campaign_of(db, connected)
    start = clock.parse(campaign["first_failed_at"])
    for days in (3, 8, 15, 22):
        settle_at(loop, start + timedelta(days=days, minutes=days))
    pays = our_pays(fake_stripe, invoice["id"])
    assert [p.idempotency_key for p in pays] == [f"backstop-{campaign['id']}-attempt-1"]
    assert fake_stripe.get(invoice["id"])["attempt_count"] == 6  # the cap, Stripe's tries included
    campaign = campaign_of(db, connected)
    assert campaign["status"] == "lost"
    assert fake_stripe.get(story.subscription["id"])["status"] == "canceled"


def test_a_hard_decline_with_two_retries_configured_gets_exactly_two_and_its_own_end_action(
    db, fake_stripe, loop, connected
):
    policy = RetryPolicy().with_rule("hard", retries=2, gaps_days=(2, 4), terminal_action="leave_past_due")
    campaigns.save_policy(db, connected.id, policy)
    story = fake_stripe.customer_with_declining_card("incorrect_cvc")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    campaign = campaign_of(db, connected)
    assert campaign["decline_class"] == "hard"
    start = clock.parse(campaign["first_failed_at"])
    for days in (2, 6, 10, 14, 21, 28):
        settle_at(loop, start + timedelta(days=days, minutes=days))
    pays = our_pays(fake_stripe, invoice["id"])
    assert [p.idempotency_key for p in pays] == [
        f"backstop-{campaign['id']}-attempt-1",
        f"backstop-{campaign['id']}-attempt-2",
    ]
    days_of = [
        (clock.parse(r[0]) - start).days for r in db.execute("SELECT attempted_at FROM payment_attempts")
    ]
    assert days_of == [2, 6]
    campaign = campaign_of(db, connected)
    assert campaign["status"] == "lost"
    # The hard class's own end action, not the soft class's cancel.
    assert fake_stripe.get(story.subscription["id"])["status"] == "past_due"


@pytest.mark.parametrize("action", ["cancel", "mark_unpaid", "leave_past_due"])
def test_a_card_that_keeps_declining_is_retried_on_days_3_8_15_and_lost_with_the_chosen_action(
    db, fake_stripe, loop, connected, action
):
    campaigns.save_policy(db, connected.id, RetryPolicy().with_rule("soft", terminal_action=action))
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    campaign = campaign_of(db, connected)
    start = clock.parse(campaign["first_failed_at"])
    for days, minutes in ((3, 1), (8, 2), (15, 3), (21, 5)):
        settle_at(loop, start + timedelta(days=days, minutes=minutes))
    # The last retry (day 15) came after the last email (day 14): a week's grace from the retry.
    assert campaign_of(db, connected)["status"] == "in_flight"
    settle_at(loop, start + timedelta(days=22, minutes=5))

    attempts = [
        (clock.parse(r[0]) - start, r[1])
        for r in db.execute("SELECT attempted_at, idempotency_key FROM payment_attempts ORDER BY id")
    ]
    assert attempts == [
        (timedelta(days=3, minutes=1), f"backstop-{campaign['id']}-attempt-1"),
        (timedelta(days=8, minutes=2), f"backstop-{campaign['id']}-attempt-2"),
        (timedelta(days=15, minutes=3), f"backstop-{campaign['id']}-attempt-3"),
    ]
    assert len(our_pays(fake_stripe, invoice["id"])) == 3
    assert email_kinds(db) == ["dunning_1", "dunning_2", "dunning_3", "dunning_4"]
    campaign = campaign_of(db, connected)
    assert campaign["status"] == "lost"
    sub = fake_stripe.get(story.subscription["id"])
    inv = fake_stripe.get(invoice["id"])
    if action == "cancel":
        assert sub["status"] == "canceled"
    elif action == "mark_unpaid":
        assert inv["status"] == "uncollectible" and sub["status"] != "canceled"
    else:
        assert (sub["status"], inv["status"]) == ("past_due", "open")
    # Closed means closed: the events the terminal action caused change nothing, nothing more goes out.
    settle_at(loop, start + timedelta(days=40))
    assert campaign_of(db, connected)["status"] == "lost"
    assert len(email_kinds(db)) == 4 and len(our_pays(fake_stripe, invoice["id"])) == 3


def test_letting_stripe_retry_means_backstop_only_emails(db, fake_stripe, loop, connected):
    campaigns.save_policy(db, connected.id, replace(RetryPolicy(), let_stripe_retry=True))
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    start = clock.parse(campaign_of(db, connected)["first_failed_at"])
    for days in (3, 8, 15):
        settle_at(loop, start + timedelta(days=days, minutes=days))
    fake_stripe.make_card(story.customer["id"], default=True)  # a new card: still Stripe's job
    loop.settle()

    invoice_writes = fake_stripe.requests.filter("POST", f"/v1/invoices/{invoice['id']}")
    assert invoice_writes == [] and fake_stripe.get(invoice["id"])["auto_advance"] is True
    assert fake_stripe.requests.filter("POST", f"/v1/invoices/{invoice['id']}/pay") == []
    assert db.execute("SELECT COUNT(*) FROM payment_attempts").fetchone()[0] == 0
    assert email_kinds(db) == ["dunning_1", "dunning_2", "dunning_3", "dunning_4"]
    assert campaign_of(db, connected)["status"] == "in_flight"

    fake_stripe.advance(days=3)  # Stripe's own retry charges the new card
    loop.settle()
    assert fake_stripe.get(invoice["id"])["status"] == "paid"
    assert campaign_of(db, connected)["status"] == "recovered"


def test_the_same_failure_delivered_twice_opens_one_campaign_and_sends_one_email(
    db, fake_stripe, loop, connected
):
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    failed = fake_stripe.events("invoice.payment_failed")[0]
    loop.settle()
    assert deliver(loop, failed) is False  # the same event again, as a second webhook delivery
    # And once more through a fresh copy, as the 72-hour reconciliation would find it.
    loop.seen.discard(failed["id"])
    loop.settle()
    campaign = campaign_of(db, connected)
    assert campaign["invoice_id"] == invoice["id"]
    assert email_kinds(db) == ["dunning_1"]
    takeovers = fake_stripe.requests.filter("POST", f"/v1/invoices/{invoice['id']}")
    assert len([t for t in takeovers if not t.replayed]) == 1
    assert [t["kind"] for t in campaigns.timeline(db, campaign["id"])].count("opened") == 1


def test_a_payment_seen_before_its_failure_leaves_nothing_in_flight(db, fake_stripe, loop, connected):
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    fake_stripe.set_card_decline(story.payment_method["id"], None)
    fake_stripe.client().v1.invoices.pay(invoice["id"])  # the customer's bank lets it through
    assert fake_stripe.get(invoice["id"])["status"] == "paid"
    failed = fake_stripe.events("invoice.payment_failed")[0]
    for event in fake_stripe.events():  # newest first: invoice.paid arrives before the failure
        deliver(loop, event)
    assert failed["id"] in loop.seen
    loop.settle()
    in_flight = db.execute("SELECT COUNT(*) FROM campaigns WHERE status = 'in_flight'").fetchone()[0]
    assert in_flight == 0
    assert email_kinds(db) == []  # no "your payment failed" to a customer who has paid
    assert fake_stripe.requests.filter("POST", f"/v1/invoices/{invoice['id']}/pay")[1:] == []


def test_a_retry_planned_after_the_last_email_runs_before_the_campaign_is_lost(
    db, fake_stripe, loop, connected
):
    campaigns.save_policy(db, connected.id, RetryPolicy().with_rule("soft", gaps_days=(7,)))
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    start = clock.parse(campaign_of(db, connected)["first_failed_at"])
    for days, minutes in ((7, 1), (14, 2), (21, 3), (27, 0)):
        settle_at(loop, start + timedelta(days=days, minutes=minutes))
    assert len(our_pays(fake_stripe, invoice["id"])) == 3  # days 7, 14 and 21
    assert campaign_of(db, connected)["status"] == "in_flight"  # a week's grace after the last try
    settle_at(loop, start + timedelta(days=28, minutes=4))
    assert campaign_of(db, connected)["status"] == "lost"
    assert fake_stripe.get(story.subscription["id"])["status"] == "canceled"


def test_the_cap_holds_when_a_new_card_is_announced_before_stripes_count_of_our_retry(
    db, fake_stripe, loop, connected
):
    fake_stripe.state.billing.retry_days = [1] * 7
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    for _ in range(4):
        with pytest.raises(stripe.CardError):
            fake_stripe.client().v1.invoices.pay(invoice["id"])
    loop.settle()
    start = clock.parse(campaign_of(db, connected)["first_failed_at"])
    with time_machine.travel(start + timedelta(days=3, minutes=1), tick=False):
        loop.run_due()  # Backstop's one retry: the sixth attempt on this invoice
        assert fake_stripe.get(invoice["id"])["attempt_count"] == 6
        fake_stripe.make_card(story.customer["id"], default=True)
        # Stripe doesn't promise order: the new card's events arrive before our retry's failure.
        for event in reversed(fake_stripe.events()):
            if event["id"] not in loop.seen and not event["type"].startswith("invoice."):
                deliver(loop, event)
                loop.run_due()  # as the worker does after each event
        loop.settle()
        # Nor a retry planned for later that the cap would only cancel on the day.
        assert campaigns.pending_steps_of_kind(db, campaign_of(db, connected)["id"], "retry") == []
    assert len(our_pays(fake_stripe, invoice["id"])) == 1  # no seventh attempt
    assert fake_stripe.get(invoice["id"])["attempt_count"] == 6
