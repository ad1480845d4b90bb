"""Settings → Retry policy → "Preview on your last 90 days" in Chromium, on a desktop and a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backstop import clock
from backstop.db import connect, write_transaction
from backstop.lib.crypto import SecretBox
from backstop.settings import Settings, ensure_secret_key
from backstop.workspaces.admins import create_admin
from backstop.workspaces.workspaces import create_workspace
from tests.browser.conftest import EMAIL, PASSWORD
from tests.builders import put_backtest_history


@pytest.fixture
def shop(live_server):
    """Olivia's workspace with 100 failed renewals in the last 90 days, on the running server."""
    db = connect(live_server.data_dir / "backstop.db")
    box = SecretBox(ensure_secret_key(Settings(data_dir=live_server.data_dir)).secret_key)
    ws, _ = create_workspace(db, box, "Acme Analytics", create_admin(db, EMAIL, PASSWORD), "acme")
    with write_transaction(db):
        put_backtest_history(db, ws.id, clock.now(), 100)
    db.conn.close()
    return live_server


def _preview_a_draft(page, url: str) -> None:
    page.goto(url + "/login")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(url + "/w/acme/settings/retry-policy")
    page.fill("input[name=soft_gaps_days]", "2, 4, 14")
    page.fill("input[name=hard_retries]", "0")
    page.fill("input[name=hard_gaps_days]", "")
    page.fill("input[name=max_attempts]", "4")
    page.get_by_role("button", name="Preview on your last 90 days").click()


@pytest.mark.parametrize("device", ["page", "phone"])
def test_the_preview_table_reads_on_a_desktop_and_a_phone(shop, device, request):
    page = request.getfixturevalue(device)
    _preview_a_draft(page, shop.url)
    table = page.get_by_role("table", name="The saved retry policy and the draft in the form")
    expect(table).to_be_visible()
    row = table.get_by_role("row", name="Recovered by a retry on the same card")
    expect(row).to_contain_text("20 ($980.00)")  # saved policy: 10 of a, 10 of b
    expect(row).to_contain_text("30 ($1,470.00)")  # the draft adds f
    expect(page.get_by_role("heading", name="What a backtest can't know")).to_be_visible()
    # the form still holds the draft, and nothing runs off the side of the screen
    expect(page.locator("input[name=max_attempts]")).to_have_value("4")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
