"""Billing through the real SDK: catalog, cards, setup intents, subscriptions, invoices, declines,
and the scenario helpers and clock tests use to tell stories about renewals."""

from __future__ import annotations

import pytest
import stripe

from tests.fake_stripe import FakeStripe

DAY = 86_400


@pytest.fixture
def pro(stripe_client: stripe.StripeClient):
    product = stripe_client.v1.products.create(params={"name": "Pro"})
    return stripe_client.v1.prices.create(
        params={
            "product": product.id,
            "unit_amount": 2000,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    )


@pytest.fixture
def paying_customer(stripe_client: stripe.StripeClient):
    cus = stripe_client.v1.customers.create(params={"email": "paula@example.com"})
    pm = stripe_client.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id})
    stripe_client.v1.customers.update(cus.id, params={"invoice_settings": {"default_payment_method": pm.id}})
    return cus


def test_products_and_prices(stripe_client, pro):
    assert pro.id.startswith("price_") and pro.recurring.interval == "month" and pro.type == "recurring"
    product = stripe_client.v1.products.retrieve(pro.product)
    assert product.default_price == pro.id
    listed = stripe_client.v1.prices.list(params={"product": product.id, "expand": ["data.product"]})
    assert listed.data[0].product.name == "Pro"
    archived = stripe_client.v1.prices.update(pro.id, params={"active": False})
    assert archived.active is False
    assert stripe_client.v1.prices.list(params={"active": True}).data == []


def test_cards_attach_detach_and_declining_test_tokens(fake_stripe: FakeStripe, stripe_client):
    cus = stripe_client.v1.customers.create(params={"email": "c@example.com"})
    visa = stripe_client.v1.payment_methods.attach("pm_card_mastercard", params={"customer": cus.id})
    assert (visa.card.brand, visa.card.last4, visa.customer) == ("mastercard", "4444", cus.id)
    with pytest.raises(stripe.CardError) as exc:
        stripe_client.v1.payment_methods.attach(
            "pm_card_chargeDeclinedInsufficientFunds", params={"customer": cus.id}
        )
    assert exc.value.code == "card_declined" and exc.value.error.decline_code == "insufficient_funds"
    stripe_client.v1.customers.update(
        cus.id, params={"invoice_settings": {"default_payment_method": visa.id}}
    )
    stripe_client.v1.payment_methods.detach(visa.id)
    assert stripe_client.v1.customers.retrieve(cus.id).invoice_settings.default_payment_method is None
    assert [e["type"] for e in fake_stripe.events()][:3] == [
        "customer.updated",
        "payment_method.detached",
        "customer.updated",
    ]
    card = fake_stripe.make_card(
        cus.id, decline_code="expired_card", exp_month=1, exp_year=2031, last4="0069"
    )
    assert stripe_client.v1.customers.payment_methods.list(cus.id).data[0].id == card["id"]


def test_setup_intent_confirm_attaches_the_card(fake_stripe: FakeStripe, stripe_client):
    cus = stripe_client.v1.customers.create(params={"email": "s@example.com"})
    seti = stripe_client.v1.setup_intents.create(params={"customer": cus.id, "usage": "off_session"})
    assert seti.status == "requires_payment_method" and seti.client_secret.startswith(seti.id + "_secret_")
    done = fake_stripe.complete_setup_intent(seti.id, "pm_card_amex")
    assert done["status"] == "succeeded"
    assert stripe_client.v1.payment_methods.retrieve(done["payment_method"]).customer == cus.id
    assert "setup_intent.succeeded" in [e["type"] for e in fake_stripe.events()]
    failing = stripe_client.v1.setup_intents.create(params={"customer": cus.id})
    with pytest.raises(stripe.CardError):
        stripe_client.v1.setup_intents.confirm(
            failing.id, params={"payment_method": "pm_card_chargeDeclined"}
        )
    assert (
        stripe_client.v1.setup_intents.retrieve(failing.id).last_setup_error.decline_code == "generic_decline"
    )


def test_subscription_create_pays_the_first_invoice(
    fake_stripe: FakeStripe, stripe_client, pro, paying_customer
):
    sub = stripe_client.v1.subscriptions.create(
        params={"customer": paying_customer.id, "items": [{"price": pro.id}], "expand": ["latest_invoice"]}
    )
    assert sub.status == "active"
    item = sub["items"].data[0]
    assert item.price.id == pro.id and item.current_period_end > item.current_period_start
    invoice = sub.latest_invoice
    assert (invoice.status, invoice.amount_paid, invoice.billing_reason) == (
        "paid",
        2000,
        "subscription_create",
    )
    assert invoice.parent.subscription_details.subscription == sub.id
    assert invoice.lines.data[0].parent.subscription_item_details.subscription_item == item.id
    created = fake_stripe.events("customer.subscription.created")[0]["data"]["object"]
    assert created["status"] == "active"  # one created event with the outcome, no intermediate noise


def test_first_invoice_decline_leaves_an_incomplete_subscription(fake_stripe: FakeStripe, stripe_client, pro):
    cus = stripe_client.v1.customers.create(params={"email": "i@example.com"})
    card = fake_stripe.make_card(cus.id, decline_code="insufficient_funds", default=True)
    sub = stripe_client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": pro.id}]})
    assert sub.status == "incomplete"
    with pytest.raises(stripe.CardError):
        stripe_client.v1.subscriptions.create(
            params={
                "customer": cus.id,
                "items": [{"price": pro.id}],
                "payment_behavior": "error_if_incomplete",
            }
        )
    fake_stripe.set_card_decline(card["id"], None)
    stripe_client.v1.invoices.pay(sub.latest_invoice)
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_trial_then_trial_will_end_then_first_charge(
    fake_stripe: FakeStripe, stripe_client, pro, paying_customer
):
    fake_stripe.clock.freeze(1_800_000_000)
    sub = stripe_client.v1.subscriptions.create(
        params={"customer": paying_customer.id, "items": [{"price": pro.id}], "trial_period_days": 14}
    )
    assert sub.status == "trialing" and sub.trial_end == 1_800_000_000 + 14 * DAY
    fake_stripe.advance(days=12)
    assert fake_stripe.events("customer.subscription.trial_will_end")
    fake_stripe.advance(days=2)
    sub = stripe_client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert sub.status == "active" and sub.latest_invoice.amount_paid == 2000


def test_cancel_at_period_end_then_the_period_ends(
    fake_stripe: FakeStripe, stripe_client, pro, paying_customer
):
    sub = stripe_client.v1.subscriptions.create(
        params={"customer": paying_customer.id, "items": [{"price": pro.id}]}
    )
    updated = stripe_client.v1.subscriptions.update(
        sub.id, params={"cancel_at_period_end": True, "cancellation_details": {"feedback": "too_expensive"}}
    )
    assert updated.cancel_at_period_end is True
    assert updated.cancel_at == updated["items"].data[0].current_period_end
    event = fake_stripe.events("customer.subscription.updated")[0]
    assert event["data"]["previous_attributes"]["cancel_at_period_end"] is False
    fake_stripe.advance(days=32)
    ended = stripe_client.v1.subscriptions.retrieve(sub.id)
    assert ended.status == "canceled" and ended.cancellation_details.feedback == "too_expensive"
    assert stripe_client.v1.subscriptions.list().data == []
    assert [s.id for s in stripe_client.v1.subscriptions.list(params={"status": "all"}).data] == [sub.id]


def test_cancel_immediately(fake_stripe: FakeStripe, stripe_client, pro, paying_customer):
    sub = stripe_client.v1.subscriptions.create(
        params={"customer": paying_customer.id, "items": [{"price": pro.id}]}
    )
    canceled = stripe_client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled" and canceled.ended_at is not None
    assert fake_stripe.events()[0]["type"] == "customer.subscription.deleted"


def test_pause_collection_voids_renewals_until_cleared(
    fake_stripe: FakeStripe, stripe_client, pro, paying_customer
):
    sub = stripe_client.v1.subscriptions.create(
        params={"customer": paying_customer.id, "items": [{"price": pro.id}]}
    )
    paused = stripe_client.v1.subscriptions.update(sub.id, params={"pause_collection": {"behavior": "void"}})
    assert paused.pause_collection.behavior == "void" and paused.status == "active"
    renewal = fake_stripe.renewal_succeeds(sub.id)
    assert renewal["status"] == "void"
    resumed = stripe_client.v1.subscriptions.update(sub.id, params={"pause_collection": ""})
    assert resumed.pause_collection is None
    assert fake_stripe.renewal_succeeds(sub.id)["status"] == "paid"


def test_coupon_discount_on_subscription(fake_stripe: FakeStripe, stripe_client, pro, paying_customer):
    coupon = stripe_client.v1.coupons.create(
        params={"percent_off": 50, "duration": "repeating", "duration_in_months": 3, "name": "Stay with us"}
    )
    sub = stripe_client.v1.subscriptions.create(
        params={"customer": paying_customer.id, "items": [{"price": pro.id}]}
    )
    saved = stripe_client.v1.subscriptions.update(
        sub.id, params={"discounts": [{"coupon": coupon.id}], "expand": ["discounts"]}
    )
    assert saved.discounts[0].source.coupon == coupon.id
    renewal = fake_stripe.renewal_succeeds(sub.id)
    assert (renewal["subtotal"], renewal["total"], renewal["amount_paid"]) == (2000, 1000, 1000)
    assert renewal["total_discount_amounts"][0]["amount"] == 1000
    assert stripe_client.v1.coupons.retrieve(coupon.id).times_redeemed == 1


def test_a_single_use_coupon_is_made_once_per_key_and_redeemed_once(
    fake_stripe: FakeStripe, stripe_client, pro, paying_customer
):
    params = {"percent_off": 20, "duration": "repeating", "duration_in_months": 3, "max_redemptions": 1}
    coupon = stripe_client.v1.coupons.create(params=params, options={"idempotency_key": "k-1"})
    again = stripe_client.v1.coupons.create(params=params, options={"idempotency_key": "k-1"})
    assert again.id == coupon.id and len(stripe_client.v1.coupons.list().data) == 1
    first = stripe_client.v1.subscriptions.create(
        params={
            "customer": paying_customer.id,
            "items": [{"price": pro.id}],
            "discounts": [{"coupon": coupon.id}],
        }
    )
    assert len(fake_stripe.get(first.id)["discounts"]) == 1
    with pytest.raises(stripe.InvalidRequestError, match="Coupon expired"):
        stripe_client.v1.subscriptions.create(
            params={
                "customer": paying_customer.id,
                "items": [{"price": pro.id}],
                "discounts": [{"coupon": coupon.id}],
            }
        )
    used = stripe_client.v1.coupons.retrieve(coupon.id)
    assert (used.times_redeemed, used.valid) == (1, False)


def test_item_price_switch(fake_stripe: FakeStripe, stripe_client, pro, paying_customer):
    basic = fake_stripe.create_price(900, product_name="Basic")
    sub = stripe_client.v1.subscriptions.create(
        params={"customer": paying_customer.id, "items": [{"price": pro.id}]}
    )
    item = sub["items"].data[0]
    switched = stripe_client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": item.id, "price": basic["id"]}], "proration_behavior": "none"}
    )
    assert [(i.id, i.price.id) for i in switched["items"].data] == [(item.id, basic["id"])]
    previous = fake_stripe.events("customer.subscription.updated")[0]["data"]["previous_attributes"]
    assert previous["items"]["data"][0]["price"]["id"] == pro.id
    assert fake_stripe.renewal_succeeds(sub.id)["amount_paid"] == 900


def test_renewal_fails_with_the_decline_code_where_this_api_version_keeps_it(
    fake_stripe: FakeStripe, stripe_client
):
    story = fake_stripe.customer_with_declining_card("insufficient_funds")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    assert invoice["status"] == "open" and invoice["attempt_count"] == 1 and invoice["next_payment_attempt"]
    assert stripe_client.v1.subscriptions.retrieve(story.subscription["id"]).status == "past_due"
    failed = fake_stripe.events("invoice.payment_failed")[0]
    assert (
        failed["data"]["object"]["parent"]["subscription_details"]["subscription"] == story.subscription["id"]
    )
    assert "subscription" not in failed["data"]["object"] and "charge" not in failed["data"]["object"]
    full = stripe_client.v1.invoices.retrieve(
        invoice["id"], params={"expand": ["payments.data.payment.payment_intent.latest_charge"]}
    )
    intent = full.payments.data[0].payment.payment_intent
    assert intent.last_payment_error.decline_code == "insufficient_funds"
    assert intent.last_payment_error.advice_code == "try_again_later"
    assert intent.latest_charge.outcome.reason == "insufficient_funds"
    assert intent.latest_charge.failure_code == "card_declined"
    charge_event = fake_stripe.events("charge.failed")[0]["data"]["object"]
    assert charge_event["outcome"]["network_decline_code"] == "51"


def test_pay_succeeds_after_a_new_card(fake_stripe: FakeStripe, stripe_client):
    story = fake_stripe.customer_with_declining_card("do_not_honor")
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    with pytest.raises(stripe.CardError) as exc:
        stripe_client.v1.invoices.pay(invoice["id"])
    assert exc.value.error.decline_code == "do_not_honor"
    assert exc.value.error.payment_intent.status == "requires_payment_method"
    new_card = stripe_client.v1.payment_methods.attach(
        "pm_card_visa", params={"customer": story.customer["id"]}
    )
    paid = stripe_client.v1.invoices.pay(invoice["id"], params={"payment_method": new_card.id})
    assert paid.status == "paid" and paid.attempt_count == 3 and paid.next_payment_attempt is None
    assert stripe_client.v1.subscriptions.retrieve(story.subscription["id"]).status == "active"
    assert [e["type"] for e in fake_stripe.events()][:2] == [
        "customer.subscription.updated",
        "customer.updated",
    ]


def test_auto_advance_false_stops_automatic_retries(fake_stripe: FakeStripe, stripe_client):
    story = fake_stripe.customer_with_declining_card()
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    held = stripe_client.v1.invoices.update(invoice["id"], params={"auto_advance": False})
    assert held.auto_advance is False and held.next_payment_attempt is None
    fake_stripe.advance(days=20)
    assert stripe_client.v1.invoices.retrieve(invoice["id"]).attempt_count == 1


def test_automatic_retries_then_cancel_by_default(fake_stripe: FakeStripe, stripe_client):
    story = fake_stripe.customer_with_declining_card()
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    fake_stripe.advance(days=16)  # retries after 3, 5 and 7 more days
    after = stripe_client.v1.invoices.retrieve(invoice["id"])
    assert after.attempt_count == 4 and after.next_payment_attempt is None and after.status == "open"
    assert stripe_client.v1.subscriptions.retrieve(story.subscription["id"]).status == "canceled"
    assert len(fake_stripe.events("invoice.payment_failed")) == 4


def test_void_and_mark_uncollectible_and_status_filters(fake_stripe: FakeStripe, stripe_client):
    story = fake_stripe.customer_with_declining_card()
    fake_stripe.state.billing.after_final_failure = "past_due"
    first = fake_stripe.renewal_fails(story.subscription["id"])
    second = fake_stripe.renewal_fails(story.subscription["id"])
    assert stripe_client.v1.invoices.void_invoice(first["id"]).status == "void"
    marked = stripe_client.v1.invoices.mark_uncollectible(second["id"])
    assert marked.status == "uncollectible" and marked.status_transitions.marked_uncollectible_at
    listed = stripe_client.v1.invoices.list(params={"status": "uncollectible", "expand": ["data.customer"]})
    assert [(i.id, i.customer.email) for i in listed.data] == [(second["id"], "dana@example.com")]
    assert len(stripe_client.v1.invoices.list(params={"subscription": story.subscription["id"]}).data) == 3
    types = [e["type"] for e in fake_stripe.events()][:2]
    assert types == ["invoice.marked_uncollectible", "invoice.voided"]


def test_invoice_lines_beyond_ten_are_paged(fake_stripe: FakeStripe, stripe_client, paying_customer):
    prices = [fake_stripe.create_price(100 + n, product_name=f"Seat {n}") for n in range(12)]
    sub = stripe_client.v1.subscriptions.create(
        params={"customer": paying_customer.id, "items": [{"price": p["id"]} for p in prices]}
    )
    invoice = stripe_client.v1.invoices.retrieve(sub.latest_invoice)
    assert len(invoice.lines.data) == 10 and invoice.lines.has_more is True
    all_lines = list(
        stripe_client.v1.invoices.line_items.list(invoice.id, params={"limit": 5}).auto_paging_iter()
    )
    assert len(all_lines) == 12 and sum(line.amount for line in all_lines) == invoice.amount_paid


def test_billing_portal_configuration_says_whether_cancel_is_enabled(fake_stripe: FakeStripe, stripe_client):
    fake_stripe.add_portal_configuration(cancel_enabled=False)
    (config,) = stripe_client.v1.billing_portal.configurations.list().data
    assert config.features.subscription_cancel.enabled is False and config.is_default
    updated = stripe_client.v1.billing_portal.configurations.update(
        config.id, params={"features": {"subscription_cancel": {"enabled": True}}}
    )
    assert updated.features.subscription_cancel.enabled is True
