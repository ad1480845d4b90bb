"""The hosted cancel flow over HTTP: a backend signs a token, the customer walks the pages, and
the outcome lands in the fake Stripe once."""

from __future__ import annotations

import html
import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine

from backstop import clock
from backstop.cancel_flows import sessions
from backstop.embed import origins
from backstop.settings import Settings
from backstop.stripe_sync import connection
from backstop.workspaces.workspaces import embed_secret
from tests.cancel_flows.stories import flow_document, mirror_objects, publish_flow, sign, subscriber
from tests.conftest import free_port

FORM_TOKEN_RE = re.compile(r'name="form_token" value="([^"]+)"')
HIDDEN_RE = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture
def settings(data_dir, fake_stripe) -> Settings:
    return Settings(
        data_dir=data_dir,
        secret_key="t" * 48,
        port=free_port(),
        stripe_api_base=fake_stripe.url,
        stripe_connect_base=fake_stripe.url,
        base_url="http://127.0.0.1:9999",
    )


@pytest.fixture
def connected(db, box, acme, fake_stripe):
    connection.save_key_connection(
        db, box, acme.id, fake_stripe.add_key(), False, webhook_secret=None, polling=True
    )
    return acme


@pytest.fixture
def live(db, connected, fake_stripe):
    basic = fake_stripe.create_price(1000, "usd", "month", product_name="Basic")
    mirror_objects(db, connected.id, fake_stripe, basic["product"], basic["id"])
    return publish_flow(db, connected.id, flow_document(downgrade_price=basic["id"]))


@pytest.fixture
def sam(db, connected, fake_stripe):
    return subscriber(db, connected.id, fake_stripe)


@pytest.fixture
def secret(db, box, connected):
    return embed_secret(db, box, connected.id)


class Walker:
    """A customer's browser on the hosted pages (no cookies, as in a third-party iframe)."""

    def __init__(self, client, url):
        self.client = client
        self.url = url
        self.page = client.get(url)

    def _path(self):
        return urlsplit(self.url).path

    def post(self, action, **fields):
        hidden = {k: html.unescape(v) for k, v in HIDDEN_RE.findall(self.page.text)}
        response = self.client.post(
            f"{self._path()}/step",
            data={**hidden, "action": action, **fields},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        self.url = response.headers["location"]
        self.page = self.client.get(self.url)
        return self.page


def start(client, secret, who, return_url="https://app.example.com/account?tab=billing"):
    response = client.post(
        "/api/v1/embed/sessions",
        json={"token": sign(secret, sub=who.customer["id"]), "return_url": return_url},
    )
    assert response.status_code == 201, response.text
    url = response.json()["url"]
    assert url.startswith("http://127.0.0.1:9999/cancel/s/")
    return Walker(client, urlsplit(url).path)


def test_the_redirect_flow_saves_with_the_30_percent_offer(
    client, db, connected, live, sam, secret, fake_stripe
):
    walker = start(client, secret, sam)
    page = walker.page
    assert page.status_code == 200 and "Before you go" in page.text and "It&#39;s too expensive" in page.text
    assert "Cancel anyway" in page.text and "Never mind, keep my subscription" in page.text
    assert "set-cookie" not in page.headers
    assert (
        page.headers["x-frame-options"] == "DENY"
        and "frame-ancestors 'none'" in page.headers["content-security-policy"]
    )

    page = walker.post("reason", reason="too_expensive", free_text="<script>alert(1)</script>")
    assert "Stay for 30% less" in page.text and "30% off for the next 3 months" in page.text
    offer_page = page.text
    page = walker.post("accept")
    assert (
        "You&#39;re all set" in page.text
        and "30% off for the next 3 months is on your subscription" in page.text
    )
    back = re.search(r'href="([^"]+)" id="cf-return"', page.text).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(back).query) == {"tab": ["billing"], "outcome": ["saved_discount"]}
    assert "Back to app.example.com" in page.text

    # A double click and a reload of the offer page's form: nothing more happens in Stripe.
    token = FORM_TOKEN_RE.search(offer_page).group(1)
    again = client.post(
        f"{walker._path()}/step", data={"form_token": token, "step": "offer_price", "action": "accept"}
    )
    assert again.status_code == 200 and "You&#39;re all set" in again.text
    assert client.get(walker.url).status_code == 200
    sub = fake_stripe.get(sam.subscription["id"])
    assert len(sub["discounts"]) == 1
    assert len(fake_stripe.requests.filter("POST", re.compile("^/v1/coupons$"))) == 1
    row = db.execute("SELECT outcome, state, free_text FROM cancel_sessions").fetchone()
    assert tuple(row) == ("saved_discount", "finished", "<script>alert(1)</script>")
    assert "<script>alert(1)</script>" not in offer_page


def test_pause_and_downgrade_and_cancel_at_period_end(client, db, connected, live, sam, secret, fake_stripe):
    page = start(client, secret, sam).post("reason", reason="not_using")
    assert "Pause for 2 months" in page.text
    walker = start(client, secret, sam)
    walker.post("reason", reason="not_using")
    page = walker.post("accept")
    assert "Your subscription is paused. You won&#39;t be charged until" in page.text
    assert fake_stripe.get(sam.subscription["id"])["pause_collection"]["behavior"] == "void"

    other = subscriber(db, connected.id, fake_stripe, email="dee@example.com")
    walker = start(client, secret, other)
    page = walker.post("reason", reason="missing_features")
    assert "New plan: Basic — $10.00 / month." in page.text
    page = walker.post("accept")
    assert "You&#39;re now on Basic — $10.00 / month." in page.text

    third = subscriber(db, connected.id, fake_stripe, email="tom@example.com")
    walker = start(client, secret, third)
    walker.post("reason", reason="too_expensive")
    walker.post("decline")
    page = walker.post("decline")
    assert "We&#39;re sorry to see you go" in page.text and "Cancel my subscription" in page.text
    page = walker.post("cancel")
    assert "Your subscription is canceled. You keep access until" in page.text
    assert "outcome=canceled" in page.text
    assert fake_stripe.get(third.subscription["id"])["cancel_at_period_end"] is True


def test_cancel_anyway_from_every_step_of_the_hosted_flow(
    client, db, connected, live, sam, secret, fake_stripe
):
    paths = {
        "survey": [],
        "offer": [("reason", "too_expensive")],
        "stories": [("reason", "other")],
        "confirm": [("reason", "other"), ("next", None)],
    }
    for name, steps in paths.items():
        who = subscriber(db, connected.id, fake_stripe, email=f"{name}@example.com")
        walker = start(client, secret, who)
        for action, reason in steps:
            walker.post(action, **({"reason": reason} if reason else {}))
        label = "Cancel my subscription" if name == "confirm" else "Cancel anyway"
        assert label in walker.page.text, name
        page = walker.post("cancel")
        assert "Your subscription is canceled" in page.text, name
        assert fake_stripe.get(who.subscription["id"])["cancel_at_period_end"] is True


def test_never_mind_keeps_the_subscription(client, connected, live, sam, secret, fake_stripe):
    page = start(client, secret, sam).post("keep")
    assert "continues exactly as before" in page.text and "outcome=saved_other" in page.text
    sub = fake_stripe.get(sam.subscription["id"])
    assert not sub["cancel_at_period_end"] and not sub["discounts"] and sub["pause_collection"] is None


def test_a_stripe_outage_shows_a_truthful_page_then_the_retry_finishes(
    client, db, connected, live, sam, secret, fake_stripe
):
    walker = start(client, secret, sam)
    walker.post("reason", reason="too_expensive")
    fake_stripe.faults.server_error(count=2, path="/v1/coupons")  # both tries of the first run
    page = walker.post("accept")
    assert "Your choice is recorded" in page.text and "We&#39;ll keep trying automatically" in page.text
    assert db.execute("SELECT state FROM cancel_sessions").fetchone()[0] == "pending_action"
    from jobs.sweeper import sweep_once

    with time_machine.travel(clock.now() + timedelta(minutes=5), tick=False):
        sweep_once()
    assert db.execute("SELECT state FROM cancel_sessions").fetchone()[0] == "finished"
    assert "You&#39;re all set" in client.get(walker.url).text
    assert len(fake_stripe.get(sam.subscription["id"])["discounts"]) == 1


def test_the_direct_link_opens_once_and_says_so(client, connected, live, sam, secret):
    token = sign(secret, sub=sam.customer["id"])
    first = client.get(f"/cancel/{token}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].startswith("/cancel/s/")
    again = client.get(f"/cancel/{token}")
    assert again.status_code == 410 and "This link was already used" in again.text
    old = sign(secret, sub=sam.customer["id"], now=int(time.time()) - 3600)
    expired = client.get(f"/cancel/{old}")
    assert expired.status_code == 410 and "This link has expired" in expired.text
    assert client.get("/cancel/garbage").status_code == 400
    gone = client.get("/cancel/s/not-a-session")
    assert gone.status_code == 404 and "This page isn&#39;t available" in gone.text


def test_a_form_from_another_session_is_refused(client, connected, live, sam, secret):
    one, two = start(client, secret, sam), start(client, secret, sam)
    token = FORM_TOKEN_RE.search(one.page.text).group(1)
    refused = client.post(
        f"{two._path()}/step", data={"form_token": token, "step": "survey", "action": "cancel"}
    )
    assert refused.status_code == 403 and "That didn&#39;t go through" in refused.text


def test_an_abandoned_session_page_says_it_expired(client, db, connected, live, sam, secret):
    walker = start(client, secret, sam)
    with time_machine.travel(clock.now() + timedelta(hours=2), tick=False):
        assert sessions.close_abandoned(db) == 1
    page = client.get(walker.url)
    assert page.status_code == 410 and "This link has expired" in page.text


def test_embed_mode_posts_the_outcome_only_to_an_allowed_origin(client, db, connected, live, sam, secret):
    origins.add_origin(db, connected.id, "https://app.example.com")
    token = sign(secret, sub=sam.customer["id"])
    opened = client.get(
        f"/cancel/{token}?embed=1&origin=https%3A%2F%2Fapp.example.com", follow_redirects=False
    )
    walker = Walker(client, opened.headers["location"])
    assert "embed=1" in walker.url
    page = walker.page
    assert '<meta name="backstop-parent" content="https://app.example.com">' in page.text
    assert "frame-ancestors https://app.example.com" in page.headers["content-security-policy"]
    assert "x-frame-options" not in page.headers
    page = walker.post("keep")
    assert 'data-backstop-event="saved"' in page.text and 'data-backstop-outcome="saved_other"' in page.text
    assert "data-backstop-close" in page.text and "cf-return" not in page.text

    evil = client.get(
        f"/cancel/{sign(secret, sub=sam.customer['id'])}?embed=1&origin=https%3A%2F%2Fevil.example"
    )
    assert "backstop-parent" not in evil.text


def test_no_page_renders_a_missing_value(client, db, connected, sam, secret, fake_stripe):
    # No live flow, no branding, no return_url, a customer without a name: still whole sentences.
    walker = Walker(
        client,
        client.get(f"/cancel/{sign(secret, sub=sam.customer['id'])}", follow_redirects=False).headers[
            "location"
        ],
    )
    for page in (walker.page, walker.post("cancel")):
        for bad in ("None", "null", "undefined", "()"):
            assert bad not in re.sub(r"<script.*?</script>", "", page.text), bad
