"""``POST /api/v1/embed/check`` and ``POST /api/v1/embed/sessions``: a signed token, no API token."""

from __future__ import annotations

import time

import jwt
import pytest

from backstop.stripe_sync import connection
from backstop.workspaces.workspaces import embed_secret
from tests.cancel_flows.stories import sign, subscriber


@pytest.fixture
def secret(db, box, acme, fake_stripe):
    connection.save_key_connection(
        db, box, acme.id, fake_stripe.add_key(), False, webhook_secret=None, polling=True
    )
    return embed_secret(db, box, acme.id)


@pytest.fixture
def sam(db, acme, fake_stripe, secret):
    return subscriber(db, acme.id, fake_stripe)


def test_check_says_what_backstop_sees_without_using_the_token(client, sam, secret):
    token = sign(secret, sub=sam.customer["id"])
    for _ in range(2):
        answer = client.post("/api/v1/embed/check", json={"token": token})
        assert answer.status_code == 200
        body = answer.json()
        assert body["valid"] is True and body["workspace"] == {"slug": "acme", "name": "Acme Analytics"}
        assert body["customer"]["id"] == sam.customer["id"]
        assert body["customer"]["subscription_id"] == sam.subscription["id"]
        assert "x-ratelimit-remaining" in answer.headers
    assert (
        client.post(
            "/api/v1/embed/sessions", json={"token": token, "return_url": "https://a.example/x"}
        ).status_code
        == 201
    )
    reused = client.post("/api/v1/embed/check", json={"token": token}).json()
    assert (reused["valid"], reused["reason"]) == (False, "reused") and reused["message"]


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp_offset": 601}, "exp_too_far"),
        ({"exp_offset": -400, "iat_offset": -900}, "expired"),
        ({"ws": "nobody"}, "unknown_workspace"),
        ({"sub": "cus_nobody"}, "unknown_customer"),
        ({"key": "es_someone_else_entirely_0123456789"}, "bad_signature"),
        ({"alg": "HS512"}, "unsupported_alg"),
    ],
)
def test_check_names_each_refusal(client, sam, secret, claims, reason):
    now = int(time.time())
    payload = {
        "sub": claims.get("sub", sam.customer["id"]),
        "ws": claims.get("ws", "acme"),
        "iat": now + claims.get("iat_offset", 0),
        "exp": now + claims.get("exp_offset", 300),
        "jti": "j-check",
    }
    token = jwt.encode(payload, claims.get("key", secret), algorithm=claims.get("alg", "HS256"))
    body = client.post("/api/v1/embed/check", json={"token": token}).json()
    assert (body["valid"], body["reason"]) == (False, reason)
    opened = client.post("/api/v1/embed/sessions", json={"token": token, "return_url": "https://a.example/"})
    assert opened.status_code == 400 and opened.json()["error"]["message"].startswith(f"{reason}: ")


def test_sessions_gives_the_hosted_url(client, settings, sam, secret):
    answer = client.post(
        "/api/v1/embed/sessions",
        json={"token": sign(secret, sub=sam.customer["id"]), "return_url": "https://app.example.com/done"},
    )
    assert answer.status_code == 201
    body = answer.json()
    assert body["object"] == "cancel_session_link" and body["url"].startswith(
        settings.public_url + "/cancel/s/"
    )
    page = client.get(body["url"].removeprefix(settings.public_url))
    assert page.status_code == 200 and "Cancel your subscription?" in page.text


@pytest.mark.parametrize(
    "return_url",
    [
        "javascript:alert(1)",
        "ftp://a.example/",
        "/relative",
        "https://user:pw@a.example/",
        "https://a.example/\r\nX: y",
        "x" * 3000,
    ],
)
def test_sessions_refuses_a_return_url_that_is_not_http(client, sam, secret, return_url):
    token = sign(secret, sub=sam.customer["id"])
    answer = client.post("/api/v1/embed/sessions", json={"token": token, "return_url": return_url})
    assert answer.status_code == 400 and "return_url" in answer.json()["error"]["message"]
    assert client.post("/api/v1/embed/check", json={"token": token}).json()["valid"] is True  # not used up


def test_bad_bodies_are_400s(client):
    for body in ([], {"token": 5}, {}, "x"):
        answer = client.post("/api/v1/embed/check", json=body)
        assert answer.status_code == 400 and answer.json()["error"]["type"] == "invalid_request_error"


def test_embed_endpoints_are_rate_limited_per_address(client, settings):
    limit = max(settings.api_rate_limit, 60)
    statuses = [client.post("/api/v1/embed/check", json={"token": "x"}).status_code for _ in range(limit + 1)]
    assert statuses[:limit] == [200] * limit and statuses[-1] == 429
