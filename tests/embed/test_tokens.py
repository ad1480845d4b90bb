"""Embed tokens: what opens a cancel flow and every way a token is refused."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import rsa

from backstop.embed import tokens
from backstop.stripe_sync import connection
from backstop.workspaces.workspaces import create_workspace, embed_secret
from tests.cancel_flows.stories import sign, subscriber


@pytest.fixture
def secret(db, box, acme):
    return embed_secret(db, box, acme.id)


@pytest.fixture
def sam(db, box, acme, fake_stripe):
    connection.save_key_connection(
        db, box, acme.id, fake_stripe.add_key(), False, webhook_secret=None, polling=True
    )
    return subscriber(db, acme.id, fake_stripe)


def test_it_accepts_a_good_token_without_using_it_up(db, box, secret, sam):
    token = sign(secret, sub=sam.customer["id"], sid=sam.subscription["id"])
    first = tokens.check(db, box, token)
    assert first.valid and first.workspace["slug"] == "acme"
    assert (first.customer_id, first.subscription_id) == (sam.customer["id"], sam.subscription["id"])
    assert first.customer.email == "sam@example.com"
    assert tokens.check(db, box, token).valid  # checking twice uses nothing up
    assert tokens.redeem(db, box, token).valid
    assert tokens.check(db, box, token).reason == "reused"
    with pytest.raises(tokens.TokenRejected) as exc:
        tokens.redeem(db, box, token)
    assert exc.value.reason == "reused"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _hostile(secret: str, customer: str) -> dict[str, tuple[str, str]]:
    now = int(time.time())
    base = {"sub": customer, "ws": "acme", "iat": now, "exp": now + 300, "jti": "j-1"}
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    no_exp = {k: v for k, v in base.items() if k != "exp"}
    return {
        "alg none": (f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(base)}.", "unsupported_alg"),
        "RS256": (jwt.encode(base, rsa_key, algorithm="RS256"), "unsupported_alg"),
        "HS512": (jwt.encode(base, secret, algorithm="HS512"), "unsupported_alg"),
        "no exp": (jwt.encode(no_exp, secret, algorithm="HS256"), "malformed"),
        "exp too far": (jwt.encode({**base, "exp": now + 601}, secret, algorithm="HS256"), "exp_too_far"),
        "expired": (
            jwt.encode({**base, "iat": now - 900, "exp": now - 400}, secret, algorithm="HS256"),
            "expired",
        ),
        "unknown workspace": (
            jwt.encode({**base, "ws": "nobody"}, secret, algorithm="HS256"),
            "unknown_workspace",
        ),
        "unknown customer": (
            jwt.encode({**base, "sub": "cus_nobody"}, secret, algorithm="HS256"),
            "unknown_customer",
        ),
        "someone else's subscription": (
            jwt.encode({**base, "sid": "sub_not_theirs"}, secret, algorithm="HS256"),
            "unknown_customer",
        ),
        "bad signature": (
            jwt.encode(base, "es_not_the_secret_at_all_0123456789", algorithm="HS256"),
            "bad_signature",
        ),
        "garbage": ("not-a-jwt", "malformed"),
        "two parts": ("abc.def", "malformed"),
        "no jti": (
            jwt.encode({k: v for k, v in base.items() if k != "jti"}, secret, algorithm="HS256"),
            "malformed",
        ),
        "iat from the future": (
            jwt.encode({**base, "iat": now + 3600, "exp": now + 3700}, secret, algorithm="HS256"),
            "malformed",
        ),
    }


def test_it_refuses_every_hostile_token_with_its_own_reason(db, box, secret, sam):
    for name, (token, reason) in _hostile(secret, sam.customer["id"]).items():
        result = tokens.check(db, box, token)
        assert (name, result.valid, result.reason) == (name, False, reason)
        assert result.message and "None" not in result.message
        with pytest.raises(tokens.TokenRejected) as exc:
            tokens.redeem(db, box, token)
        assert exc.value.reason == reason
    assert db.execute("SELECT COUNT(*) FROM embed_token_uses").fetchone()[0] == 0


def test_it_refuses_a_token_signed_for_another_workspace(db, box, acme, olivia, sam):
    _, other_secret = create_workspace(db, box, "Globex", olivia.admin, "globex")
    token = sign(other_secret, sub=sam.customer["id"], ws="acme")
    assert tokens.check(db, box, token).reason == "bad_signature"
    # Signed correctly for Globex, but the customer is Acme's.
    assert (
        tokens.check(db, box, sign(other_secret, sub=sam.customer["id"], ws="globex")).reason
        == "unknown_customer"
    )


def test_a_token_expires_by_backstops_clock(db, box, secret, sam):
    token = sign(secret, sub=sam.customer["id"], lifetime=600)
    with time_machine.travel(time.time() + 600 + tokens.LEEWAY + 1, tick=False):
        assert tokens.check(db, box, token).reason == "expired"
    assert tokens.check(db, box, token).valid


def test_used_jtis_are_forgotten_a_day_after_their_token_expired(db, box, secret, sam):
    tokens.redeem(db, box, sign(secret, sub=sam.customer["id"]))
    assert tokens.forget_expired_uses(db) == 0
    with time_machine.travel(time.time() + timedelta(days=1, minutes=10).total_seconds(), tick=False):
        assert tokens.forget_expired_uses(db) == 1
