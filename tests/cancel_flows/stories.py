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
