"""A failed renewal recovered from start to finish, as the founder and the customer see it.

Dana's renewal declines for insufficient funds. Backstop opens a campaign, emails her, and retries
on day 3 and five days after that (both decline, each with its own idempotency key). Then Dana
opens the link in the latest email on her phone — a real Chromium against a real `backstop serve`
on the same data dir — and enters a new card. The invoice is paid in Stripe, the campaign is
recovered, nothing more goes out however far the clock moves, and the Overview counts the money.

The early days run in-process under time-machine, starting eight days in the past so that the
live server (which runs on the real clock) sees the links as freshly signed.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from litestar.testing import TestClient

from backstop import clock
from backstop.db import connect, migrate
from backstop.lib.crypto import SecretBox
from backstop.recovery import campaigns
from backstop.settings import Settings, ensure_secret_key
from backstop.stripe_sync import connection
from backstop.workspaces.admins import create_admin
from backstop.workspaces.workspaces import create_workspace
from tests.builders import Loop
from tests.conftest import OLIVIA_PASSWORD, Persona, login, start_live_server


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def outbox(db) -> list[dict]:
    return [dict(r) for r in db.execute("SELECT kind, to_email, html, text FROM email_messages ORDER BY id")]


def link_in(email: dict) -> str:
    """The update-card link a customer would tap, from the email's HTML (and the same in its text)."""
    path = re.search(r'href="https?://[^"/]+(/update-card/[^"]+)"', email["html"]).group(1)
    assert path in email["text"], "the plain-text email should carry the same link"
    return path


@pytest.mark.browser
def test_a_declined_renewal_is_retried_emailed_and_recovered_by_a_new_card(
    tmp_path,
    fake_stripe,
    stripe_js,
    phone,
):
    from playwright.sync_api import expect

    data_dir = tmp_path / "live"
    data_dir.mkdir()
    # No key in the environment: the one generated into the data dir signs the links in-process
    # and verifies them in the live server.
    settings = ensure_secret_key(
        Settings(
            data_dir=data_dir,
            stripe_api_base=fake_stripe.url,
            stripe_connect_base=fake_stripe.url,
            stripe_js_url=stripe_js,
        )
    )
    assert (data_dir / "secret_key").read_text().strip() == settings.secret_key
    migrate(settings.db_path)
    db = connect(settings.db_path)
    box = SecretBox(settings.secret_key)
    owner = create_admin(db, "olivia@acme.test", OLIVIA_PASSWORD)
    ws, _ = create_workspace(db, box, "Acme Analytics", owner, "acme")
    connection.save_key_connection(
        db, box, ws.id, fake_stripe.add_key(), False, webhook_secret=None, polling=False
    )
    connection.set_publishable_key(db, ws.id, fake_stripe.publishable_key)
    loop = Loop(db, box, settings, fake_stripe, ws)
    start = clock.now().replace(microsecond=0) - timedelta(days=8, minutes=30)

    # Day 0: the renewal declines; a campaign opens and the first email is in the outbox.
    with time_machine.travel(start, tick=False):
        story = fake_stripe.customer_with_declining_card("insufficient_funds", unit_amount=4900)
        invoice = fake_stripe.renewal_fails(story.subscription["id"])
        loop.settle()
    campaign = campaigns.by_invoice(db, ws.id, invoice["id"])
    assert campaign["status"] == "in_flight" and campaign["decline_code"] == "insufficient_funds"
    assert clock.parse(campaign["first_failed_at"]) == start
    first = outbox(db)
    assert [(e["kind"], e["to_email"]) for e in first] == [("dunning_1", "dana@example.com")]
    assert "$49.00" in text_of(first[0]["html"])
    pay_path = f"/v1/invoices/{invoice['id']}/pay"
    assert fake_stripe.requests.filter("POST", pay_path) == []

    # Day 3, then five days after that: a retry each time, declined, with its own key.
    with time_machine.travel(start + timedelta(days=3, minutes=1), tick=False):
        loop.settle()
    with time_machine.travel(start + timedelta(days=8, minutes=2), tick=False):
        loop.settle()
    attempts = [
        (clock.parse(r["attempted_at"]) - start, r["idempotency_key"], r["outcome"], r["decline_code"])
        for r in db.execute("SELECT * FROM payment_attempts ORDER BY id")
    ]
    keys = [f"backstop-{campaign['id']}-attempt-{n}" for n in (1, 2)]
    assert attempts == [
        (timedelta(days=3, minutes=1), keys[0], "declined", "insufficient_funds"),
        (timedelta(days=8, minutes=2), keys[1], "declined", "insufficient_funds"),
    ]
    pays = fake_stripe.requests.filter("POST", pay_path)
    assert [(p.idempotency_key, p.status) for p in pays] == [(keys[0], 402), (keys[1], 402)]
    assert [e["kind"] for e in outbox(db)] == ["dunning_1", "dunning_2", "dunning_3"]
    latest = outbox(db)[-1]

    # Dana opens the latest email's link on her phone and enters a new card.
    server = start_live_server(
        data_dir,
        {
            "BACKSTOP_STRIPE_API_BASE": fake_stripe.url,
            "BACKSTOP_STRIPE_CONNECT_BASE": fake_stripe.url,
            "BACKSTOP_STRIPE_JS_URL": stripe_js,
        },
    )
    try:
        phone.goto(server.url + link_in(latest))
        expect(phone.get_by_role("heading", level=1)).to_have_text("Update your card")
        expect(phone.locator("dl.facts")).to_contain_text("$49.00")
        phone.get_by_label("Card number").fill("4242 4242 4242 4242")
        phone.get_by_role("button", name="Pay $49.00").click()
        expect(phone.get_by_role("heading", name="Payment received")).to_be_visible()
    finally:
        server.stop()

    assert fake_stripe.get(invoice["id"])["status"] == "paid"
    assert fake_stripe.get(invoice["id"])["amount_paid"] == 4900
    new_card = fake_stripe.get(story.customer["id"])["invoice_settings"]["default_payment_method"]
    assert new_card != story.payment_method["id"]
    pays = fake_stripe.requests.filter("POST", pay_path)
    assert [p.status for p in pays] == [402, 402, 200]
    assert campaigns.get(db, ws.id, campaign["id"])["status"] == "recovered"

    # The events of the payment arrive, and the clock runs past the remaining dunning days.
    loop.settle()
    for days in (14, 16, 30):
        with time_machine.travel(start + timedelta(days=days, hours=1), tick=False):
            loop.settle()
    assert campaigns.get(db, ws.id, campaign["id"])["status"] == "recovered"
    assert [e["kind"] for e in outbox(db)] == ["dunning_1", "dunning_2", "dunning_3"]
    assert len(fake_stripe.requests.filter("POST", pay_path)) == 3
    assert fake_stripe.get(story.subscription["id"])["status"] == "active"

    # Olivia signs in: the Overview counts the recovered money.
    from backstop.web.app import create_app

    with TestClient(app=create_app(settings, run_jobs=False), base_url="http://127.0.0.1") as client:
        login(client, Persona(owner, OLIVIA_PASSWORD))
        words = text_of(client.get("/w/acme/overview").text)
    assert "$49.00 Recovered · 30d 1 recovered of 1 closed campaign" in words
    db.conn.close()
