"""Pressing "Connect Stripe" in a real Chromium: the browser is sent to Stripe's Connect page (the
fake Stripe's, on another origin) and back, and the workspace is connected. The admin's CSP must
let a form's redirect reach that page: Chromium enforces form-action on redirects too."""

from __future__ import annotations

import re

import pytest

from backstop.db import connect, migrate
from backstop.lib.crypto import SecretBox
from backstop.settings import Settings, ensure_secret_key
from backstop.workspaces.admins import create_admin
from backstop.workspaces.workspaces import create_workspace
from tests.browser.conftest import EMAIL, PASSWORD
from tests.conftest import start_live_server


@pytest.mark.browser
def test_connect_stripe_reaches_stripes_connect_page_and_comes_back_connected(
    tmp_path,
    fake_stripe,
    page,
):
    from playwright.sync_api import expect

    data_dir = tmp_path / "live"
    data_dir.mkdir()
    settings = ensure_secret_key(Settings(data_dir=data_dir))
    migrate(settings.db_path)
    db = connect(settings.db_path)
    owner = create_admin(db, EMAIL, PASSWORD)
    ws, _ = create_workspace(db, SecretBox(settings.secret_key), "Acme Analytics", owner, "acme")
    server = start_live_server(
        data_dir,
        {
            "BACKSTOP_STRIPE_CLIENT_ID": fake_stripe.client_id,
            "BACKSTOP_STRIPE_SECRET_KEY": fake_stripe.secret_key,
            "BACKSTOP_STRIPE_API_BASE": fake_stripe.url,
            "BACKSTOP_STRIPE_CONNECT_BASE": fake_stripe.url,
        },
    )
    blocked: list[str] = []
    page.on(
        "console", lambda msg: blocked.append(msg.text) if "Content Security Policy" in msg.text else None
    )
    try:
        page.goto(server.url + "/login")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(r"/w/acme/overview$"))

        page.goto(server.url + "/w/acme/settings/stripe")
        with page.expect_request(re.compile(re.escape(fake_stripe.url) + r"/oauth/authorize\?")) as consent:
            page.get_by_role("button", name="Connect Stripe").click()
        assert "client_id=" + fake_stripe.client_id in consent.value.url
        expect(page).to_have_url(re.compile(r"/w/acme/settings/stripe\?notice=connected$"))
        assert blocked == []
        row = db.execute("SELECT method FROM stripe_connections WHERE workspace_id = ?", [ws.id]).fetchone()
        assert row is not None and row[0] == "oauth"
    finally:
        server.stop()
        db.conn.close()
