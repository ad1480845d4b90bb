"""One rule per fact read from the Stripe mirror: a plan's name and the card that pays."""

from __future__ import annotations

from backstop.stripe_sync import customers, lookups
from backstop.stripe_sync.mirror import mark_deleted
from tests.builders import (
    put,
    stripe_card,
    stripe_customer,
    stripe_price,
    stripe_product,
    stripe_subscription,
)


def test_a_plan_is_named_by_its_product_before_the_price_nickname_customers_never_see(db, acme):
    nicknamed = stripe_price("price_pro", nickname="pro-monthly-2024-internal")
    put(db, acme.id, stripe_product(name="Pro plan"), nicknamed, stripe_customer("cus_a", "a@x.test"))
    put(db, acme.id, stripe_subscription("sub_a", "cus_a", price=nicknamed))
    assert lookups.subscription_plan_name(db, acme.id, "sub_a") == "Pro plan"
    assert lookups.price_summary(db, acme.id, "price_pro")["name"] == "Pro plan"
    [customer] = customers.list_customers(db, acme.id).customers
    assert customer.subscriptions[0].plan_name == "Pro plan"  # the admin and the API say the same


def test_without_a_product_name_the_nickname_names_the_plan(db, acme):
    put(db, acme.id, stripe_price("price_solo", product="prod_missing", nickname="Solo"))
    assert lookups.price_summary(db, acme.id, "price_solo")["name"] == "Solo"
    assert lookups.plan_name_of(None, None) is None


def test_the_paying_card_is_the_subscriptions_own_default_then_the_customers(db, acme):
    customer_card = stripe_card("pm_customer", "cus_b", last4="1111")
    own_card = stripe_card("pm_own", "cus_b", last4="2222")
    put(db, acme.id, stripe_product(), stripe_price(), customer_card, own_card)
    put(db, acme.id, stripe_customer("cus_b", "b@x.test", card="pm_customer"))
    put(db, acme.id, stripe_subscription("sub_own", "cus_b", default_payment_method="pm_own"))
    put(db, acme.id, stripe_subscription("sub_plain", "cus_b"))
    assert lookups.paying_card(db, acme.id, "cus_b", "sub_own")["card_last4"] == "2222"
    assert lookups.paying_card(db, acme.id, "cus_b", "sub_plain")["card_last4"] == "1111"
    assert lookups.paying_card(db, acme.id, "cus_b")["card_last4"] == "1111"
    assert lookups.default_card_ids(db, acme.id, "cus_b", "sub_own") == {"pm_own", "pm_customer"}

    mark_deleted(db, acme.id, "customer", "cus_b", 2_000_000_000)
    assert lookups.paying_card(db, acme.id, "cus_b", "sub_own") is None
