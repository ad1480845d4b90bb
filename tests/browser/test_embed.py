"""embed.js on a founder's app served from another origin, in a real Chromium at 390 px:
calls queued before the script loads, the portal and the Failed Payment Wall in the modal,
the card updated inside it, callbacks fired, and messages from anyone else ignored."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest

from backstop.db import connect, migrate
from backstop.embed import origins
from backstop.lib.crypto import SecretBox
from backstop.recovery import campaigns
from backstop.settings import Settings
from backstop.stripe_sync import connection
from backstop.workspaces.admins import create_admin
from backstop.workspaces.workspaces import create_workspace, embed_secret
from tests.builders import Loop
from tests.cancel_flows.stories import mirror_objects
from tests.conftest import LiveServer, start_live_server

SECRET_KEY = "e" * 48

FOUNDER_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Founder's app</title>
<script>
window.Backstop = window.Backstop || {q: []};
["cancel", "portal", "paymentWall"].forEach(function (m) {
  Backstop[m] = Backstop[m] || function () { Backstop.q.push([m, arguments]); };
});
window.seen = [];
function token(kind) { return function () { return fetch("/token?kind=" + kind).then(function (r) { return r.text(); }); }; }
function note(name) { return function (data) { seen.push([name, data && (data.outcome || data.message || data.reason) || null]); }; }
function callbacks(kind) {
  return {token: token(kind), onSaved: note("saved"), onCanceled: note("canceled"), onClose: note("close"),
          onError: note("error"), onRecovered: note("recovered")};
}
</script></head><body>
<h1>Your account</h1>
<button id="manage" onclick="Backstop.portal(callbacks('portal'))">Manage billing</button>
<button id="wall" onclick="Backstop.paymentWall(callbacks('wall'))">Check payment</button>
<button id="cancel" onclick="Backstop.cancel(callbacks('cancel'))">Cancel</button>
<button id="leave" onclick="Backstop.cancel({token: token('cancel'), mode: 'redirect', url: function () { return fetch('/session-url').then(function (r) { return r.text(); }); }})">Cancel (redirect)</button>
</body></html>"""


@dataclass
class FounderApp:
    url: str
    backstop: str

    def load_embed_js(self, page) -> None:
        page.evaluate(
            "src => { const s = document.createElement('script'); s.async = true; s.src = src; document.head.appendChild(s); }",
            self.backstop + "/embed.js",
        )


def _founder_app(secret: str, customer: str, backstop: dict) -> Iterator[str]:
    """The founder's app: its page, its backend signing tokens, and (for the hosted redirect)
    its backend asking Backstop's sessions API for the URL to send the customer to."""

    def token() -> str:
        now = int(time.time())
        claims = {"sub": customer, "ws": "acme", "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}
        return jwt.encode(claims, secret, algorithm="HS256")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/token"):
                body, kind = token().encode(), "text/plain"
            elif self.path.startswith("/session-url"):
                me = f"http://127.0.0.1:{self.server.server_address[1]}"
                answer = httpx.post(
                    backstop["url"] + "/api/v1/embed/sessions",
                    json={"token": token(), "return_url": me + "/done"},
                )
                body, kind = answer.json()["url"].encode(), "text/plain"
            else:
                body, kind = FOUNDER_PAGE.encode(), "text/html; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class World:
    db: object
    ws: object
    server: LiveServer
    app: FounderApp
    story: object
    invoice: dict | None


def _world(tmp_path: Path, fake_stripe, js_url: str, *, failing: bool) -> Iterator[World]:
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
    invoice = None
    if failing:
        invoice = fake_stripe.renewal_fails(story.subscription["id"])
        Loop(db, box, settings, fake_stripe, ws).settle()
        assert campaigns.by_invoice(db, ws.id, invoice["id"])["status"] == "in_flight"
    else:
        fake_stripe.set_card_decline(story.payment_method["id"], None)
        mirror_objects(
            db, ws.id, fake_stripe, story.price["product"], story.price["id"], story.customer["id"],
            story.payment_method["id"], story.subscription["id"],
        )  # fmt: skip
    backstop: dict = {}
    app_iter = _founder_app(embed_secret(db, box, ws.id), story.customer["id"], backstop)
    app_url = next(app_iter)
    origins.add_origin(db, ws.id, app_url)
    server = start_live_server(
        data_dir,
        {
            "BACKSTOP_SECRET_KEY": SECRET_KEY,
            "BACKSTOP_STRIPE_API_BASE": fake_stripe.url,
            "BACKSTOP_STRIPE_JS_URL": js_url,
        },
    )
    backstop["url"] = server.url
    try:
        yield World(db, ws, server, FounderApp(app_url, server.url), story, invoice)
    finally:
        server.stop()
        next(app_iter, None)
        db.conn.close()


def seen(page) -> list:
    return page.evaluate("window.seen")


@pytest.mark.browser
def test_the_portal_opens_from_a_queued_call_and_a_new_card_is_saved_in_the_modal(
    tmp_path,
    fake_stripe,
    stripe_js,
    phone,
):
    from playwright.sync_api import expect

    for world in _world(tmp_path, fake_stripe, stripe_js, failing=False):
        phone.goto(world.app.url)
        phone.get_by_role("button", name="Manage billing").click()  # embed.js isn't loaded yet
        assert phone.evaluate("Backstop.q.length") == 1
        world.app.load_embed_js(phone)
        dialog = phone.get_by_role("dialog", name="Manage subscription")
        expect(dialog).to_be_visible()
        frame = phone.frame_locator("[data-backstop=modal] iframe")
        expect(frame.get_by_role("heading", name="Your subscription")).to_be_visible()
        expect(frame.locator("#portal-plan")).to_contain_text("Pro plan")
        expect(frame.locator("#portal-next")).to_contain_text("$49.00 on")
        box = phone.locator("[data-backstop=modal] iframe").bounding_box()
        assert box["width"] <= 390
        inner = phone.frame(url=lambda u: "/portal/s/" in u)
        assert inner.evaluate("document.documentElement.scrollWidth") <= 390

        # Someone else's message is ignored: not from the frame, not from Backstop's origin.
        phone.evaluate(
            "window.postMessage({source: 'backstop', v: 1, type: 'saved', outcome: 'saved_other'}, '*')"
        )
        expect(dialog).to_be_visible()

        frame.get_by_role("link", name="Update card").click()
        expect(frame.get_by_role("heading", name="Update your card")).to_be_visible()
        frame.get_by_label("Card number").fill("5555 5555 5555 4444")
        frame.get_by_role("button", name="Save card").click()
        expect(frame.get_by_role("heading", name="Your new card is saved")).to_be_visible()

        phone.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        # The stray "saved" message above never reached a callback; Escape closed the modal.
        assert seen(phone) == [["close", "escape"]]
        new_card = fake_stripe.get(world.story.customer["id"])["invoice_settings"]["default_payment_method"]
        assert new_card != world.story.payment_method["id"]

        # Back in the portal, "Cancel subscription" enters the cancel flow in the same modal.
        phone.get_by_role("button", name="Manage billing").click()
        expect(frame.get_by_role("heading", name="Your subscription")).to_be_visible()
        frame.get_by_role("button", name="Cancel subscription").click()
        frame.get_by_role("button", name="Cancel my subscription").click()
        phone.wait_for_function("window.seen.some(function (e) { return e[0] === 'canceled'; })")
        assert ["canceled", "canceled"] in seen(phone)
        row = world.db.execute("SELECT source, outcome FROM cancel_sessions").fetchone()
        assert tuple(row) == ("portal", "canceled")


@pytest.mark.browser
def test_the_payment_wall_shows_for_an_open_campaign_and_closes_itself_once_paid(
    tmp_path,
    fake_stripe,
    stripe_js,
    phone,
):
    from playwright.sync_api import expect

    for world in _world(tmp_path, fake_stripe, stripe_js, failing=True):
        phone.goto(world.app.url)
        world.app.load_embed_js(phone)
        phone.wait_for_function("window.Backstop && window.Backstop.version === 1")
        phone.get_by_role("button", name="Check payment").click()
        dialog = phone.get_by_role("dialog", name="Payment problem")
        expect(dialog).to_be_visible()
        frame = phone.frame_locator("[data-backstop=modal] iframe")
        expect(frame.locator("#wall-amount")).to_have_text("$49.00")
        expect(frame.locator("#wall-reason")).not_to_be_empty()
        frame.get_by_role("link", name="Update card").click()
        frame.get_by_label("Card number").fill("4242 4242 4242 4242")
        frame.get_by_role("button", name="Pay $49.00").click()
        expect(dialog).to_be_hidden(timeout=20_000)
        assert ["recovered", None] in seen(phone)
        assert fake_stripe.get(world.invoice["id"])["status"] == "paid"
        assert campaigns.by_invoice(world.db, world.ws.id, world.invoice["id"])["status"] == "recovered"


@pytest.mark.browser
def test_the_payment_wall_does_nothing_when_nothing_is_owed(tmp_path, fake_stripe, stripe_js, phone):
    for world in _world(tmp_path, fake_stripe, stripe_js, failing=False):
        phone.goto(world.app.url)
        phone.get_by_role("button", name="Check payment").click()  # queued
        with phone.expect_response(lambda r: r.url.endswith("/wall/check")) as answer:
            world.app.load_embed_js(phone)
        assert json.loads(answer.value.body()) == {"show": False}
        assert phone.locator("[data-backstop=modal]").count() == 0
        assert seen(phone) == []


@pytest.mark.browser
def test_cancel_queued_before_the_script_loads_walks_the_flow_in_the_modal(
    tmp_path, fake_stripe, stripe_js, phone
):
    from playwright.sync_api import expect

    for world in _world(tmp_path, fake_stripe, stripe_js, failing=False):
        phone.goto(world.app.url)
        phone.get_by_role("button", name="Cancel", exact=True).click()
        world.app.load_embed_js(phone)
        dialog = phone.get_by_role("dialog", name="Cancel subscription")
        expect(dialog).to_be_visible()
        frame = phone.frame_locator("[data-backstop=modal] iframe")
        frame.get_by_role("button", name="Never mind, keep my subscription").first.click()
        phone.wait_for_function("window.seen.length > 0")
        assert seen(phone)[0] == ["saved", "saved_other"]
        frame.get_by_role("button", name="Close").click()
        expect(dialog).to_be_hidden()
        assert seen(phone)[-1] == ["close", "done"]
        row = world.db.execute("SELECT source, outcome FROM cancel_sessions").fetchone()
        assert tuple(row) == ("embed", "saved_other")


@pytest.mark.browser
def test_the_hosted_redirect_returns_to_the_app_with_the_outcome(tmp_path, fake_stripe, stripe_js, phone):
    from playwright.sync_api import expect

    for world in _world(tmp_path, fake_stripe, stripe_js, failing=False):
        phone.goto(world.app.url)
        world.app.load_embed_js(phone)
        phone.wait_for_function("window.Backstop && window.Backstop.version === 1")
        phone.get_by_role("button", name="Cancel (redirect)").click()
        phone.wait_for_url(world.server.url + "/cancel/s/**")
        assert phone.locator("[data-backstop=modal]").count() == 0
        phone.get_by_role("button", name="Cancel my subscription").click()
        phone.locator("#cf-return").click()
        phone.wait_for_url(world.app.url + "/done?**")
        assert "outcome=canceled" in phone.url
        expect(phone.get_by_role("heading", name="Your account")).to_be_visible()


@pytest.mark.browser
def test_the_admin_token_check_says_what_backstop_sees(tmp_path, fake_stripe, stripe_js, phone):
    from playwright.sync_api import expect

    for world in _world(tmp_path, fake_stripe, stripe_js, failing=False):
        phone.goto(world.server.url + "/login")
        phone.get_by_label("Email").fill("olivia@acme.test")
        phone.get_by_label("Password").fill("olivia-owns-the-shop")
        phone.get_by_role("button", name="Sign in").click()
        phone.goto(world.server.url + "/w/acme/cancel-flows/embed")
        token = httpx.get(world.app.url + "/token").text
        phone.get_by_role("textbox", name="Token").fill(token)
        phone.get_by_role("button", name="Check token").click()
        expect(phone.locator("#token-result")).to_contain_text("Valid.")
        expect(phone.locator("#token-result")).to_contain_text(world.story.customer["id"])
        phone.get_by_role("textbox", name="Token").fill(
            token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        )
        phone.get_by_role("button", name="Check token").click()
        expect(phone.locator("#token-result")).to_contain_text("Refused (bad_signature)")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the Embed page scrolls sideways on a phone ({width}px wide)"
