"""Customers with subscriptions in the fake Stripe, mirrored into Backstop as a sync would."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from backstop.stripe_sync import mirror


@dataclass
class Subscriber:
    customer: dict
    subscription: dict
    price: dict


def mirror_objects(db, workspace_id: int, fake, *ids: str) -> None:
    version = int(time.time() * 1000)
    for object_id in ids:
        mirror.apply_object(db, workspace_id, fake.get(object_id), version)


def subscriber(
    db, workspace_id: int, fake, *, email="sam@example.com", amount=3000, price=None, **sub
) -> Subscriber:
    cus = fake.create_customer(email=email, name=email.split("@")[0].title())
    fake.make_card(cus["id"], default=True)
    price = price or fake.create_price(amount, "usd", "month", product_name="Team")
    subscription = fake.create_subscription(cus["id"], price["id"], **sub)
    mirror_objects(db, workspace_id, fake, price["product"], price["id"], cus["id"], subscription["id"])
    return Subscriber(cus, subscription, price)


def sign(
    secret: str, *, sub: str, ws: str = "acme", lifetime: int = 300, now: int | None = None, **claims
) -> str:
    now = int(time.time()) if now is None else now
    payload = {"sub": sub, "ws": ws, "iat": now, "exp": now + lifetime, "jti": uuid.uuid4().hex, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


def flow_document(
    *, downgrade_price: str | None = None, variants: list | None = None, cancel_at="period_end"
) -> dict:
    """A flow like the SaaS Standard template: a survey whose reasons lead to a 30 % discount,
    a pause, a downgrade or stories, each falling back towards Confirm."""
    discount = {
        "kind": "discount",
        "percent_off": 30,
        "duration_months": 3,
        "headline": "Stay for 30% less",
        "body": "Keep everything you have now for 30% less over the next three months.",
        "accept_label": "Keep my plan at 30% off",
    }
    return {
        "format": "backstop.cancel_flow/1",
        "name": "SaaS Standard",
        "settings": {"cancel_at": cancel_at, "proration": "none"},
        "start": "survey",
        "nodes": [
            {
                "id": "survey",
                "type": "survey",
                "title": "Before you go — what's the main reason?",
                "body": "",
                "free_text": {"enabled": True, "label": "Anything we could have done better?"},
                "reasons": [
                    {"code": "too_expensive", "label": "It's too expensive", "next": "offer_price"},
                    {"code": "not_using", "label": "I'm not using it enough", "next": "offer_pause"},
                    {
                        "code": "missing_features",
                        "label": "It's missing something I need",
                        "next": "offer_down",
                    },
                    {"code": "other", "label": "Something else", "next": "stories"},
                ],
            },
            {
                "id": "offer_price",
                "type": "offer",
                "variants": variants or [{"id": "a", "weight": 100, "offer": discount}],
                "on_decline": "offer_pause",
            },
            {
                "id": "offer_pause",
                "type": "offer",
                "variants": [
                    {
                        "id": "a",
                        "weight": 100,
                        "offer": {
                            "kind": "pause",
                            "months": 2,
                            "headline": "Take a break instead",
                            "body": "Pause for two months: no charges, and everything is here when you're back.",
                            "accept_label": "Pause for 2 months",
                        },
                    }
                ],
                "on_decline": "confirm",
            },
            {
                "id": "offer_down",
                "type": "offer",
                "variants": [
                    {
                        "id": "a",
                        "weight": 100,
                        "offer": {
                            "kind": "downgrade",
                            "price_id": downgrade_price or "price_missing",
                            "headline": "Switch to Basic",
                            "body": "Keep the essentials for less.",
                            "accept_label": "Switch to Basic",
                        },
                    }
                ],
                "on_decline": "confirm",
            },
            {
                "id": "stories",
                "type": "stories",
                "title": "Teams like yours stayed",
                "stories": [{"quote": "It paid for itself in a month.", "author": "Ana", "role": "Founder"}],
                "next": "confirm",
            },
            {
                "id": "confirm",
                "type": "confirm",
                "title": "We're sorry to see you go",
                "body": "Your data stays for 30 days.",
            },
        ],
    }


def publish_flow(db, workspace_id: int, doc: dict):
    """Store the flow and publish v1 with all of the traffic; returns (flow record, version)."""
    from backstop.cancel_flows import document, flows

    record = flows.create_flow(db, workspace_id, document.parse(doc))
    result = flows.publish(db, workspace_id, record.id)
    assert result.status == "published", (result.problems, result.approval_reasons)
    return flows.get_flow(db, workspace_id, record.id), result.version
