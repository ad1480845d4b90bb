"""Offer policies as pure rules: the cooldown and the discount-approval threshold.

A threshold has up to three limits, each optional: the largest percent off, the most free months,
and the most money one offer may take off one customer's bills (minor units in one currency).
Publishing a flow whose offers go past any limit needs an owner's approval.

Value per customer is what the offer gives away, at most:
- an amount-off discount: the amount times its months (a ``forever`` discount has no end, so it is
  always over a value limit);
- a percent-off discount, free months, a trial extension: the same, priced at the workspace's
  most expensive monthly price in the limit's currency (``reference_monthly``); with no mirrored
  price in that currency, these are held to the percent and month limits only;
- pause, downgrade, annual upsell and call give no money away.
"""

from __future__ import annotations

from dataclasses import dataclass

from backstop.cancel_flows.document import Offer
from backstop.lib.money import money as format_money

DEFAULT_COOLDOWN_DAYS = 90


@dataclass(frozen=True)
class OfferPolicy:
    cooldown_days: int = DEFAULT_COOLDOWN_DAYS
    max_percent_off: int | None = None
    max_free_months: int | None = None
    max_value_amount: int | None = None
    max_value_currency: str | None = None

    @property
    def has_threshold(self) -> bool:
        return any(v is not None for v in (self.max_percent_off, self.max_free_months, self.max_value_amount))


def offer_value(offer: Offer, currency: str, reference_monthly: int | None) -> int | None:
    """The most money this offer can take off one customer's bills, or None when unbounded.

    Returns 0 for offers that give no money away, or that cannot be priced in ``currency``.
    """
    if offer.kind == "discount":
        if offer.duration_months == "forever":
            return None
        months = offer.duration_months if isinstance(offer.duration_months, int) else 1
        if offer.amount_off is not None:
            return offer.amount_off * months if offer.currency == currency else 0
        if offer.percent_off is not None and reference_monthly:
            return reference_monthly * offer.percent_off * months // 100
        return 0
    if offer.kind == "gift" and offer.months and reference_monthly:
        return reference_monthly * offer.months
    if offer.kind == "trial_extension" and offer.days and reference_monthly:
        return reference_monthly * offer.days // 30
    return 0


def over_threshold(
    policy: OfferPolicy, offers: list[Offer], reference_monthly: int | None = None
) -> list[str]:
    """Why these offers need an owner's approval under this policy (empty: they don't)."""
    reasons: list[str] = []
    for offer in offers:
        label = offer.headline or offer.kind
        if (
            policy.max_percent_off is not None
            and offer.kind == "discount"
            and offer.percent_off
            and offer.percent_off > policy.max_percent_off
        ):
            reasons.append(
                f"“{label}” takes {offer.percent_off}% off; the limit is {policy.max_percent_off}%."
            )
        if policy.max_free_months is not None:
            free = 0
            if offer.kind == "gift":
                free = offer.months or 0
            elif offer.kind == "discount" and offer.percent_off == 100:
                free = 10**6 if offer.duration_months == "forever" else int(offer.duration_months or 0)
            if free > policy.max_free_months:
                shown = "forever" if free == 10**6 else f"{free} free month{'s' if free != 1 else ''}"
                reasons.append(
                    f"“{label}” gives {shown}; the limit is {policy.max_free_months} free month"
                    f"{'s' if policy.max_free_months != 1 else ''}."
                )
        if policy.max_value_amount is not None and policy.max_value_currency:
            cur = policy.max_value_currency
            value = offer_value(offer, cur, reference_monthly)
            limit = format_money(policy.max_value_amount, cur)
            if value is None:
                reasons.append(
                    f"“{label}” lasts forever, so its value per customer has no limit; the limit is {limit}."
                )
            elif value > policy.max_value_amount:
                reasons.append(
                    f"“{label}” is worth up to {format_money(value, cur)} per customer; the limit is {limit}."
                )
    return reasons
