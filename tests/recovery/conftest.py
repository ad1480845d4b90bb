"""A workspace connected to the fake Stripe, and a way to feed it the fake's events."""

from dataclasses import replace

import pytest

from backstop.recovery import campaigns
from backstop.stripe_sync import connection
from tests.builders import Loop


@pytest.fixture
def stripe_settings(settings, fake_stripe):
    return replace(settings, stripe_api_base=fake_stripe.url, stripe_connect_base=fake_stripe.url)


@pytest.fixture
def connected(db, box, acme, fake_stripe, stripe_settings):
    key = fake_stripe.add_key()
    connection.save_key_connection(db, box, acme.id, key, False, webhook_secret=None, polling=True)
    return acme


@pytest.fixture
def loop(db, box, stripe_settings, fake_stripe, connected):
    return Loop(db, box, stripe_settings, fake_stripe, connected)


@pytest.fixture
def page_settings(stripe_settings):
    return replace(stripe_settings, stripe_js_url="https://js.stripe.com/v3/")


@pytest.fixture
def web(page_settings, db, loop):
    from litestar.testing import TestClient

    from backstop.web.app import create_app

    with TestClient(app=create_app(page_settings, run_jobs=False), base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
def failed(db, fake_stripe, loop, connected):
    """Dana's renewal declined: one campaign in flight, the workspace has a publishable key."""
    connection.set_publishable_key(db, connected.id, fake_stripe.publishable_key)
    story = fake_stripe.customer_with_declining_card("insufficient_funds", unit_amount=4900)
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    campaign = campaigns.by_invoice(db, connected.id, invoice["id"])
    assert campaign["status"] == "in_flight"
    return story, invoice, campaign
