"""Paths sent to Stripe: ids are checked against their pattern and segments are quoted, so a value
from a request can never reach another endpoint with the workspace's key."""

from __future__ import annotations

import pytest

from backstop.connectors.stripe import StripeConfig, StripeGateway, UnsafeStripePath, stripe_id, stripe_path


def test_stripe_id_accepts_a_plain_id_of_its_prefix_only():
    assert stripe_id("seti_1Q2w3E4r", "seti") == "seti_1Q2w3E4r"
    for bad in (
        "pm_1Q2w3E4r",
        "seti_",
        "seti_a/b",
        "seti_a..b",
        "seti_a b",
        "seti_a%2F",
        None,
        7,
        ["seti_1"],
    ):
        assert stripe_id(bad, "seti") is None, bad
    assert stripe_id("seti_" + "a" * 251, "seti") is None


def test_stripe_path_quotes_every_segment():
    assert stripe_path("v1", "customers", "cus_1") == "/v1/customers/cus_1"
    assert stripe_path("v1", "setup_intents", "seti_x/../../pi") == "/v1/setup_intents/seti_x%2F..%2F..%2Fpi"
    assert stripe_path("v1", "customers", "a?b#c") == "/v1/customers/a%3Fb%23c"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/setup_intents/seti_x/../../payment_intents/pi_1",
        "/v1/setup_intents/seti_x/./y",
        "/v1/customers/cus_1?expand=x",
        "/v1/customers//cus_1",
        "v1/customers",
        "/v1/customers/cus 1",
    ],
)
def test_the_gateway_sends_nothing_for_a_path_that_could_climb_or_smuggle(fake_stripe, path):
    gateway = StripeGateway(
        StripeConfig(api_key=fake_stripe.secret_key, api_base=fake_stripe.url, max_attempts=1)
    )
    before = len(fake_stripe.requests)
    with pytest.raises(UnsafeStripePath):
        gateway.get(path)
    assert len(fake_stripe.requests) == before


def test_the_gateway_still_reaches_a_quoted_odd_id_as_one_segment(fake_stripe):
    gateway = StripeGateway(
        StripeConfig(api_key=fake_stripe.secret_key, api_base=fake_stripe.url, max_attempts=1)
    )
    from backstop.connectors.stripe import StripeNotFound

    with pytest.raises(StripeNotFound):
        gateway.get(stripe_path("v1", "customers", "cus_x/../../balance"))
    assert [r.path for r in fake_stripe.requests][-1].startswith("/v1/customers/cus_x")
