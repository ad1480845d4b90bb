"""A customer fixes a declined card on the hosted page, in a real Chromium on a phone-sized screen:
open the link from the dunning email, type a card into the (stand-in) Stripe.js field, see
"Payment received" — and the invoice is paid in Stripe and the campaign is recovered."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from backstop.db import connect, migrate
from backstop.lib.crypto import SecretBox
from backstop.recovery import campaigns
from backstop.settings import Settings
from backstop.stripe_sync import connection
from backstop.workspaces.admins import create_admin
from backstop.workspaces.workspaces import create_workspace
from tests.builders import Loop
from tests.conftest import start_live_server

SECRET_KEY = "b" * 48


@pytest.mark.browser
def test_a_customer_updates_their_card_and_sees_the_payment_go_through(
    tmp_path, fake_stripe, stripe_js, phone
):
    from playwright.sync_api import expect

    data_dir = tmp_path / "live"
    data_dir.mkdir()
    settings = Settings(
        data_dir=data_dir,
        secret_key=SECRET_KEY,
        stripe_api_base=fake_stripe.url,
        stripe_connect_base=fake_stripe.url,
        stripe_js_url=stripe_js,
    )
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
    loop = Loop(db, box, replace(settings), fake_stripe, ws)
    loop.settle()
    campaign = campaigns.by_invoice(db, ws.id, invoice["id"])
    assert campaign["status"] == "in_flight"
    email = db.execute("SELECT html FROM email_messages WHERE kind = 'dunning_1'").fetchone()[0]
    link_path = re.search(r'href="https?://[^"/]+(/update-card/[^"]+)"', email).group(1)

    server = start_live_server(
        data_dir,
        {
            "BACKSTOP_SECRET_KEY": SECRET_KEY,
            "BACKSTOP_STRIPE_API_BASE": fake_stripe.url,
            "BACKSTOP_STRIPE_CONNECT_BASE": fake_stripe.url,
            "BACKSTOP_STRIPE_JS_URL": stripe_js,
        },
    )
    try:
        phone.goto(server.url + link_path)
        expect(phone.get_by_role("heading", level=1)).to_have_text("Update your card")
        expect(phone.locator("dl.facts")).to_contain_text("$49.00")
        expect(phone.locator("dl.facts")).to_contain_text("Pro plan")
        pay = phone.get_by_role("button", name="Pay $49.00")
        expect(pay).to_be_enabled()
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px wide)"

        phone.get_by_label("Card number").fill("4242 4242 4242 4242")
        pay.click()
        expect(phone.get_by_role("heading", name="Payment received")).to_be_visible()
        expect(phone.get_by_text("Pay $49.00")).to_be_hidden()
    finally:
        server.stop()

    assert fake_stripe.get(invoice["id"])["status"] == "paid"
    customer = fake_stripe.get(story.customer["id"])
    new_card = customer["invoice_settings"]["default_payment_method"]
    assert new_card != story.payment_method["id"]
    assert fake_stripe.get(story.subscription["id"])["default_payment_method"] == new_card
    assert campaigns.get(db, ws.id, campaign["id"])["status"] == "recovered"
    db.conn.close()


@pytest.mark.browser
def test_a_declined_new_card_says_so_kindly_and_offers_another_try(tmp_path, fake_stripe, stripe_js, phone):
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
    from backstop.recovery import links

    server = start_live_server(
        data_dir,
        {
            "BACKSTOP_SECRET_KEY": SECRET_KEY,
            "BACKSTOP_STRIPE_API_BASE": fake_stripe.url,
            "BACKSTOP_STRIPE_JS_URL": stripe_js,
        },
    )
    try:
        phone.goto(server.url + "/update-card/" + links.update_card_token(SECRET_KEY, ws.id, campaign["id"]))
        phone.get_by_label("Card number").fill("4000 0000 0000 9995")
        phone.get_by_role("button", name="Pay $49.00").click()
        expect(phone.locator("#uc-message")).to_contain_text("Please try a different card")
        expect(phone.locator("#uc-message")).not_to_contain_text("insufficient_funds")
        phone.get_by_role("button", name="Try a different card").click()
        expect(phone.get_by_role("button", name="Pay $49.00")).to_be_enabled()
        phone.get_by_label("Card number").fill("5555 5555 5555 4444")
        phone.get_by_role("button", name="Pay $49.00").click()
        expect(phone.get_by_role("heading", name="Payment received")).to_be_visible()
    finally:
        server.stop()
    assert fake_stripe.get(invoice["id"])["status"] == "paid"
    db.conn.close()
