"""Pytest fixtures for the fake Stripe server.

- `fake_stripe`: the running server, reset before each test (objects, keys, events, faults, log).
- `stripe_client`: a real `stripe.StripeClient` aimed at it with the platform's test secret key
  and no automatic retries (so injected faults surface).

The server starts once per session; resetting is cheap, so tests stay fast.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import FakeStripe


@pytest.fixture(scope="session")
def _fake_stripe_server() -> Iterator[FakeStripe]:
    fake = FakeStripe().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_stripe(_fake_stripe_server: FakeStripe) -> Iterator[FakeStripe]:
    _fake_stripe_server.reset()
    yield _fake_stripe_server
    _fake_stripe_server.webhooks.auto = False


@pytest.fixture
def stripe_client(fake_stripe: FakeStripe):
    return fake_stripe.client()
