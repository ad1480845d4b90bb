"""The fake's objects have the fields of the pinned API version.

Two checks per resource: every field in Stripe's own example object (tests/fixtures/stripe_examples.json)
is present, and every field the fake adds is one the pinned SDK declares for that resource.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stripe._object_classes import get_object_class

from tests.fake_stripe import FakeStripe

# Stripe's own example objects for the pinned API version, kept with the tests.
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stripe_examples.json"

# Fields Stripe's example still shows but the pinned API version no longer returns.
GONE = {"invoice": {"subscription"}}


@pytest.fixture(scope="module")
def examples() -> dict:
    return json.loads(FIXTURES.read_text())["resources"]


def declared(kind: str) -> set[str]:
    cls = get_object_class("V1", kind)
    return {name for klass in cls.__mro__ for name in getattr(klass, "__annotations__", {})}


def objects_of_every_kind(fake: FakeStripe, client) -> dict[str, dict]:
    story = fake.customer_with_declining_card()
    invoice = fake.renewal_fails(story.subscription["id"])
    store = fake.store()
    found: dict[str, dict] = {}
    for kind in ("invoice_payment", "payment_intent", "charge", "event"):
        found[kind] = next(iter(store.all(kind)))
    coupon = fake.create_coupon(percent_off=20, duration="forever")
    client.v1.subscriptions.update(story.subscription["id"], params={"discounts": [{"coupon": coupon["id"]}]})
    sub = fake.get(story.subscription["id"])
    seti = client.v1.setup_intents.create(params={"customer": story.customer["id"]})
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": "http://127.0.0.1:9/x", "enabled_events": ["*"]}
    )
    found.update(
        customer=fake.get(story.customer["id"]),
        product=fake.get(story.price["product"]),
        price=story.price,
        plan=sub["items"]["data"][0]["plan"],
        payment_method=story.payment_method,
        subscription=sub,
        subscription_item=sub["items"]["data"][0],
        invoice=invoice,
        line_item=invoice["lines"]["data"][0],
        coupon=coupon,
        discount=fake.get(sub["discounts"][0]),
        setup_intent=fake.get(seti.id),
        webhook_endpoint=fake.get(endpoint.id),
        account=fake.state.platform_object,
    )
    found["billing_portal.configuration"] = fake.add_portal_configuration()
    return found


def test_every_object_has_the_fields_of_the_pinned_api_version(
    fake_stripe: FakeStripe, stripe_client, examples
):
    problems = []
    for kind, obj in objects_of_every_kind(fake_stripe, stripe_client).items():
        example = examples[kind]
        missing = set(example) - set(obj) - GONE.get(kind, set())
        unknown = set(obj) - set(example) - declared(kind)
        if missing:
            problems.append(f"{kind} lacks {sorted(missing)}")
        if unknown:
            problems.append(f"{kind} has fields the SDK does not declare: {sorted(unknown)}")
    assert problems == []


def test_removed_fields_stay_removed(fake_stripe: FakeStripe, stripe_client, examples):
    objects = objects_of_every_kind(fake_stripe, stripe_client)
    for kind, fields in GONE.items():
        assert not fields & set(objects[kind]), f"{kind} still has {fields}"
        assert not fields & declared(kind), f"the SDK declares {fields} on {kind} again: revisit GONE"


def test_nested_objects_match_too(fake_stripe: FakeStripe, stripe_client, examples):
    objects = objects_of_every_kind(fake_stripe, stripe_client)
    invoice, example = objects["invoice"], examples["invoice"]
    assert set(invoice["status_transitions"]) == set(example["status_transitions"])
    assert set(invoice["parent"]) == set(example["parent"])
    assert set(invoice["parent"]["subscription_details"]) == set(example["parent"]["subscription_details"])
    line_parent = invoice["lines"]["data"][0]["parent"]
    assert set(line_parent) == set(examples["line_item"]["parent"])
    assert set(line_parent["subscription_item_details"]) == set(
        examples["line_item"]["parent"]["subscription_item_details"]
    )
    assert set(objects["charge"]["outcome"]) >= set(examples["charge"]["outcome"])
    assert set(objects["payment_method"]["card"]) >= set(examples["payment_method"]["card"])
    assert set(objects["discount"]["source"]) == set(examples["discount"]["source"])
    assert set(objects["customer"]["invoice_settings"]) == set(examples["customer"]["invoice_settings"])
    features = objects["billing_portal.configuration"]["features"]
    assert set(features["subscription_cancel"]) == set(
        examples["billing_portal.configuration"]["features"]["subscription_cancel"]
    )
