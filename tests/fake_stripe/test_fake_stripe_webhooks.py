"""Webhook delivery from the fake, checked with the SDK's own signature verification."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from tests.fake_stripe import FakeStripe


class Receiver:
    """A tiny HTTP endpoint that records what it is sent and answers with `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((body, dict(self.headers.items())))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stripe/webhooks"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def events(self, secret: str) -> list[stripe.Event]:
        return [
            stripe.Webhook.construct_event(body, headers["Stripe-Signature"], secret)
            for body, headers in self.received
        ]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_registered_endpoint_gets_signed_events_the_sdk_verifies(
    fake_stripe: FakeStripe, stripe_client, receiver
):
    endpoint = stripe_client.v1.webhook_endpoints.create(
        params={"url": receiver.url, "enabled_events": ["customer.*", "invoice.payment_failed"]}
    )
    assert endpoint.secret.startswith("whsec_")
    assert "secret" not in stripe_client.v1.webhook_endpoints.retrieve(endpoint.id)
    story = fake_stripe.customer_with_declining_card()
    fake_stripe.renewal_fails(story.subscription["id"])
    deliveries = fake_stripe.webhooks.deliver_pending()
    assert deliveries and all(d.ok for d in deliveries)
    events = receiver.events(endpoint.secret)
    types = [e.type for e in events]
    assert types[0] == "customer.created" and "invoice.payment_failed" in types
    assert not any(t.startswith(("price.", "charge.")) for t in types)
    failed = next(e for e in events if e.type == "invoice.payment_failed")
    assert failed.data.object.parent.subscription_details.subscription == story.subscription["id"]
    assert fake_stripe.webhooks.deliver_pending() == []  # nothing twice once it got a 2xx


def test_wrong_secret_or_stale_timestamp_fails_verification(fake_stripe: FakeStripe):
    fake_stripe.create_customer(email="v@example.com")
    event = fake_stripe.events()[0]
    body, headers = fake_stripe.webhooks.signed(event, "whsec_right")
    assert stripe.Webhook.construct_event(body, headers["Stripe-Signature"], "whsec_right").id == event["id"]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, headers["Stripe-Signature"], "whsec_wrong")
    body, headers = fake_stripe.webhooks.signed(event, "whsec_right", timestamp=int(time.time()) - 600)
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(body, headers["Stripe-Signature"], "whsec_right")
    assert json.loads(body)["type"] == "customer.created"


def test_a_failed_delivery_is_sent_again_next_time(fake_stripe: FakeStripe, receiver):
    _, secret = fake_stripe.add_webhook_endpoint(receiver.url)
    fake_stripe.create_customer(email="retry@example.com")
    receiver.status = 500
    (first,) = fake_stripe.webhooks.deliver_pending()
    assert first.status == 500 and not first.ok
    receiver.status = 200
    (second,) = fake_stripe.webhooks.deliver_pending()
    assert second.ok and second.event_id == first.event_id
    assert len(receiver.events(secret)) == 2


def test_automatic_delivery_as_events_happen(fake_stripe: FakeStripe, stripe_client, receiver):
    _, secret = fake_stripe.add_webhook_endpoint(receiver.url, ("customer.created",))
    fake_stripe.webhooks.auto = True
    created = stripe_client.v1.customers.create(params={"email": "auto@example.com"})
    assert fake_stripe.webhooks.wait_idle()
    (event,) = receiver.events(secret)
    assert event.data.object.id == created.id
    assert event.request.id is not None


def test_connect_endpoints_get_connected_accounts_events(fake_stripe: FakeStripe, receiver):
    _, secret = fake_stripe.add_webhook_endpoint(receiver.url, connect=True)
    account = fake_stripe.connect_account()
    fake_stripe.create_customer(email="platform-own@example.com")  # the platform's: not for this endpoint
    fake_stripe.create_customer(email="theirs@example.com", account=account)
    fake_stripe.deauthorize(account)
    fake_stripe.webhooks.deliver_pending()
    events = receiver.events(secret)
    assert [e.type for e in events] == ["customer.created", "account.application.deauthorized"]
    assert {e.account for e in events} == {account}
