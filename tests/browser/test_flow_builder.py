"""The cancel-flow builder in a real browser: reach a step with the keyboard, edit it in the side
panel, watch the autosave land and the problem that pointed at the step go away."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backstop.cancel_flows import templates
from backstop.db import migrate, opened
from backstop.lib.crypto import SecretBox
from backstop.settings import Settings, ensure_secret_key
from backstop.workspaces.admins import create_admin
from backstop.workspaces.workspaces import create_workspace
from tests.conftest import OLIVIA_PASSWORD, start_live_server


@pytest.fixture
def agency_server(tmp_path: Path):
    data_dir = tmp_path / "live"
    data_dir.mkdir()
    migrate(data_dir / "backstop.db")
    box = SecretBox(ensure_secret_key(Settings(data_dir=data_dir)).secret_key)
    with opened(data_dir / "backstop.db") as db:
        olivia = create_admin(db, "olivia@acme.test", OLIVIA_PASSWORD)
        ws, _ = create_workspace(db, box, "Acme Analytics", olivia, "acme")
        flow_id = templates.use_template(db, ws.id, "Agency / Pro Service").flow.id
    server = start_live_server(data_dir)
    yield server, flow_id
    server.stop()


@pytest.mark.browser
def test_a_founder_fixes_a_draft_with_the_keyboard_and_autosave(agency_server, page):
    from playwright.sync_api import expect

    server, flow_id = agency_server
    page.goto(f"{server.url}/w/acme/cancel-flows/{flow_id}")
    page.get_by_label("Email").fill("olivia@acme.test")
    page.get_by_label("Password").fill(OLIVIA_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"/cancel-flows/{flow_id}$"))

    # The validation message names the step, and the step is marked on the canvas.
    problems = page.locator("#flow-problems")
    expect(problems).to_contain_text("1 thing to fix before publishing")
    expect(problems).to_contain_text("Paste your booking page's https:// link")
    call_node = page.locator('#flow-canvas a.node[data-node="offer_call"]')
    expect(call_node).to_have_class(re.compile(r"\bhas-problem\b"))
    page.locator('#flow-problems a[data-node="offer_call"]').hover()
    expect(call_node).to_have_class(re.compile(r"\bflash\b"))

    # Keyboard only: focus the first step, arrow down to the call offer, Enter opens it.
    page.locator('#flow-canvas a.node[data-node="survey"]').focus()
    page.keyboard.press("ArrowDown")
    expect(call_node).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"\?node=offer_call$"))
    expect(page.get_by_role("heading", name=re.compile("Offer offer_call"))).to_be_visible()

    # The opened step keeps the focus; Enter again goes to its fields, Tab to the booking link.
    expect(call_node).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Offer", exact=True)).to_be_focused()
    page.keyboard.press("Tab")
    booking = page.get_by_label("Booking link")
    expect(booking).to_be_focused()
    expect(booking).to_have_attribute("aria-invalid", "true")
    page.keyboard.type("https://cal.com/acme/15min")

    # No submit: the autosave lands, the canvas and the problem list refresh in place.
    expect(problems).to_contain_text("Ready to publish", timeout=10_000)
    expect(call_node).not_to_have_class(re.compile(r"\bhas-problem\b"))
    expect(page.locator("#save-status")).to_contain_text("Draft saved")
    page.keyboard.press("Escape")
    expect(page.locator('#flow-canvas a.node[data-node="offer_call"]')).to_be_focused()

    page.reload()
    expect(page.get_by_label("Booking link")).to_have_value("https://cal.com/acme/15min")
    page.get_by_role("button", name="Publish v1").click()
    expect(page.locator("main")).to_contain_text("Published v1: it now gets all of this flow's traffic.")


@pytest.mark.browser
def test_the_builder_fits_a_phone(agency_server, page):
    from playwright.sync_api import expect

    server, flow_id = agency_server
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.url}/w/acme/cancel-flows/{flow_id}?node=offer_call")
    page.get_by_label("Email").fill("olivia@acme.test")
    page.get_by_label("Password").fill(OLIVIA_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Booking link")).to_be_visible()
    # The page itself never scrolls sideways; only the canvas pane does.
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
