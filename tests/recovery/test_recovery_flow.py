"""A failed renewal, end to end against the fake Stripe: campaign, dunning, retries, recovery."""

from datetime import timedelta

import time_machine

from backstop import clock
from backstop.recovery import campaigns


def campaign_of(db, ws):
    return dict(db.execute("SELECT * FROM campaigns WHERE workspace_id = ?", [ws.id]).fetchone())


def emails(db):
    return [dict(r) for r in db.execute("SELECT kind, to_email, status FROM email_messages ORDER BY id")]


def kinds(db, campaign_id):
    return [t["kind"] for t in campaigns.timeline(db, campaign_id)]


def test_it_opens_a_campaign_takes_over_and_sends_the_first_email(db, fake_stripe, loop, connected):
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    campaign = campaign_of(db, connected)
    assert campaign["status"] == "in_flight" and campaign["invoice_id"] == invoice["id"]
    assert (campaign["decline_code"], campaign["decline_class"]) == ("insufficient_funds", "soft")
    assert (
        campaign["amount_due"] == invoice["amount_due"] and campaign["customer_email"] == "dana@example.com"
    )
    assert fake_stripe.get(invoice["id"])["auto_advance"] is False  # exactly one retrier: us
    assert emails(db) == [{"kind": "dunning_1", "to_email": "dana@example.com", "status": "queued"}]
    planned = {(s["kind"], s["seq"]): s["due_at"] for s in campaigns.pending_steps(db, campaign["id"])}
    opened = clock.parse(campaign["first_failed_at"])
    assert clock.parse(planned[("retry", 1)]) == opened + timedelta(days=3)
    assert clock.parse(planned[("dunning", 4)]) == opened + timedelta(days=14)
    assert "took_over" in kinds(db, campaign["id"])


def test_it_retries_on_schedule_with_an_idempotency_key_and_plans_the_next(db, fake_stripe, loop, connected):
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    with time_machine.travel(clock.now() + timedelta(days=3, minutes=1), tick=False):
        loop.settle()
        campaign = campaign_of(db, connected)
        attempts = [dict(r) for r in db.execute("SELECT * FROM payment_attempts")]
        assert [(a["outcome"], a["decline_code"]) for a in attempts] == [("declined", "insufficient_funds")]
        assert attempts[0]["idempotency_key"] == f"backstop-{campaign['id']}-attempt-1"
        pays = fake_stripe.requests.filter("POST", f"/v1/invoices/{campaign['invoice_id']}/pay")
        assert [r.idempotency_key for r in pays] == [attempts[0]["idempotency_key"]]
        assert [e["kind"] for e in emails(db)] == ["dunning_1", "dunning_2"]
        nxt = [s for s in campaigns.pending_steps(db, campaign["id"]) if s["kind"] == "retry"]
        assert [clock.parse(s["due_at"]).date() for s in nxt] == [(clock.now() + timedelta(days=5)).date()]


def test_a_new_card_retries_at_once_and_recovery_stops_everything(db, fake_stripe, loop, connected):
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    fake_stripe.make_card(story.customer["id"], default=True)  # the customer fixes their card
    loop.settle()
    campaign = campaign_of(db, connected)
    assert campaign["status"] == "recovered"
    assert fake_stripe.get(invoice["id"])["status"] == "paid"
    assert "card_updated" in kinds(db, campaign["id"]) and "recovered" in kinds(db, campaign["id"])
    assert campaigns.pending_steps(db, campaign["id"]) == []
    with time_machine.travel(clock.now() + timedelta(days=20), tick=False):
        loop.settle()
    assert [e["kind"] for e in emails(db)] == ["dunning_1"]  # nothing more after recovery


def test_paying_outside_backstop_closes_the_campaign_as_recovered(db, fake_stripe, loop, connected):
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    fake_stripe.client().v1.invoices.pay(invoice["id"], params={"paid_out_of_band": True})
    loop.settle()
    assert campaign_of(db, connected)["status"] == "recovered"


def test_a_voided_invoice_abandons_the_campaign(db, fake_stripe, loop, connected):
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    fake_stripe.client().v1.invoices.void_invoice(invoice["id"])
    loop.settle()
    campaign = campaign_of(db, connected)
    assert campaign["status"] == "abandoned" and "voided" in campaign["close_reason"]


def test_a_stolen_card_is_never_retried_and_the_campaign_is_lost_at_the_end(db, fake_stripe, loop, connected):
    story = fake_stripe.customer_with_declining_card("stolen_card")
    fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    campaign = campaign_of(db, connected)
    assert campaign["decline_class"] == "never"
    with time_machine.travel(clock.now() + timedelta(days=22), tick=False):
        loop.settle()
    campaign = campaign_of(db, connected)
    assert campaign["status"] == "lost"
    assert db.execute("SELECT COUNT(*) FROM payment_attempts").fetchone()[0] == 0
    assert [e["kind"] for e in emails(db)] == ["dunning_1", "dunning_2", "dunning_3", "dunning_4"]
    assert fake_stripe.get(story.subscription["id"])["status"] == "canceled"  # the terminal action


def test_pausing_holds_due_work_and_unpausing_sends_it_in_order(db, fake_stripe, loop, connected):
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    campaigns.set_paused(db, connected.id, True, "olivia@acme.test")
    fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    assert emails(db) == []
    assert fake_stripe.get(campaign_of(db, connected)["invoice_id"])["auto_advance"] is True
    with time_machine.travel(clock.now() + timedelta(days=4), tick=False):
        loop.settle()
        assert emails(db) == []
        campaigns.set_paused(db, connected.id, False)
        loop.settle()
        assert [e["kind"] for e in emails(db)] == ["dunning_1", "dunning_2"]
        assert db.execute("SELECT COUNT(*) FROM payment_attempts").fetchone()[0] == 1


def test_a_new_card_that_also_declines_is_retried_once_however_many_events_announce_it(
    db, fake_stripe, loop, connected
):
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    fake_stripe.make_card(story.customer["id"], default=True, decline_code="do_not_honor")
    # payment_method.attached and customer.updated both announce this card; the retry runs
    # between them.
    loop.settle(one_event_at_a_time=True)
    attempts = [dict(r) for r in db.execute("SELECT trigger, outcome, decline_code FROM payment_attempts")]
    assert attempts == [{"trigger": "card_update", "outcome": "declined", "decline_code": "do_not_honor"}]
    assert campaign_of(db, connected)["status"] == "in_flight"


def test_a_card_attached_but_not_made_default_is_not_retried(db, fake_stripe, loop, connected):
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    fake_stripe.make_card(story.customer["id"], default=False)
    loop.settle()
    assert db.execute("SELECT COUNT(*) FROM payment_attempts").fetchone()[0] == 0
