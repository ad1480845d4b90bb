"""``backstop demo``: a year of Demo Co replayed through Backstop's own code against the Stripe
stand-in in the process, its own data folder, no way to reach a real Stripe account, and a failed
renewal that can be simulated end to end."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from backstop import demo, demo_server
from backstop.connectors import dns, http
from backstop.connectors.stripe import StripeAuthFailed, install_transport
from backstop.db import connect
from backstop.settings import ConfigError, Settings
from tests.conftest import csrf_from, free_port


@pytest.fixture
def built(tmp_path: Path) -> Iterator[tuple[Settings, str]]:
    try:
        yield demo_server.start(tmp_path / "demo-data", free_port())
    finally:
        undo_demo()


def undo_demo() -> None:
    install_transport(None)  # the rest of the suite talks to the fake Stripe server
    http.install_transport(None)  # sends webhooks over the network
    dns.install_resolver(None)  # and looks names up
    demo._account = None


@pytest.fixture
def web(built) -> Iterator[TestClient]:
    from backstop.web.app import create_app

    settings, url = built
    with TestClient(app=create_app(settings, run_jobs=False), base_url="http://127.0.0.1") as client:
        signed_in = client.get(url.removeprefix(settings.public_url), follow_redirects=True)
        assert signed_in.status_code == 200 and "/w/demo-co/overview" in str(signed_in.url)
        yield client


def rows(db, sql: str, params=()) -> list[tuple]:
    return [tuple(r) for r in db.execute(sql, params).fetchall()]


def test_a_year_of_demo_co_with_every_campaign_state(built):
    settings, url = built
    assert url.startswith(f"http://127.0.0.1:{settings.port}/desktop-login/")
    db = connect(settings.db_path)
    assert rows(db, "SELECT name, slug FROM workspaces") == [("Demo Co", "demo-co")]
    assert rows(db, "SELECT COUNT(*) FROM stripe_customers")[0][0] == 200
    assert rows(
        db, "SELECT COUNT(DISTINCT product_id), COUNT(DISTINCT currency) FROM stripe_subscriptions"
    ) == [(3, 2)]
    states = dict(rows(db, "SELECT status, COUNT(*) FROM campaigns GROUP BY status"))
    assert set(states) == {"in_flight", "recovered", "lost", "abandoned"}, states
    assert len(rows(db, "SELECT DISTINCT decline_code FROM campaigns")) >= 6
    first, last = rows(db, "SELECT MIN(opened_at), MAX(opened_at) FROM campaigns")[0]
    assert first[:7] != last[:7]  # spread over months, not all today
    # The timelines are Backstop's own: takeovers, retries, dunning emails, hand-backs.
    kinds = {k for (k,) in rows(db, "SELECT DISTINCT kind FROM campaign_events")}
    assert {
        "opened",
        "took_over",
        "retry_attempted",
        "email_queued",
        "recovered",
        "lost",
        "handed_back",
    } <= kinds
    assert rows(db, "SELECT COUNT(*) FROM email_messages")[0][0] > 100
    assert rows(db, "SELECT name, is_active FROM cancel_flows ORDER BY id") == [
        ("Pause Instead", 0),
        ("SaaS Standard", 1),
    ]
    db.conn.close()


def number_after(page: str, label: str) -> int:
    """The number in the table cell right after a row's label."""
    match = re.search(re.escape(label) + r'</th><td class="num">(\d+)</td>', page)
    assert match, label
    return int(match.group(1))


def test_the_cancel_flows_show_a_year_of_real_sessions(web, built):
    settings, _ = built
    db = connect(settings.db_path)
    outcomes = dict(rows(db, "SELECT outcome, COUNT(*) FROM cancel_sessions GROUP BY outcome"))
    assert {"saved_discount", "saved_pause", "saved_other", "canceled", "abandoned"} <= set(outcomes)
    arms = {arm for (arm,) in rows(db, "SELECT DISTINCT arm FROM cancel_sessions")}
    assert {"v1", "v2", "holdout"} <= arms
    assert rows(db, "SELECT COUNT(DISTINCT flow_id) FROM cancel_sessions")[0][0] == 2
    # Every decision was carried out in the stand-in by the flow's own Stripe actions.
    actions = dict(
        rows(db, "SELECT kind, COUNT(*) FROM cancel_actions WHERE work_state = 'done' GROUP BY kind")
    )
    assert set(actions) == {"discount", "pause", "cancel"}
    assert rows(db, "SELECT COUNT(*) FROM cancel_actions WHERE work_state != 'done'")[0][0] == 0
    account = demo.account()
    saved = db.execute(
        "SELECT subscription_id FROM cancel_sessions WHERE outcome = 'saved_discount' LIMIT 1"
    ).fetchone()[0]
    assert account.objects[saved]["discounts"][0]["source"]["coupon"]["id"].startswith("backstop_save_")

    page = web.get("/w/demo-co/cancel-flows/analytics?days=all").text
    assert number_after(page, "Opened the cancel flow") == sum(outcomes.values()) > 40
    assert number_after(page, "Accepted an offer") == outcomes["saved_discount"] + outcomes["saved_pause"]
    assert number_after(page, "Canceled") == outcomes["canceled"]
    assert "Holdout lift:" in page
    feedback = rows(db, "SELECT free_text FROM cancel_sessions WHERE free_text IS NOT NULL")
    assert len(feedback) > 10 and any(text[:40] in page for (text,) in feedback)
    assert "No cancel sessions in this period" not in web.get("/w/demo-co/cancel-flows/analytics").text
    db.conn.close()


def test_the_webhook_endpoint_shows_delivered_retried_and_failed_deliveries_none_sent(web, built):
    settings, _ = built
    receiver = http._installed_transport
    db = connect(settings.db_path)
    statuses = dict(rows(db, "SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status"))
    assert statuses["delivered"] > 100 and statuses["failed"] >= 1
    retried = rows(db, "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered' AND attempts > 1")
    assert retried[0][0] >= 1
    assert rows(db, "SELECT enabled FROM webhook_endpoints") == [(1,)]  # the outage stayed under 5 days
    attempts = rows(db, "SELECT COUNT(*) FROM webhook_attempts")[0][0]
    assert len(receiver.received) == attempts  # every attempt went to the receiver in the process
    assert {r.url for r in receiver.received} == {"https://hooks.demo.invalid/backstop"}

    listing = web.get("/w/demo-co/settings/webhooks").text
    assert "hooks.demo.invalid/backstop" in listing and "nothing is sent over the network" in listing
    public_id = re.search(r"/settings/webhooks/(we_[0-9a-f]+)", listing).group(1)
    detail = web.get(f"/w/demo-co/settings/webhooks/{public_id}").text
    assert "nothing is sent over the network" in detail
    assert "recovery.opened" in detail and "cancel." in detail
    db.conn.close()


def test_the_demo_opens_no_connection_and_resolves_no_name(tmp_path, monkeypatch):
    """The whole year, then a live simulated failure and its webhook delivery: no socket connects
    and no host name is looked up."""
    import socket

    from backstop.demo.simulate import failed_renewal
    from backstop.embed import portal_domains
    from backstop.lib import workrows
    from backstop.lib.crypto import SecretBox
    from backstop.stripe_sync import connection, events
    from backstop.webhooks_out import delivery

    attempts: list[object] = []

    def refuse_connect(self, address):
        attempts.append(address)
        raise OSError("the demo must not connect anywhere")

    def refuse_lookup(*args, **kwargs):
        attempts.append(args[0])
        raise OSError("the demo must not resolve names")

    def refuse_datagram(self, data, *args):
        attempts.append(args[-1] if args else data)
        raise OSError("the demo must not send a DNS query")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket.socket, "sendto", refuse_datagram)
    monkeypatch.setattr(socket, "getaddrinfo", refuse_lookup)
    try:
        settings, _ = demo_server.start(tmp_path / "demo-data", free_port())
        db = connect(settings.db_path)
        failed_renewal(db, 1, demo.account())
        gateway = connection.gateway(db, SecretBox(settings.secret_key), settings, 1, max_attempts=1)
        for row_id in workrows.due_ids(db, events.TABLE):
            assert events.process_event(db, row_id, lambda _ws: gateway.get, settings) == "processed"
        due = workrows.due_ids(db, delivery.TABLE)
        assert due  # the new campaign's recovery.opened, at least
        for delivery_id in due:
            assert delivery.deliver(db, settings, delivery_id) == "delivered"
        # A founder trying the portal domain page: its DNS check asks nobody.
        portal_domains.add(db, settings, 1, "billing.demo-co.example")
        checked = portal_domains.verify(db, settings, 1)
        assert checked is not None and not checked.verified
        db.conn.close()
    finally:
        undo_demo()
    assert attempts == []


def test_every_page_shows_the_demo_banner_and_real_numbers(web):
    overview = web.get("/w/demo-co/overview").text
    assert "This is a demo" in overview and "Simulate a failed renewal" in overview
    assert "Nothing recovered in the last 12 weeks yet" not in overview
    assert "No failed renewals in the last 90 days" not in overview
    assert "Emails are kept here, not delivered" not in overview  # the demo banner says it instead
    for path in (
        "/w/demo-co/recovery",
        "/w/demo-co/customers",
        "/w/demo-co/emails",
        "/w/demo-co/settings/stripe",
    ):
        page = web.get(path)
        assert page.status_code == 200 and "This is a demo" in page.text, path
    assert web.get("/w/demo-co/recovery").text.count("<tr") > 40


def test_a_simulated_failed_renewal_opens_a_campaign_end_to_end(web, built):
    settings, _ = built
    db = connect(settings.db_path)
    before = rows(db, "SELECT COUNT(*) FROM campaigns WHERE status = 'in_flight'")[0][0]
    page = web.get("/w/demo-co/recovery")
    answer = web.post(
        "/w/demo-co/recovery/simulate-failure",
        data={"_csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert (
        answer.status_code in (302, 303) and answer.headers["location"] == "/w/demo-co/recovery?simulated=1"
    )
    assert "A renewal just failed" in web.get(answer.headers["location"]).text
    newest = db.execute("SELECT * FROM campaigns ORDER BY id DESC LIMIT 1").fetchone()
    assert newest["status"] == "in_flight" and newest["took_over"] == 1
    assert rows(db, "SELECT COUNT(*) FROM campaigns WHERE status = 'in_flight'")[0][0] == before + 1
    sources = rows(
        db, "SELECT source, outcome FROM stripe_events WHERE object_id = ?", [newest["invoice_id"]]
    )
    assert sources == [("demo", "processed")]  # through ingest and the handlers, like a webhook
    emails = rows(
        db, "SELECT kind FROM email_messages WHERE dedupe_key LIKE ?", [f"dunning:{newest['invoice_id']}:%"]
    )
    assert emails == [("dunning_1",)]
    db.conn.close()


def test_the_demo_ignores_real_stripe_and_mail_settings(monkeypatch, tmp_path):
    for name, value in {
        "BACKSTOP_STRIPE_SECRET_KEY": "sk_live_" + "x" * 24,
        "BACKSTOP_STRIPE_CLIENT_ID": "ca_" + "x" * 16,
        "BACKSTOP_STRIPE_API_BASE": "https://api.stripe.com",
        "BACKSTOP_STRIPE_PUBLISHABLE_KEY": "pk_live_" + "x" * 24,
        "BACKSTOP_EMAIL_TRANSPORT": "smtp",
        "BACKSTOP_SMTP_URL": "smtp://user:pass@mail.example.com:587",
    }.items():
        monkeypatch.setenv(name, value)
    settings = demo.demo_settings(tmp_path, 8760)
    assert settings.demo is True and settings.email_transport == "outbox"
    assert settings.stripe_secret_key is None and settings.stripe_client_id is None
    assert settings.stripe_api_base is None and settings.stripe_publishable_key is None
    assert settings.smtp_url is None and not settings.stripe_platform_configured


def test_the_stand_in_answers_only_the_demo_key(built):
    from backstop.stripe_sync.connection import gateway_for_key

    settings, _ = built
    real = gateway_for_key(settings, "rk_live_" + "r" * 30, max_attempts=1)
    with pytest.raises(StripeAuthFailed):
        real.get("/v1/customers")
    demo_gateway = gateway_for_key(settings, demo.stand_in.DEMO_KEY, max_attempts=1)
    assert len(demo_gateway.get("/v1/customers", {"limit": 5})["data"]) == 5


def test_it_never_writes_into_a_folder_that_isnt_a_demo(tmp_path):
    real = tmp_path / "data"
    real.mkdir()
    (real / "backstop.db").write_bytes(b"a real install")
    with pytest.raises(ConfigError, match="aren't an earlier demo's"):
        demo.prepare_dir(real)
    assert (real / "backstop.db").read_bytes() == b"a real install"
    with pytest.raises(ConfigError, match="real data directory"):
        demo.prepare_dir(tmp_path / "empty", real_data_dir=tmp_path / "empty")
    earlier = tmp_path / "demo-data"
    demo.prepare_dir(earlier)
    (earlier / "backstop.db").write_text("last time's demo")
    demo.prepare_dir(earlier)  # an earlier demo is started afresh
    assert not (earlier / "backstop.db").exists() and (earlier / demo.MARKER).exists()


def test_the_simulate_button_is_not_there_outside_the_demo(client, olivia, acme):
    from tests.conftest import login, post_form

    login(client, olivia)
    assert "Simulate a failed renewal" not in client.get("/w/acme/overview").text
    assert (
        "Simulate a failed renewal" not in client.get("/w/acme/recovery").text
    )  # not connected in test mode
    answer = post_form(client, "/w/acme/overview", "/w/acme/recovery/simulate-failure", {})
    assert (
        answer.status_code == 409
    )  # outside the demo it needs Stripe test mode (tests/recovery/test_rehearsal.py)


def test_the_first_run_page_offers_the_demo_and_starts_it_only_for_this_computer(client):
    page = client.get("/setup")
    assert "Try it with sample data" in page.text and 'action="/setup/demo"' in page.text
    answer = client.post("/setup/demo", data={"_csrf_token": csrf_from(page.text)}, follow_redirects=False)
    # The test client isn't on this machine's loopback: it is told how to run the demo instead.
    assert answer.status_code == 403
    assert "On the machine running Backstop, run: backstop demo" in answer.text


def test_the_demo_card_page_uses_its_own_labelled_card_form_and_the_card_recovers_the_campaign(web, built):
    """What the demo card form's script does, step by step: the page loads no Stripe.js, the card
    is confirmed with the stand-in, and Backstop's own confirm charges the invoice."""
    from backstop.recovery import links

    settings, _ = built
    db = connect(settings.db_path)
    campaign = db.execute(
        "SELECT id, invoice_id, amount_due FROM campaigns WHERE status = 'in_flight' ORDER BY id LIMIT 1"
    ).fetchone()
    token = links.update_card_token(settings.secret_key, 1, campaign["id"])
    page = web.get(f"/update-card/{token}")
    assert page.status_code == 200
    assert '<script src="/static/public/demo_card.js"></script>' in page.text
    assert "js.stripe.com" not in page.text and "stripe.com" not in page.headers["content-security-policy"]
    assert "Demo card form." in page.text and "nothing is sent to Stripe or charged" in page.text
    assert web.get("/static/public/demo_card.js").status_code == 200

    secret = re.search(r'data-secret="([^"]+)"', page.text).group(1)
    intent_id = secret.split("_secret_")[0]
    pk = re.search(r'data-pk="([^"]+)"', page.text).group(1)
    confirm_url = f"/demo-stripe/v1/setup_intents/{intent_id}/confirm"
    refused = web.post(confirm_url, data={"client_secret": secret, "payment_method": "pm_card_visa"})
    assert refused.status_code == 401  # Stripe.js's publishable key is required, as with Stripe
    wrong = web.post(
        confirm_url,
        data={"client_secret": intent_id + "_secret_guess", "payment_method": "pm_card_visa"},
        headers={"Authorization": f"Bearer {pk}"},
    )
    assert wrong.status_code == 404
    confirmed = web.post(
        confirm_url,
        data={"client_secret": secret, "payment_method": "pm_card_visa"},
        headers={"Authorization": f"Bearer {pk}"},
    )
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "succeeded"

    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    answer = web.post(
        f"/update-card/{token}/confirm", json={"setup_intent": intent_id}, headers={"x-csrftoken": csrf}
    )
    assert answer.status_code == 200 and answer.json()["state"] == "paid", answer.text
    assert answer.json()["card"]["card_last4"] == "4242"
    row = db.execute("SELECT status FROM campaigns WHERE id = ?", [campaign["id"]]).fetchone()
    assert row["status"] == "recovered"
    assert demo.account().objects[campaign["invoice_id"]]["status"] == "paid"
    db.conn.close()


def test_the_demo_card_endpoint_is_not_there_outside_the_demo(client):
    answer = client.post("/demo-stripe/v1/setup_intents/seti_x/confirm", data={"client_secret": "x"})
    assert answer.status_code == 404
