import json
import time

import pytest

from backstop.stripe_sync import connection
from backstop.stripe_sync.signature import signature_header

WHSEC = "whsec_acme_endpoint_secret_1234"


@pytest.fixture
def acme_connected(db, box, acme):
    """Acme connected with a restricted key and a webhook signing secret."""
    connection.save_key_connection(
        db, box, acme.id, "rk_test_acmeRestrictedKey123456", False, webhook_secret=WHSEC, polling=False
    )
    return acme


_counter = iter(range(1, 10**9))


def make_event(
    type_: str, obj: dict, *, created: int | None = None, event_id: str | None = None, **extra
) -> dict:
    return {
        "id": event_id or f"evt_test_{next(_counter):06d}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created if created is not None else int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
        "data": {"object": obj},
        **extra,
    }


def customer(cid: str = "cus_ada", email: str = "ada@example.com", name: str = "Ada") -> dict:
    return {
        "id": cid,
        "object": "customer",
        "email": email,
        "name": name,
        "created": 1_700_000_000,
        "invoice_settings": {"default_payment_method": None},
        "metadata": {},
        "delinquent": False,
    }


def deliver(
    client,
    event: dict,
    *,
    secret: str = WHSEC,
    slug: str = "acme",
    header: str | None = None,
    body: bytes | None = None,
):
    raw = body if body is not None else json.dumps(event).encode()
    sig = header if header is not None else signature_header(secret, raw)
    path = f"/stripe/webhooks/{slug}" if slug else "/stripe/webhooks"
    return client.post(
        path, content=raw, headers={"Stripe-Signature": sig, "Content-Type": "application/json"}
    )
