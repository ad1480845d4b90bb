"""The calls a cancel flow makes to apply a save offer or a cancellation, through the real SDK:
single-use coupons added to a subscription's discounts, pause_collection, an item's price
switch, trial_end, cancel_at_period_end and immediate cancellation with cancellation_details,
and idempotency keys that make a repeated call a no-op."""

from __future__ import annotations

import pytest
import stripe

from tests.fake_stripe import FakeStripe

DAY = 86_400


@pytest.fixture
def subscriber(fake_stripe: FakeStripe):
    cus = fake_stripe.create_customer(email="sam@example.com")
    fake_stripe.make_card(cus["id"], default=True)
    price = fake_stripe.create_price(3000, "usd", "month", product_name="Team")
    return fake_stripe.create_subscription(cus["id"], price["id"])


def test_it_applies_a_single_use_coupon_once_and_keeps_existing_discounts(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscriber
):
    loyal = fake_stripe.create_coupon(percent_off=10, duration="forever")
    sub = stripe_client.v1.subscriptions.update(
        subscriber["id"], params={"discounts": [{"coupon": loyal["id"]}]}
    )
    kept = sub.discounts[0]
    params = {
        "percent_off": 30,
        "duration": "repeating",
        "duration_in_months": 3,
        "max_redemptions": 1,
        "name": "Save offer",
        "metadata": {"backstop_cancel_session": "7"},
    }
    coupon = stripe_client.v1.coupons.create(params=params, options={"idempotency_key": "cs-7-coupon"})
    again = stripe_client.v1.coupons.create(params=params, options={"idempotency_key": "cs-7-coupon"})
    assert again.id == coupon.id and coupon.max_redemptions == 1

    apply = {"discounts": [{"discount": kept}, {"coupon": coupon.id}]}
    sub = stripe_client.v1.subscriptions.update(
        subscriber["id"], params=apply, options={"idempotency_key": "cs-7-apply"}
    )
    replay = stripe_client.v1.subscriptions.update(
        subscriber["id"], params=apply, options={"idempotency_key": "cs-7-apply"}
    )
    assert replay.discounts == sub.discounts and len(sub.discounts) == 2
    assert stripe_client.v1.coupons.retrieve(coupon.id).times_redeemed == 1

    # Single use: the coupon can't be redeemed a second time, even on the same subscription.
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.subscriptions.update(subscriber["id"], params={"discounts": [{"coupon": coupon.id}]})
    assert stripe_client.v1.coupons.retrieve(coupon.id).valid is False


def test_it_pauses_collection_until_a_date_and_stays_active(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscriber
):
    resumes = int(fake_stripe.state.clock.now()) + 60 * DAY
    sub = stripe_client.v1.subscriptions.update(
        subscriber["id"], params={"pause_collection": {"behavior": "void", "resumes_at": resumes}}
    )
    assert sub.status == "active"
    assert (sub.pause_collection.behavior, sub.pause_collection.resumes_at) == ("void", resumes)
    event = fake_stripe.events("customer.subscription.updated")[0]
    assert event["data"]["previous_attributes"]["pause_collection"] is None


def test_it_switches_the_item_price_with_the_chosen_proration(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscriber
):
    basic = fake_stripe.create_price(1000, "usd", "month", product_name="Basic")
    item = subscriber["items"]["data"][0]["id"]
    sub = stripe_client.v1.subscriptions.update(
        subscriber["id"],
        params={"items": [{"id": item, "price": basic["id"]}], "proration_behavior": "none"},
        options={"idempotency_key": "cs-8-downgrade"},
    )
    assert [(i.id, i.price.id) for i in sub["items"].data] == [(item, basic["id"])]


def test_it_moves_trial_end_forward(fake_stripe: FakeStripe, stripe_client: stripe.StripeClient):
    cus = fake_stripe.create_customer(email="tess@example.com")
    price = fake_stripe.create_price(1500, "usd", "month")
    sub = fake_stripe.create_subscription(cus["id"], price["id"], trial_period_days=7)
    later = sub["trial_end"] + 14 * DAY
    moved = stripe_client.v1.subscriptions.update(
        sub["id"], params={"trial_end": later, "proration_behavior": "none"}
    )
    assert (moved.status, moved.trial_end) == ("trialing", later)


def test_it_cancels_at_period_end_with_feedback(stripe_client: stripe.StripeClient, subscriber):
    sub = stripe_client.v1.subscriptions.update(
        subscriber["id"],
        params={
            "cancel_at_period_end": True,
            "cancellation_details": {"feedback": "too_expensive", "comment": "Budget cuts"},
        },
    )
    assert sub.cancel_at_period_end is True and sub.status == "active"
    assert sub.cancel_at == sub["items"].data[0].current_period_end
    details = sub.cancellation_details
    assert (details.feedback, details.comment, details.reason) == (
        "too_expensive",
        "Budget cuts",
        "cancellation_requested",
    )


def test_it_cancels_at_once_with_feedback(stripe_client: stripe.StripeClient, subscriber):
    sub = stripe_client.v1.subscriptions.cancel(
        subscriber["id"], params={"cancellation_details": {"feedback": "unused"}}
    )
    assert sub.status == "canceled" and sub.cancellation_details.feedback == "unused"
    # As in Stripe, canceling twice is refused (DELETE carries no idempotency replay): a caller
    # retrying must read the subscription to see the first call went through.
    with pytest.raises(stripe.InvalidRequestError, match="canceled"):
        stripe_client.v1.subscriptions.cancel(subscriber["id"])
