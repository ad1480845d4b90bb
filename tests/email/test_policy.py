"""Who may receive what, and from which address — the rules on their own, without I/O."""

from __future__ import annotations

import pytest

from backstop.email.kinds import KINDS, MARKETING, TRANSACTIONAL
from backstop.email.policy import (
    OUTBOX_SENDER,
    DomainState,
    Suppression,
    choose_sender,
    flatten_header,
    header_problem,
    suppression_reason,
    valid_address,
)


@pytest.mark.parametrize(
    ("category", "state", "allowed"),
    [
        (TRANSACTIONAL, Suppression(), True),
        (TRANSACTIONAL, Suppression(unsubscribed=True), True),
        (TRANSACTIONAL, Suppression(hard_bounced=True), False),
        (TRANSACTIONAL, Suppression(complained=True), False),
        (MARKETING, Suppression(), True),
        (MARKETING, Suppression(unsubscribed=True), False),
        (MARKETING, Suppression(hard_bounced=True), False),
        (MARKETING, Suppression(complained=True), False),
    ],
)
def test_it_applies_the_suppression_rules(category, state, allowed):
    assert (suppression_reason(category, state) is None) is allowed


def test_dunning_and_receipts_are_transactional_and_winback_is_marketing():
    # The weekly summary goes to owners, not customers: as marketing, its Unsubscribe link works.
    assert {k for k, v in KINDS.items() if v.category == MARKETING} == {
        "winback",
        "trial_ending",
        "weekly_summary",
    }
    assert all(KINDS[f"dunning_{n}"].category == TRANSACTIONAL for n in (1, 2, 3, 4))
    assert KINDS["payment_recovered"].category == TRANSACTIONAL


def test_an_unverified_domain_blocks_instead_of_falling_back_to_the_shared_sender():
    choice = choose_sender("ses", "billing@shared.test", DomainState("mail.acme.test", "billing", "pending"))
    assert choice.address is None
    assert "Waiting for mail.acme.test to be verified" in choice.reason


def test_a_verified_domain_sends_from_its_own_address():
    choice = choose_sender("ses", "billing@shared.test", DomainState("mail.acme.test", "pay", "verified"))
    assert choice.address == "pay@mail.acme.test"


def test_a_failed_domain_says_how_to_recover():
    choice = choose_sender("ses", None, DomainState("mail.acme.test", "billing", "failed"))
    assert choice.address is None and "add the domain again" in choice.reason


def test_without_a_domain_the_shared_sender_is_used_and_without_one_mail_waits():
    assert choose_sender("smtp", "billing@shared.test", None).address == "billing@shared.test"
    blocked = choose_sender("smtp", None, None)
    assert blocked.address is None and "BACKSTOP_SHARED_SENDER" in blocked.reason
    assert choose_sender("outbox", None, None).address == OUTBOX_SENDER


@pytest.mark.parametrize("value", ["Acme\r\nBcc: victim@x.test", "Acme\nX: y", "Acme\x00"])
def test_it_refuses_line_breaks_and_control_characters_in_headers(value):
    assert header_problem(value, "from name") is not None


def test_it_flattens_header_data_from_elsewhere_into_one_line():
    assert flatten_header("Sam\r\nBcc: victim@x.test\t ") == "Sam Bcc: victim@x.test"


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("sam@customer.test", True),
        ("sam@customer", False),
        ("sam customer@x.test", False),
        ("<a@b.test>", False),
    ],
)
def test_it_checks_addresses(address, ok):
    assert valid_address(address) is ok
