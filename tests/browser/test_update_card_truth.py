"""The update-card page in Chromium when Backstop's database is busy while the payment is made:
the page never says nothing was charged; it keeps asking until it knows, then shows the payment."""

from __future__ import annotations

import re

import pytest

from backstop.db import connect, migrate
from backstop.lib.crypto import SecretBox
from backstop.recovery import campaigns, links
from backstop.settings import Settings
from backstop.stripe_sync import connection
from backstop.workspaces.admins import create_admin
from backstop.workspaces.workspaces import create_workspace
from tests.builders import LockWhile, Loop
from tests.conftest import start_live_server

SECRET_KEY = "b" * 48


@pytest.mark.browser
def test_a_busy_database_during_the_payment_ends_in_the_truth_not_in_nothing_was_charged(
    tmp_path,
    fake_stripe,
    stripe_js,
    phone,
):
    from playwright.sync_api import expect

    data_dir = tmp_path / "live"
    data_dir.mkdir()
    settings = Settings(data_dir=data_dir, secret_key=SECRET_KEY, stripe_api_base=fake_stripe.url)
    migrate(settings.db_path)
    db = connect(settings.db_path)
    box = SecretBox(SECRET_KEY)
    owner = create_admin(db, "olivia@acme.test", "olivia-owns-the-shop")
    ws, _ = create_workspace(db, box, "Acme Analytics", owner, "acme")
    connection.save_key_connection(
        db, box, ws.id, fake_stripe.add_key(), False, webhook_secret=None, polling=False
    )
    connection.set_publishable_key(db, ws.id, fake_stripe.publishable_key)
    story = fake_stripe.customer_with_declining_card("insufficient_funds", unit_amount=4900)
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    Loop(db, box, settings, fake_stripe, ws).settle()
    campaign = campaigns.by_invoice(db, ws.id, invoice["id"])
    server = start_live_server(
        data_dir,
        {
            "BACKSTOP_SECRET_KEY": SECRET_KEY,
            "BACKSTOP_STRIPE_API_BASE": fake_stripe.url,
            "BACKSTOP_STRIPE_JS_URL": stripe_js,
        },
    )
    said: list[str] = []
    try:
        phone.goto(server.url + "/update-card/" + links.update_card_token(SECRET_KEY, ws.id, campaign["id"]))
        phone.get_by_label("Card number").fill("4242 4242 4242 4242")
        # The server waits 5 s for the write lock: hold it longer, from the moment Stripe is asked
        # to charge, so the retry's bookkeeping fails after the money moved.
        lock = LockWhile(
            settings.db_path, fake_stripe, "POST", f"/v1/invoices/{invoice['id']}/pay", seconds=7
        )
        phone.get_by_role("button", name="Pay $49.00").click()
        message = phone.locator("#uc-message")
        heading = phone.get_by_role("heading", name="Payment received")
        for _ in range(200):
            if heading.is_visible():
                break
            said.append(message.text_content() or "")
            phone.wait_for_timeout(100)
        expect(heading).to_be_visible(timeout=30_000)
        lock.join()
        assert lock.taken.is_set()
    finally:
        server.stop()
    assert not any(re.search("nothing was charged", s, re.I) for s in said), said
    assert fake_stripe.get(invoice["id"])["status"] == "paid"
    assert len(fake_stripe.requests.filter("POST", f"/v1/invoices/{invoice['id']}/pay")) == 1
    db.conn.close()
