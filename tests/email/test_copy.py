"""Every email kind reads well with its optional data absent: no "None", no "null", no empty
sentence; and with it present, a card brand as people write it and the customer's first name."""

from __future__ import annotations

import re

import pytest

from backstop.email.branding import Branding
from backstop.email.kinds import KINDS
from backstop.email.render import OPTIONAL, card_brand, first_name, render_email

BRANDING = Branding(workspace_id=1, company="Acme")
PUBLIC = "https://billing.example.com"

# Besides OPTIONAL, the plan's name may not be mirrored yet when an email goes out, and a trial
# reminder may not know the price.
MAY_BE_MISSING = {kind: (*OPTIONAL, "plan_name") for kind in KINDS}
MAY_BE_MISSING["trial_ending"] = (*OPTIONAL, "plan_name", "amount", "currency")


def render(kind: str, **changes):
    context = {**KINDS[kind].sample, **changes}
    return render_email(kind, context, BRANDING, PUBLIC, f"{PUBLIC}/u/x")


def visible(text: str) -> str:
    """What a reader sees: no head or styles, block tags as line breaks, inline tags dropped."""
    text = re.sub(r"(?s)<head>.*?</head>|<style.*?</style>", "", text)
    text = re.sub(r"(?i)</?(p|h1|h2|div|td|tr|table|br|li|ul|body|html)\b[^>]*>", "\n", text)
    return re.sub(r"<[^>]+>", "", text)


def problems(text: str) -> list[str]:
    found = []
    plain = visible(text)
    for word in ("None", "null", "undefined"):
        if re.search(rf"\b{word}\b", plain):
            found.append(f"renders {word!r}")
    for line in (" ".join(line.split()) for line in plain.splitlines()):
        if re.search(r"\s[.,:;]|\.\s*\.|\(\s*\)|\b(for|of|at|in|your|the)\s*[.,:;]|^[.,:;]", line):
            found.append(f"an empty sentence or a gap where a value was: {line!r}")
        if re.search(r"(?i)\byour your\b|\bthe the\b|ending in\s*[.,]", line):
            found.append(f"a phrase missing its value: {line!r}")
    return found


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_reads_well_with_optional_data_absent(kind):
    absent = {key: None for key in MAY_BE_MISSING[kind]}
    rendered = render(kind, **absent)
    for part in (rendered.subject, rendered.html, rendered.text):
        assert problems(part) == [], (kind, part)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_reads_well_with_everything_present(kind):
    rendered = render(kind, customer_name="Ivan Iversen")
    for part in (rendered.subject, rendered.html, rendered.text):
        assert problems(part) == [], (kind, part)


def test_the_dunning_email_without_a_plan_name_says_your_subscription():
    rendered = render("dunning_1", plan_name=None)
    assert "for your subscription" in rendered.text and "for your subscription" in rendered.html
    assert "is due for your subscription." in rendered.html  # the preheader


def test_the_card_brand_is_capitalised_and_the_greeting_uses_the_first_name():
    rendered = render("dunning_1", card_brand="visa", card_last4="4242", customer_name="Ivan Iversen")
    assert "your Visa ending in 4242" in rendered.text
    assert rendered.text.startswith("Hi Ivan,") and "Iversen" not in rendered.text
    expiry = render("card_expiry", card_brand="amex", customer_name=None)
    assert "The American Express ending in" in expiry.text and expiry.text.startswith("Hi,")


def test_the_decline_reason_is_said_once():
    rendered = render("dunning_1", decline_message="Your bank declined the charge for insufficient funds.")
    assert rendered.text.lower().count("declined") == 1
    no_reason = render("dunning_1", decline_message=None)
    assert no_reason.text.lower().count("declined") == 1


def test_card_brand_and_first_name():
    assert card_brand("mastercard") == "Mastercard" and card_brand("unknown") == "card"
    assert card_brand(None) == "card" and card_brand("diners") == "Diners Club"
    assert first_name("  Ivan   Iversen ") == "Ivan" and first_name("") is None
    assert first_name("ivan@example.com") is None
