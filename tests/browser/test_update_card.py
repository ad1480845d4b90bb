"""A customer fixes a declined card on the hosted page, in a real Chromium on a phone-sized screen:
open the link from the dunning email, type a card into the (stand-in) Stripe.js field, see
"Payment received" — and the invoice is paid in Stripe and the campaign is recovered."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from backstop.db import connect, migrate
from backstop.lib.crypto import SecretBox
from backstop.recovery import campaigns
from backstop.settings import Settings
from backstop.stripe_sync import connection
from backstop.workspaces.admins import create_admin
from backstop.workspaces.workspaces import create_workspace
from tests.browser.test_first_run import CHROMIUM, LAUNCH_ARGS
from tests.conftest import start_live_server
from tests.recovery.conftest import Loop

STAND_IN = Path(__file__).parent / "stand_ins" / "stripe.js"
SECRET_KEY = "b" * 48


@pytest.fixture
def stripe_js(fake_stripe) -> Iterator[str]:
    """Serves the Stripe.js stand-in over HTTP on 127.0.0.1, aimed at the fake Stripe."""
    script = STAND_IN.read_text().replace("__FAKE_STRIPE_API__", fake_stripe.url).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/javascript; charset=utf-8")
            self.send_header("Content-Length", str(len(script)))
            self.end_headers()
            self.wfile.write(script)

        def log_message(self, *args):
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v3/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def phone(tmp_path: Path) -> Iterator:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}; install it with scripts/bootstrap --dev.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        context.set_default_timeout(15_000)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        yield page
        browser.close()
    assert errors == [], f"the page logged errors: {errors}"


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
