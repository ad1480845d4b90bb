"""The Failed Payment Wall: one check answered from the database, a page with the amount and the
reason in plain words, and a status that turns "settled" once the invoice is paid."""

from __future__ import annotations

import json

import pytest

from backstop.db import one
from backstop.embed import origins
from backstop.embed.tokens import check
from backstop.recovery import campaigns
from backstop.recovery.policy import customer_message
from backstop.stripe_sync import connection
from tests.cancel_flows.stories import sign, subscriber
from tests.embed.conftest import words

APP = "http://localhost:3000"


def ask(web, token, origin=APP):
    headers = {"Content-Type": "text/plain"}
    if origin:
        headers["Origin"] = origin
    return web.post("/wall/check", content=json.dumps({"token": token}), headers=headers)


@pytest.fixture
def dana(db, fake_stripe, loop, connected):
    """Dana's renewal declined (insufficient funds): a campaign in flight."""
    origins.add_origin(db, connected.id, APP)
    connection.set_publishable_key(db, connected.id, fake_stripe.publishable_key)
    story = fake_stripe.customer_with_declining_card("insufficient_funds", unit_amount=4900)
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    campaign = campaigns.by_invoice(db, connected.id, invoice["id"])
    assert campaign["status"] == "in_flight"
    return story, invoice, campaign


def test_nothing_owed_means_nothing_shown_and_the_token_is_not_used(
    web, db, box, secret, connected, fake_stripe
):
    origins.add_origin(db, connected.id, APP)
    sam = subscriber(db, connected.id, fake_stripe)
    token = sign(secret, sub=sam.customer["id"])
    calls = len(fake_stripe.requests)
    answer = ask(web, token)
    assert len(fake_stripe.requests) == calls
    assert answer.status_code == 200 and answer.json() == {"show": False}
    assert answer.headers["access-control-allow-origin"] == APP
    assert check(db, box, token).valid


def test_an_open_campaign_shows_the_wall_with_amount_and_reason(web, db, box, secret, dana, fake_stripe):
    story, _, _ = dana
    token = sign(secret, sub=story.customer["id"])
    stripe_calls = len(fake_stripe.requests)
    answer = ask(web, token)
    assert len(fake_stripe.requests) == stripe_calls  # answered from the database alone
    body = answer.json()
    assert body["show"] is True and body["mode"] == "dismissible"
    assert (body["amount"], body["currency"]) == (4900, "usd")
    assert check(db, box, token).reason == "reused"
    page = web.get(body["path"] + "?embed=1&origin=" + APP)
    text = words(page.text)
    assert "Your payment didn't go through" in text and "$49.00" in text
    assert customer_message("insufficient_funds") in text  # the dunning emails' words
    assert "Update card" in text and "Remind me later" in text
    assert 'href="/update-card/' in page.text
    assert page.headers["content-security-policy"].endswith(f"frame-ancestors {APP}")
    assert web.get(body["path"] + "/status").json() == {"state": "due"}


def test_the_status_turns_settled_once_the_invoice_is_paid(web, db, secret, dana, fake_stripe, loop):
    story, invoice, _ = dana
    body = ask(web, sign(secret, sub=story.customer["id"])).json()
    fake_stripe.set_card_decline(story.payment_method["id"], None)
    loop.gateway(dana[2]["workspace_id"]).post(f"/v1/invoices/{invoice['id']}/pay", {})
    loop.settle()
    assert campaigns.by_invoice(db, dana[2]["workspace_id"], invoice["id"])["status"] == "recovered"
    assert web.get(body["path"] + "/status").json() == {"state": "settled"}
    page = web.get(body["path"] + "?embed=1&origin=" + APP)
    assert 'data-backstop-event="recovered"' in page.text and "Payment received" in words(page.text)


def test_blocking_mode_blocks_after_the_grace_days(web, db, secret, dana):
    story, _, campaign = dana
    origins.save_wall_settings(db, campaign["workspace_id"], "blocking", "0")
    body = ask(web, sign(secret, sub=story.customer["id"])).json()
    assert body["mode"] == "blocking"
    assert "Remind me later" not in words(web.get(body["path"] + "?embed=1&origin=" + APP).text)
    origins.save_wall_settings(db, campaign["workspace_id"], "blocking", "5")
    assert ask(web, sign(secret, sub=story.customer["id"])).json()["mode"] == "dismissible"


def test_an_origin_not_listed_is_refused_and_nothing_is_stored(web, db, box, secret, dana):
    story, _, _ = dana
    token = sign(secret, sub=story.customer["id"])
    answer = ask(web, token, origin="https://evil.test")
    assert answer.status_code == 403
    assert answer.json()["reason"] == "origin_not_allowed"
    assert "isn't listed under Settings → Embed" in answer.json()["message"]
    assert check(db, box, token).valid
    assert one(db, "SELECT COUNT(*) AS n FROM hosted_sessions")["n"] == 0


@pytest.mark.parametrize(
    ("make", "reason", "status"),
    [
        (lambda s, cus: sign("wrong-secret-" * 4, sub=cus), "bad_signature", 401),
        (lambda s, cus: sign(s, sub=cus, lifetime=3600), "exp_too_far", 400),
        (lambda s, cus: sign(s, sub="cus_nobody"), "unknown_customer", 401),
        (lambda s, cus: "garbage", "malformed", 400),
    ],
)
def test_a_refused_token_says_why(web, db, secret, dana, make, reason, status):
    story, _, _ = dana
    answer = ask(web, make(secret, story.customer["id"]))
    assert answer.status_code == status and answer.json()["reason"] == reason
    assert answer.json()["message"]
    assert one(db, "SELECT COUNT(*) AS n FROM hosted_sessions")["n"] == 0


def test_a_body_that_is_not_json_is_a_400(web):
    answer = web.post("/wall/check", content=b"{nope", headers={"Content-Type": "text/plain"})
    assert answer.status_code == 400 and answer.json()["reason"] == "malformed"


def test_unknown_wall_session_is_a_404(web):
    assert web.get("/wall/s/nope").status_code == 404
    assert web.get("/wall/s/nope/status").status_code == 404


def test_a_flood_of_checks_from_one_address_is_slowed_down_and_told_when_to_retry(web, db, secret, dana):
    from backstop.lib.ratelimit import FixedWindowLimiter

    web.app.state.backstop.wall_limiter = FixedWindowLimiter(3)
    story, _, _ = dana
    answers = [ask(web, sign(secret, sub=story.customer["id"])) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert all(a.json()["show"] for a in answers[:3])
    slowed = answers[3]
    assert slowed.status_code == 429 and slowed.json()["show"] is False
    assert slowed.json()["reason"] == "rate_limited" and "try again in" in slowed.json()["message"]
    assert 1 <= int(slowed.headers["retry-after"]) <= 60
    assert slowed.headers["access-control-allow-origin"] == APP  # the page may read why
