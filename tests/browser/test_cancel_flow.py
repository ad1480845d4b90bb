"""A customer on the way out, in a real Chromium on a phone: the founder's backend signs a token
and asks for a hosted session, the customer says it's too expensive, sees the 30 % offer, taps
accept (twice), reloads — and the coupon is on the subscription in Stripe exactly once, the
session is saved_discount, and the founder sees it in Analytics and on the Overview."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from backstop.cancel_flows import sessions
from backstop.db import connect, migrate
from backstop.lib.crypto import SecretBox
from backstop.settings import Settings
from backstop.stripe_sync import connection
from backstop.workspaces.admins import create_admin
from backstop.workspaces.workspaces import create_workspace
from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS
from tests.cancel_flows.stories import flow_document, publish_flow, sign, subscriber
from tests.conftest import start_live_server

SECRET_KEY = "c" * 48
SHOTS = os.environ.get("SCREENSHOTS_DIR")  # a directory: save what the pages look like


@pytest.fixture
def founders_app() -> Iterator[str]:
    """The founder's own app on 127.0.0.1: the page the customer is sent back to."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"<!doctype html><title>Acme account</title><h1>Account</h1><p id=path>{self.path}</p>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser() -> Iterator:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}; install it with scripts/bootstrap --dev.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.mark.browser
def test_a_customer_takes_the_30_percent_offer_and_it_lands_in_stripe_once(
    tmp_path, fake_stripe, founders_app, browser
):
    from playwright.sync_api import expect

    data_dir = tmp_path / "live"
    data_dir.mkdir()
    settings = Settings(data_dir=data_dir, secret_key=SECRET_KEY, stripe_api_base=fake_stripe.url)
    migrate(settings.db_path)
    db = connect(settings.db_path)
    box = SecretBox(SECRET_KEY)
    owner = create_admin(db, "olivia@acme.test", "olivia-owns-the-shop")
    ws, embed_secret = create_workspace(db, box, "Acme Analytics", owner, "acme")
    connection.save_key_connection(
        db, box, ws.id, fake_stripe.add_key(), False, webhook_secret=None, polling=False
    )
    publish_flow(db, ws.id, flow_document())
    sam = subscriber(db, ws.id, fake_stripe, email="sam@example.com")

    server = start_live_server(
        data_dir, {"BACKSTOP_SECRET_KEY": SECRET_KEY, "BACKSTOP_STRIPE_API_BASE": fake_stripe.url}
    )
    errors: list[str] = []
    try:
        # The founder's backend: sign a token, ask for a hosted session.
        token = sign(embed_secret, sub=sam.customer["id"])
        answer = httpx.post(
            server.url + "/api/v1/embed/sessions",
            json={"token": token, "return_url": founders_app + "/account?tab=billing"},
        )
        assert answer.status_code == 201, answer.text
        url = answer.json()["url"]

        phone_context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        phone_context.set_default_timeout(15_000)
        phone = phone_context.new_page()
        phone.on("pageerror", lambda exc: errors.append(str(exc)))
        phone.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

        phone.goto(url)
        expect(phone.get_by_role("heading", level=1)).to_have_text("Before you go — what's the main reason?")
        expect(phone.get_by_role("button", name="Cancel anyway")).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        _shot(phone, "cancel-survey-390")
        phone.get_by_label("It's too expensive").check()
        phone.get_by_role("button", name="Continue").click()

        expect(phone.get_by_role("heading", level=1)).to_have_text("Stay for 30% less")
        expect(phone.get_by_text("30% off for the next 3 months")).to_be_visible()
        expect(phone.get_by_role("button", name="Cancel anyway")).to_be_visible()
        _shot(phone, "cancel-offer-390")
        phone.get_by_role("button", name="Keep my plan at 30% off").dblclick()

        expect(phone.get_by_role("heading", level=1)).to_have_text("You're all set")
        expect(phone.get_by_text("30% off for the next 3 months is on your subscription")).to_be_visible()
        _shot(phone, "cancel-done-390")
        phone.reload()
        expect(phone.get_by_role("heading", level=1)).to_have_text("You're all set")
        assert phone.evaluate("document.cookie") == ""
        assert phone_context.cookies() == []

        phone.get_by_role("link", name=re.compile("^Back to 127.0.0.1")).click()
        expect(phone.locator("#path")).to_have_text("/account?tab=billing&outcome=saved_discount")

        # A retried job (its row released as if the worker died) applies nothing twice.
        action_id = db.execute("SELECT id FROM cancel_actions").fetchone()[0]
        db.execute("UPDATE cancel_actions SET work_state = 'pending', due_at = '2000-01-01T00:00:00+00:00'")
        gateway = lambda wid: connection.gateway(db, box, settings, wid, max_attempts=1)  # noqa: E731
        assert sessions.run_action(db, action_id, gateway) == "done"

        sub = fake_stripe.get(sam.subscription["id"])
        assert len(sub["discounts"]) == 1
        coupon = fake_stripe.get(fake_stripe.get(sub["discounts"][0])["source"]["coupon"])
        assert (coupon["percent_off"], coupon["duration_in_months"], coupon["times_redeemed"]) == (30, 3, 1)
        assert len(fake_stripe.requests.filter("POST", re.compile("^/v1/coupons$"))) <= 2  # replayed by key
        row = db.execute("SELECT outcome, state, mrr_saved FROM cancel_sessions").fetchone()
        assert tuple(row) == ("saved_discount", "finished", 2100)

        # The founder sees it.
        desk_context = browser.new_context(viewport={"width": 1280, "height": 900})
        desk_context.set_default_timeout(15_000)
        desk = desk_context.new_page()
        desk.on("pageerror", lambda exc: errors.append(str(exc)))
        desk.goto(server.url + "/login")
        desk.get_by_label("Email").fill("olivia@acme.test")
        desk.get_by_label("Password").fill("olivia-owns-the-shop")
        desk.get_by_role("button", name="Sign in").click()
        desk.goto(server.url + "/w/acme/overview")
        saved_tile = desk.locator(".kpi", has_text="Saved · 30d")
        expect(saved_tile.locator(".kpi-value")).to_have_text("$21.00")
        expect(desk.locator("#cf-funnel-title")).to_be_visible()
        _shot(desk, "overview-1280")
        desk.goto(server.url + "/w/acme/cancel-flows/analytics")
        expect(desk.get_by_role("heading", name="Cancel flow analytics")).to_be_visible()
        expect(desk.locator("table").first).to_contain_text("Accepted an offer")
        expect(desk.get_by_text("offer_price · variant a (discount)")).to_be_visible()
        _shot(desk, "analytics-1280")
    finally:
        server.stop()
        db.conn.close()
    assert errors == [], f"the pages logged errors: {errors}"
