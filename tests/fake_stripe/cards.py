"""Test cards: Stripe's `pm_card_…` tokens and test numbers, and how each one declines.

As in Stripe, `pm_card_chargeDeclined…` cards are refused when they are attached or set up, while
`pm_card_chargeCustomerFail` attaches fine and then declines every charge. The fake adds
`pm_card_chargeCustomerFail_<decline_code>` (attaches, then declines with that code) and the
`make_card(...)` helper for any decline code a test wants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# decline_code -> (error code, customer-facing message, advice_code)
DECLINES: dict[str, tuple[str, str, str | None]] = {
    "generic_decline": ("card_declined", "Your card was declined.", None),
    "insufficient_funds": ("card_declined", "Your card has insufficient funds.", "try_again_later"),
    "lost_card": ("card_declined", "Your card was declined.", "do_not_try_again"),
    "stolen_card": ("card_declined", "Your card was declined.", "do_not_try_again"),
    "pickup_card": ("card_declined", "Your card was declined.", "do_not_try_again"),
    "do_not_honor": ("card_declined", "Your card was declined.", None),
    "fraudulent": ("card_declined", "Your card was declined.", "do_not_try_again"),
    "card_velocity_exceeded": (
        "card_declined",
        "Your card was declined for making repeated attempts too frequently or exceeding its amount limit.",
        "try_again_later",
    ),
    "transaction_not_allowed": ("card_declined", "Your card does not support this type of purchase.", None),
    "authentication_required": (
        "card_declined",
        "Your card was declined. This transaction requires authentication.",
        None,
    ),
    "try_again_later": ("card_declined", "Your card was declined.", "try_again_later"),
    "expired_card": ("expired_card", "Your card has expired.", "confirm_card_data"),
    "incorrect_cvc": ("incorrect_cvc", "Your card's security code is incorrect.", "confirm_card_data"),
    "incorrect_number": ("incorrect_number", "Your card number is incorrect.", "confirm_card_data"),
    "processing_error": (
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
        "try_again_later",
    ),
}


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    funding: str = "credit"
    decline_code: str | None = None
    declines_on_attach: bool = False


TOKENS: dict[str, TestCard] = {
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_visa_debit": TestCard("visa", "5556", "debit"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_amex": TestCard("amex", "8431"),
    "pm_card_discover": TestCard("discover", "1117"),
    "pm_card_chargeCustomerFail": TestCard("visa", "0341", decline_code="generic_decline"),
    "pm_card_chargeDeclined": TestCard(
        "visa", "0002", decline_code="generic_decline", declines_on_attach=True
    ),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", decline_code="insufficient_funds", declines_on_attach=True
    ),
    "pm_card_chargeDeclinedLostCard": TestCard(
        "visa", "9987", decline_code="lost_card", declines_on_attach=True
    ),
    "pm_card_chargeDeclinedStolenCard": TestCard(
        "visa", "9979", decline_code="stolen_card", declines_on_attach=True
    ),
    "pm_card_chargeDeclinedExpiredCard": TestCard(
        "visa", "0069", decline_code="expired_card", declines_on_attach=True
    ),
    "pm_card_chargeDeclinedIncorrectCvc": TestCard(
        "visa", "0127", decline_code="incorrect_cvc", declines_on_attach=True
    ),
    "pm_card_chargeDeclinedProcessingError": TestCard(
        "visa", "0119", decline_code="processing_error", declines_on_attach=True
    ),
    "pm_card_chargeDeclinedVelocityLimitExceeded": TestCard(
        "visa", "6975", decline_code="card_velocity_exceeded", declines_on_attach=True
    ),
    "pm_card_chargeDeclinedFraudulent": TestCard(
        "visa", "0019", decline_code="fraudulent", declines_on_attach=True
    ),
}
TOKENS.update({"tok_" + name[len("pm_card_") :]: card for name, card in TOKENS.items()})

NUMBERS: dict[str, TestCard] = {
    "4242424242424242": TOKENS["pm_card_visa"],
    "4000056655665556": TOKENS["pm_card_visa_debit"],
    "5555555555554444": TOKENS["pm_card_mastercard"],
    "378282246310005": TestCard("amex", "0005"),
    "4000000000000341": TOKENS["pm_card_chargeCustomerFail"],
    "4000000000000002": TOKENS["pm_card_chargeDeclined"],
    "4000000000009995": TOKENS["pm_card_chargeDeclinedInsufficientFunds"],
    "4000000000009987": TOKENS["pm_card_chargeDeclinedLostCard"],
    "4000000000009979": TOKENS["pm_card_chargeDeclinedStolenCard"],
    "4000000000000069": TOKENS["pm_card_chargeDeclinedExpiredCard"],
    "4000000000000127": TOKENS["pm_card_chargeDeclinedIncorrectCvc"],
    "4000000000000119": TOKENS["pm_card_chargeDeclinedProcessingError"],
}

CUSTOM_FAIL_PREFIX = "pm_card_chargeCustomerFail_"


def lookup_token(token: str) -> TestCard | None:
    if token.startswith(CUSTOM_FAIL_PREFIX):
        code = token[len(CUSTOM_FAIL_PREFIX) :]
        return TestCard("visa", "0341", decline_code=code)
    return TOKENS.get(token)


def decline(decline_code: str, advice_code: str | None = None) -> dict[str, Any]:
    """What a declined charge reports, for any decline code (unknown ones decline as card_declined)."""
    code, message, default_advice = DECLINES.get(
        decline_code, ("card_declined", "Your card was declined.", None)
    )
    return {
        "code": code,
        "decline_code": decline_code,
        "message": message,
        "advice_code": advice_code if advice_code is not None else default_advice,
    }
