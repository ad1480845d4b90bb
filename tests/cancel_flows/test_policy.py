"""The approval threshold as pure rules."""

from __future__ import annotations

from backstop.cancel_flows.document import Offer
from backstop.cancel_flows.policy import OfferPolicy, offer_value, over_threshold


def discount(**kw) -> Offer:
    return Offer(kind="discount", headline=kw.pop("headline", "Deal"), **kw)


def test_no_threshold_means_no_approval():
    assert not OfferPolicy().has_threshold
    assert over_threshold(OfferPolicy(), [discount(percent_off=100, duration_months="forever")]) == []


def test_percent_limit():
    policy = OfferPolicy(max_percent_off=30)
    assert over_threshold(policy, [discount(percent_off=30, duration_months=3)]) == []
    assert over_threshold(policy, [discount(percent_off=31, duration_months=3)]) == [
        "“Deal” takes 31% off; the limit is 30%."
    ]


def test_free_month_limit_counts_gifts_and_full_discounts():
    policy = OfferPolicy(max_free_months=1)
    assert over_threshold(policy, [Offer(kind="gift", headline="Gift", months=1)]) == []
    assert over_threshold(policy, [Offer(kind="gift", headline="Gift", months=2)]) == [
        "“Gift” gives 2 free months; the limit is 1 free month."
    ]
    assert len(over_threshold(policy, [discount(percent_off=100, duration_months=2)])) == 1


def test_value_per_customer():
    assert offer_value(discount(amount_off=1000, currency="usd", duration_months=3), "usd", None) == 3000
    assert offer_value(discount(amount_off=1000, currency="eur", duration_months=3), "usd", None) == 0
    assert offer_value(discount(percent_off=50, duration_months=2), "usd", 4000) == 4000
    assert offer_value(discount(percent_off=50, duration_months=2), "usd", None) == 0
    assert offer_value(discount(percent_off=5, duration_months="forever"), "usd", 4000) is None
    assert offer_value(Offer(kind="gift", months=2), "usd", 4000) == 8000
    assert offer_value(Offer(kind="trial_extension", days=15), "usd", 3000) == 1500
    assert offer_value(Offer(kind="pause", months=3), "usd", 3000) == 0

    policy = OfferPolicy(max_value_amount=5000, max_value_currency="usd")
    assert over_threshold(policy, [Offer(kind="gift", headline="Gift", months=1)], 4000) == []
    assert over_threshold(policy, [Offer(kind="gift", headline="Gift", months=2)], 4000) == [
        "“Gift” is worth up to $80.00 per customer; the limit is $50.00."
    ]
    [forever] = over_threshold(policy, [discount(percent_off=5, duration_months="forever")], 4000)
    assert "lasts forever" in forever
