"""Signed but malformed Stripe events: each is a 400 with its reason on both webhook routes, and
nothing is stored (a 500 would make Stripe retry it for days)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.stripe_sync.conftest import customer, deliver, make_event

PLATFORM_WHSEC = "whsec_platform_endpoint_secret_1"


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, stripe_webhook_secret=PLATFORM_WHSEC)


def _deep(depth: int) -> bytes:
    return b'{"id": "evt_1", "object": "event", "data": ' + b"[" * depth + b"]" * depth + b"}"


def _event(**changes) -> dict:
    event = make_event("customer.created", customer(), account="acct_1Connected")
    for key, value in changes.items():
        if key == "object_id":
            event["data"]["object"]["id"] = value
        else:
            event[key] = value
    return event


MALFORMED = {
    "data not an object": (_event(data=["x"]), "data is not an object"),
    "data.object missing": (_event(data={"previous_attributes": {}}), "no data.object"),
    "object id a dict": (_event(object_id={"a": 1}), "data.object.id is not a string"),
    "object id a list": (_event(object_id=["cus_1"]), "data.object.id is not a string"),
    "account not a string": (_event(account={"id": "acct_1"}), "account is not an acct_ id"),
    "account a number": (_event(account=7), "account is not an acct_ id"),
    "created too large": (_event(created=2**70), "created time"),
    "created a string": (_event(created="1700000000"), "created time"),
    "created negative": (_event(created=-5), "created time"),
    "livemode a string": (_event(livemode="yes"), "livemode"),
    "id with a slash": (_event(id="evt_1/../x"), "evt_ id"),
    "type not a string": (_event(type=["customer.created"]), "type"),
}


@pytest.mark.parametrize("route", ["workspace", "platform"])
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_signed_malformed_event_is_a_400_with_its_reason_and_is_not_stored(
    client, db, acme_connected, route, case
):
    event, reason = MALFORMED[case]
    if route == "workspace":
        response = deliver(client, event)
    else:
        response = deliver(client, event, slug="", secret=PLATFORM_WHSEC)
    assert response.status_code == 400, response.text
    assert reason in response.json()["error"]["message"]
    assert db.execute("SELECT count(*) FROM stripe_events").fetchone()[0] == 0


@pytest.mark.parametrize("route", ["workspace", "platform"])
def test_fifty_thousand_deep_nesting_is_a_400_not_a_recursion_error(client, db, acme_connected, route):
    body = _deep(50_000)
    if route == "workspace":
        response = deliver(client, {}, body=body)
    else:
        response = deliver(client, {}, body=body, slug="", secret=PLATFORM_WHSEC)
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["error"]["message"]
    assert db.execute("SELECT count(*) FROM stripe_events").fetchone()[0] == 0


def test_a_well_formed_event_still_goes_through(client, db, acme_connected):
    response = deliver(client, json.loads(json.dumps(make_event("customer.created", customer()))))
    assert response.status_code == 200
    assert db.execute("SELECT count(*) FROM stripe_events").fetchone()[0] == 1
