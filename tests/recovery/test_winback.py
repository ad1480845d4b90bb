"""Win-back, card-expiry warnings and trial reminders against the fake Stripe, with the clock moved."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from litestar.testing import TestClient

from backstop import clock
from backstop.email import suppression
from backstop.email.branding import save_branding
from backstop.recovery import reminders, winback
from jobs import queue


@pytest.fixture
def web(stripe_settings, db, loop):
    from backstop.web.app import create_app

    with TestClient(app=create_app(stripe_settings, run_jobs=False), base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
def customer(fake_stripe):
    price = fake_stripe.create_price(4900, "usd", "month", product_name="Pro plan")
    cus = fake_stripe.create_customer(email="sam@example.com", name="Sam")
    card = fake_stripe.make_card(cus["id"], default=True)
    return cus, price, card


def emails(db, kind):
    return [dict(r) for r in db.execute("SELECT * FROM email_messages WHERE kind = ? ORDER BY id", [kind])]


def send_due(db, settings):
    return [winback.send(db, row_id, settings) for row_id in winback.due_ids(db)]


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_canceled_subscription_gets_a_winback_email_after_14_days_and_restarts_in_one_click(
    db, web, loop, fake_stripe, customer, stripe_settings, connected
):
    cus, price, _ = customer
    sub = fake_stripe.create_subscription(cus["id"], price["id"])
    fake_stripe.client().v1.subscriptions.cancel(sub["id"])
    loop.settle()
    [row] = winback.for_workspace(db, connected.id)
    assert (row["reason"], row["plan_name"], row["amount"]) == ("canceled", "Pro plan", 4900)

    with time_machine.travel(clock.now() + timedelta(days=13), tick=False):
        assert send_due(db, stripe_settings) == []
    with time_machine.travel(clock.now() + timedelta(days=14, hours=1), tick=False):
        assert send_due(db, stripe_settings) == ["sent"]
        assert send_due(db, stripe_settings) == []
        [email] = emails(db, "winback")
        assert email["to_email"] == "sam@example.com" and email["status"] == "queued"
        link = re.search(r'href="https?://[^"/]+(/win-back/[^"]+)"', email["html"]).group(1)

        page = web.get(link)
        text = text_of(page.text)
        assert page.status_code == 200 and "Restart Pro plan" in text and "$49.00" in text
        assert "ending in" in text
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
        done = web.post(link, data={"_csrf_token": token})
        assert "Welcome back!" in text_of(done.text)
        again = web.post(link, data={"_csrf_token": token})
        assert "Welcome back!" in text_of(again.text)
        assert "Welcome back!" in text_of(web.get(link).text)  # the link now says it's done

    active = fake_stripe.client().v1.subscriptions.list(params={"customer": cus["id"]}).data
    assert len(active) == 1 and active[0].status == "active"
    assert active[0]["items"].data[0].price.id == price["id"]
    [row] = winback.for_workspace(db, connected.id)
    assert row["status"] == "restarted" and row["new_subscription_id"] == active[0].id


def test_the_winback_restart_needs_the_csrf_token(
    db, web, loop, fake_stripe, customer, stripe_settings, connected
):
    cus, price, _ = customer
    sub = fake_stripe.create_subscription(cus["id"], price["id"])
    fake_stripe.client().v1.subscriptions.cancel(sub["id"])
    loop.settle()
    [row] = winback.for_workspace(db, connected.id)
    link = f"/win-back/{winback.restart_token(stripe_settings.secret_key, connected.id, row['id'])}"
    assert web.post(link, data={}).status_code == 403
    assert fake_stripe.client().v1.subscriptions.list(params={"customer": cus["id"]}).data == []


def test_an_unsubscribed_customer_gets_no_winback(
    db, loop, fake_stripe, customer, stripe_settings, connected
):
    cus, price, _ = customer
    sub = fake_stripe.create_subscription(cus["id"], price["id"])
    fake_stripe.client().v1.subscriptions.cancel(sub["id"])
    loop.settle()
    token = suppression.unsubscribe_token(stripe_settings.secret_key, connected.id, "sam@example.com")
    suppression.unsubscribe(db, stripe_settings.secret_key, token)
    with time_machine.travel(clock.now() + timedelta(days=15), tick=False):
        assert send_due(db, stripe_settings) == ["skipped"]
    assert [e["status"] for e in emails(db, "winback")] == ["suppressed"]


def test_winback_links_expire_and_forged_ones_are_refused(
    db, web, loop, fake_stripe, customer, stripe_settings, connected
):
    cus, price, _ = customer
    sub = fake_stripe.create_subscription(cus["id"], price["id"])
    fake_stripe.client().v1.subscriptions.cancel(sub["id"])
    loop.settle()
    [row] = winback.for_workspace(db, connected.id)
    link = f"/win-back/{winback.restart_token(stripe_settings.secret_key, connected.id, row['id'])}"
    with time_machine.travel(clock.now() + timedelta(days=31), tick=False):
        page = web.get(link)
    assert page.status_code == 410 and "This offer has expired" in text_of(page.text)
    forged = f"/win-back/{winback.restart_token('x' * 48, connected.id, row['id'])}"
    assert web.get(forged).status_code == 404 and "isn't valid" in text_of(web.get(forged).text)


def test_a_card_expiring_before_the_renewal_gets_one_warning(
    db, loop, fake_stripe, stripe_settings, connected
):
    now = datetime.now(UTC)
    price = fake_stripe.create_price(4900, "usd", "month", product_name="Pro plan")
    soon = fake_stripe.create_customer(email="soon@example.com")
    fake_stripe.make_card(soon["id"], default=True, exp_month=now.month, exp_year=now.year, last4="4444")
    fake_stripe.create_subscription(soon["id"], price["id"])
    later = fake_stripe.create_customer(email="later@example.com")
    fake_stripe.make_card(later["id"], default=True, exp_month=now.month, exp_year=now.year + 3)
    fake_stripe.create_subscription(later["id"], price["id"])
    loop.settle()

    assert reminders.queue_card_expiry_warnings(db, stripe_settings) == 1
    assert reminders.queue_card_expiry_warnings(db, stripe_settings) == 0  # once per card and period
    [email] = emails(db, "card_expiry")
    assert email["to_email"] == "soon@example.com" and "4444" in email["html"]
    assert "/card/" in email["html"]


def test_the_card_expiry_link_saves_a_new_default_card(
    db, web, loop, fake_stripe, stripe_settings, connected
):
    from backstop.stripe_sync import connection

    connection.set_publishable_key(db, connected.id, fake_stripe.publishable_key)
    now = datetime.now(UTC)
    price = fake_stripe.create_price(4900, "usd", "month", product_name="Pro plan")
    cus = fake_stripe.create_customer(email="soon@example.com")
    fake_stripe.make_card(cus["id"], default=True, exp_month=now.month, exp_year=now.year)
    sub = fake_stripe.create_subscription(cus["id"], price["id"])
    loop.settle()
    reminders.queue_card_expiry_warnings(db, stripe_settings)
    link = re.search(r'href="https?://[^"/]+(/card/[^"]+)"', emails(db, "card_expiry")[0]["html"]).group(1)
    page = web.get(link)
    assert "Update your card" in text_of(page.text) and "Save card" in page.text
    secret = re.search(r'data-secret="([^"]+)"', page.text).group(1)
    seti = fake_stripe.client(fake_stripe.publishable_key).v1.setup_intents.confirm(
        secret.split("_secret_")[0], params={"client_secret": secret, "payment_method": "pm_card_visa"}
    )
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)
    answer = web.post(f"{link}/confirm", json={"setup_intent": seti.id}, headers={"x-csrftoken": csrf})
    assert answer.json()["state"] == "saved"
    assert fake_stripe.get(sub["id"])["default_payment_method"] == seti.payment_method
    assert fake_stripe.get(cus["id"])["invoice_settings"]["default_payment_method"] == seti.payment_method


def test_a_trial_about_to_end_gets_a_reminder(db, loop, fake_stripe, stripe_settings, connected):
    queue.configure(stripe_settings, immediate=True)
    save_branding(db, connected.id, {"reply_to": "help@acme.test"})
    price = fake_stripe.create_price(4900, "usd", "month", product_name="Pro plan")
    cus = fake_stripe.create_customer(email="trial@example.com")
    fake_stripe.create_subscription(cus["id"], price["id"], trial_period_days=7)
    loop.settle()
    assert emails(db, "trial_ending") == []
    fake_stripe.advance(days=4, seconds=60)
    loop.settle()
    loop.pump_events()
    [email] = emails(db, "trial_ending")
    assert email["to_email"] == "trial@example.com" and "$49.00" in email["html"]
    assert "mailto:help@acme.test" in email["html"]


def lose_campaign(db, loop, fake_stripe, connected, action):
    """A renewal that keeps declining until the campaign is lost with ``action``; returns the story
    and when it was lost."""
    from backstop.recovery import campaigns
    from backstop.recovery.policy import RetryPolicy

    campaigns.save_policy(db, connected.id, RetryPolicy().with_rule("soft", terminal_action=action))
    story = fake_stripe.customer_with_declining_card("insufficient_funds", email="sam@example.com")
    fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    start = clock.now()
    for days in (3, 8, 15, 23):
        with time_machine.travel(start + timedelta(days=days, minutes=days), tick=False):
            loop.settle()
    [campaign] = [dict(r) for r in db.execute("SELECT * FROM campaigns")]
    assert campaign["status"] == "lost"
    return story, start + timedelta(days=23, minutes=23)


def test_a_campaign_lost_with_leave_past_due_gets_a_winback_and_restarts_with_a_single_use_coupon(
    db, web, loop, fake_stripe, stripe_settings, connected
):
    from backstop.recovery import campaigns

    template = fake_stripe.create_coupon(
        id="COMEBACK20", percent_off=20, duration="repeating", duration_in_months=3
    )
    campaigns.save_winback_settings(db, connected.id, "14", template["id"])
    story, lost_at = lose_campaign(db, loop, fake_stripe, connected, "leave_past_due")
    assert fake_stripe.get(story.subscription["id"])["status"] == "past_due"  # left as it was
    [row] = winback.for_workspace(db, connected.id)
    assert (row["reason"], row["subscription_id"]) == ("lost", story.subscription["id"])
    assert clock.parse(row["due_at"]) == (lost_at + timedelta(days=14)).replace(microsecond=0)

    with time_machine.travel(lost_at + timedelta(days=13), tick=False):
        assert send_due(db, stripe_settings) == []
    with time_machine.travel(lost_at + timedelta(days=14, hours=1), tick=False):
        assert send_due(db, stripe_settings) == ["sent"]
        [email] = emails(db, "winback")
        assert email["to_email"] == "sam@example.com"
        link = re.search(r'href="https?://[^"/]+(/win-back/[^"]+)"', email["html"]).group(1)
        fake_stripe.make_card(story.customer["id"], default=True)  # a card that pays
        loop.settle()
        page = web.get(link)
        assert page.status_code == 200 and "Restart Pro plan" in text_of(page.text)
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
        first = web.post(link, data={"_csrf_token": token})
        second = web.post(link, data={"_csrf_token": token})  # a double submit
        assert "Welcome back!" in text_of(first.text) and "Welcome back!" in text_of(second.text)

    subs = (
        fake_stripe.client()
        .v1.subscriptions.list(params={"customer": story.customer["id"], "status": "all"})
        .data
    )
    active = [s for s in subs if s.status == "active"]
    assert len(active) == 1, [(s.id, s.status) for s in subs]
    new = fake_stripe.get(active[0].id)
    [discount] = [fake_stripe.get(d) for d in new["discounts"]]
    coupon = fake_stripe.get(discount["source"]["coupon"])
    # The customer's own coupon: a single-use copy of the template, used once.
    assert coupon["id"] != template["id"] and coupon["percent_off"] == 20
    assert (coupon["duration"], coupon["duration_in_months"]) == ("repeating", 3)
    assert (coupon["max_redemptions"], coupon["times_redeemed"], coupon["valid"]) == (1, 1, False)
    assert coupon["metadata"]["backstop_customer"] == story.customer["id"]
    assert fake_stripe.get(template["id"])["times_redeemed"] == 0
    created = [r for r in fake_stripe.requests.filter("POST", "/v1/coupons") if not r.replayed]
    assert len(created) == 1
    # The old subscription, past due since the loss, ends: one subscription, not two.
    assert fake_stripe.get(story.subscription["id"])["status"] == "canceled"
    loop.settle()
    [row] = winback.for_workspace(db, connected.id)  # the deleted event didn't plan a second one
    assert row["status"] == "restarted" and row["new_subscription_id"] == new["id"]
    assert row["coupon_id"] == coupon["id"]


@pytest.mark.parametrize("action", ["mark_unpaid", "cancel"])
def test_every_lost_campaign_gets_one_winback_whatever_its_end_action(
    db, loop, fake_stripe, stripe_settings, connected, action
):
    story, lost_at = lose_campaign(db, loop, fake_stripe, connected, action)
    loop.settle()  # for cancel, Stripe's customer.subscription.deleted arrives too
    [row] = winback.for_workspace(db, connected.id)
    assert (row["reason"], row["subscription_id"]) == ("lost", story.subscription["id"])
    with time_machine.travel(lost_at + timedelta(days=14, hours=1), tick=False):
        assert send_due(db, stripe_settings) == ["sent"]
        assert send_due(db, stripe_settings) == []
    assert len(emails(db, "winback")) == 1


def test_a_subscription_paid_again_after_a_loss_gets_no_winback(
    db, loop, fake_stripe, stripe_settings, connected
):
    story, lost_at = lose_campaign(db, loop, fake_stripe, connected, "leave_past_due")
    fake_stripe.make_card(story.customer["id"], default=True)
    [invoice_id] = [r[0] for r in db.execute("SELECT invoice_id FROM campaigns")]
    fake_stripe.client().v1.invoices.pay(invoice_id)  # the customer paid the overdue invoice
    loop.settle()
    assert fake_stripe.get(story.subscription["id"])["status"] == "active"
    with time_machine.travel(lost_at + timedelta(days=14, hours=1), tick=False):
        assert send_due(db, stripe_settings) == ["skipped"]
    assert emails(db, "winback") == []
