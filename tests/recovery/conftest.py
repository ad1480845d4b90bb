"""A workspace connected to the fake Stripe, and a way to feed it the fake's events."""

from dataclasses import replace

import pytest

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
