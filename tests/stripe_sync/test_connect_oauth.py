"""Connect OAuth against the fake Stripe: consent round trip, single-use state, disconnect, and the
deauthorization event that turns the banner red."""

from __future__ import annotations

import html
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine

from backstop import clock
from backstop.stripe_sync import connection
from tests.conftest import login, post_form
from tests.stripe_sync.support import aimed_at, counts

PAGE = "/w/acme/settings/stripe"
PLATFORM_WHSEC = "whsec_platform_endpoint_secret_1"


@pytest.fixture
def settings(settings, fake_stripe):
    return aimed_at(
        settings,
        fake_stripe,
        stripe_client_id=fake_stripe.client_id,
        stripe_secret_key=fake_stripe.secret_key,
        stripe_webhook_secret=PLATFORM_WHSEC,
    )


def start_consent(client) -> str:
    """Press "Connect Stripe"; return where the browser is sent."""
    response = post_form(client, PAGE, PAGE + "/oauth", {})
    assert response.status_code in (302, 303), response.text
    return response.headers["location"]


def consent(authorize_url: str) -> str:
    """What the founder's browser does on Stripe's page: approve, and come back with code and state."""
    answer = httpx.get(authorize_url, follow_redirects=False)
    assert answer.status_code == 302
    back = urlsplit(answer.headers["location"])
    assert back.path == "/stripe/oauth/callback"
    return f"{back.path}?{back.query}"


def test_olivia_connects_through_stripes_consent_screen(client, db, olivia, acme, fake_stripe, settings):
    login(client, olivia)
    authorize = start_consent(client)
    assert authorize.startswith(f"{fake_stripe.url}/oauth/authorize?")
    query = parse_qs(urlsplit(authorize).query)
    assert query["client_id"] == [fake_stripe.client_id] and query["scope"] == ["read_write"]
    assert query["redirect_uri"] == [f"{settings.public_url}/stripe/oauth/callback"]
    assert len(query["state"][0]) >= 24

    callback = consent(authorize)
    account = parse_qs(urlsplit(callback).query)
    assert account["state"] == query["state"]
    # The account that approved gets a customer before Backstop copies it.
    acct = next(iter(fake_stripe.state.accounts))
    fake_stripe.seed_customers(2, account=acct)

    done = client.get(callback, follow_redirects=False)
    assert done.status_code in (302, 303) and done.headers["location"] == PAGE + "?notice=connected"
    conn = connection.get(db, acme.id)
    assert (conn.method, conn.account_id, conn.livemode, conn.status) == ("oauth", acct, False, "live")
    page = client.get(done.headers["location"]).text
    assert acct in page and "Connect OAuth (read_write)" in page
    # The backfill read the connected account with the platform key + Stripe-Account.
    assert counts(db, acme.id)["stripe_customers"] == 2
    listed = fake_stripe.requests.filter("GET", "/v1/customers")
    assert listed and all(r.account == acct and r.api_key == fake_stripe.secret_key for r in listed)


def test_a_used_state_is_refused(client, db, olivia, acme, fake_stripe):
    login(client, olivia)
    callback = consent(start_consent(client))
    assert client.get(callback, follow_redirects=False).status_code in (302, 303)
    again = client.get(callback)
    assert again.status_code == 400 and "already used" in again.text


def test_another_admins_state_is_refused(client, db, olivia, marco, acme, fake_stripe):
    login(client, olivia)
    callback = consent(start_consent(client))
    post_form(client, PAGE, "/logout", {})
    login(client, marco)
    response = client.get(callback)
    assert response.status_code == 400 and "didn't start here" in html.unescape(response.text)
    assert connection.get(db, acme.id) is None


def test_a_made_up_state_is_refused(client, db, olivia, acme, fake_stripe):
    login(client, olivia)
    code = fake_stripe.oauth_code()
    response = client.get(f"/stripe/oauth/callback?code={code}&state=forged")
    assert response.status_code == 400 and connection.get(db, acme.id) is None


def test_a_state_expires_after_fifteen_minutes(client, db, olivia, acme, fake_stripe):
    login(client, olivia)
    callback = consent(start_consent(client))
    with time_machine.travel(clock.now() + timedelta(minutes=16)):
        response = client.get(callback)
    assert response.status_code == 400 and "expired" in response.text
    assert connection.get(db, acme.id) is None


def test_refusing_on_stripes_page_says_so(client, db, olivia, acme):
    login(client, olivia)
    response = client.get(
        "/stripe/oauth/callback?error=access_denied&error_description=The+user+denied+your+request"
    )
    assert response.status_code == 400 and "The user denied your request" in response.text
    assert connection.get(db, acme.id) is None


def connected_account(db, acme) -> str:
    return connection.get(db, acme.id).account_id


def test_disconnect_deauthorizes_in_stripe_and_forgets_the_mirror(client, db, olivia, acme, fake_stripe):
    login(client, olivia)
    client.get(consent(start_consent(client)), follow_redirects=False)
    acct = connected_account(db, acme)
    fake_stripe.create_customer(account=acct, email="kim@example.com")
    post_form(client, PAGE, PAGE + "/resync", {})
    assert counts(db, acme.id)["stripe_customers"] == 1

    response = post_form(client, PAGE, PAGE + "/disconnect", {})
    assert response.headers["location"] == PAGE + "?notice=disconnected"
    assert len(fake_stripe.requests.filter("POST", "/oauth/deauthorize")) == 1
    assert fake_stripe.state.accounts[acct].authorized is False
    assert connection.get(db, acme.id) is None
    assert counts(db, acme.id)["stripe_customers"] == 0
    assert "Connect with Stripe" in client.get(PAGE).text


def test_revoking_access_in_stripe_turns_the_banner_red(client, db, olivia, acme, fake_stripe):
    login(client, olivia)
    client.get(consent(start_consent(client)), follow_redirects=False)
    acct = connected_account(db, acme)
    assert "banner-red" not in client.get("/w/acme/overview").text

    fake_stripe.deauthorize(acct)  # the founder removes Backstop in their Stripe dashboard
    event = fake_stripe.events("account.application.deauthorized", account=acct)[0]
    assert event["account"] == acct
    body, headers = fake_stripe.webhooks.signed(event, PLATFORM_WHSEC)
    response = client.post("/stripe/webhooks", content=body, headers=headers)
    assert response.status_code == 200 and response.json()["duplicate"] is False

    assert connection.get(db, acme.id).status == "revoked"
    overview = client.get("/w/acme/overview").text
    assert 'class="banner banner-red" role="alert"' in overview
    assert "Backstop can no longer reach your Stripe account" in overview
    assert "access revoked" in client.get(PAGE).text


def test_the_platform_endpoint_writes_nothing_for_an_account_nobody_connected(client, db, acme, fake_stripe):
    stranger = fake_stripe.connect_account()
    fake_stripe.create_customer(account=stranger, email="x@example.com")
    event = fake_stripe.events("customer.created", account=stranger)[0]
    body, headers = fake_stripe.webhooks.signed(event, PLATFORM_WHSEC)
    response = client.post("/stripe/webhooks", content=body, headers=headers)
    assert response.status_code == 200 and stranger in response.json()["ignored"]
    assert db.execute("SELECT count(*) FROM stripe_events").fetchone()[0] == 0
    assert counts(db, acme.id)["stripe_customers"] == 0


def test_the_platform_endpoint_refuses_a_delivery_signed_with_another_secret(
    client, db, olivia, acme, fake_stripe
):
    login(client, olivia)
    client.get(consent(start_consent(client)), follow_redirects=False)
    acct = connected_account(db, acme)
    fake_stripe.create_customer(account=acct, email="x@example.com")
    event = fake_stripe.events("customer.created", account=acct)[0]
    body, headers = fake_stripe.webhooks.signed(event, "whsec_someone_elses_secret")
    response = client.post("/stripe/webhooks", content=body, headers=headers)
    assert response.status_code == 400 and "No signature matches" in response.text
    assert db.execute("SELECT count(*) FROM stripe_events").fetchone()[0] == 0
