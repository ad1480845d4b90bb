"""A stateful, Stripe-compatible HTTP server for the test suite (and for trying Backstop by hand).

    from tests.fake_stripe import FakeStripe

    with FakeStripe() as fake:                     # 127.0.0.1, a free port
        client = fake.client()                     # a real stripe.StripeClient aimed at it
        client.v1.customers.create(params={"email": "a@example.com"})

See README.md in this folder for what it models and how to point Backstop at it.
"""

from .server import FakeStripe
from .shapes import API_VERSION
from .state import PLATFORM_ACCOUNT, PLATFORM_SECRET_KEY
from .webhooks import signature_header

__all__ = ["API_VERSION", "PLATFORM_ACCOUNT", "PLATFORM_SECRET_KEY", "FakeStripe", "signature_header"]
