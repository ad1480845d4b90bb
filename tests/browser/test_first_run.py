"""A new install in a real browser: first-run setup, sign out and in, a second workspace, and
ticking the hand-ticked checklist step on the Overview."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import EMAIL, PASSWORD


def step_4(page):
    return page.locator('li.step[data-step="4"]')


@pytest.mark.browser
def test_a_new_install_from_setup_to_ticking_step_4(live_server, page, tmp_path):
    from playwright.sync_api import expect

    # First run: any address leads to the setup page, which makes the owner and a workspace.
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("create the owner account")
    page.get_by_label("Your email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_label("Workspace name").fill("Acme Analytics")
    page.get_by_role("button", name="Create account").click()

    expect(page).to_have_url(re.compile(r"/w/acme-analytics/overview$"))
    expect(page.get_by_role("heading", name="Get set up")).to_be_visible()
    expect(page.locator(".checklist-head")).to_contain_text("0 of 5 done")

    # Sign out, then back in.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    page.goto(live_server.url + "/w/acme-analytics/overview")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/w/acme-analytics/overview$"))
    expect(page.get_by_text(EMAIL)).to_be_visible()

    # A second workspace, from the workspace menu.
    page.locator(".ws-menu summary").click()
    page.get_by_role("link", name="+ New workspace").click()
    expect(page.get_by_role("heading", name="New workspace")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Side Project")
    page.get_by_role("button", name="Create workspace").click()
    expect(page).to_have_url(re.compile(r"/w/side-project/overview$"))
    expect(page.locator(".page-header")).to_contain_text("Side Project")
    page.locator(".ws-menu summary").click()
    expect(page.locator(".ws-list")).to_contain_text("Acme Analytics")
    expect(page.locator(".ws-list")).to_contain_text("Side Project")

    # Step 4 is ticked by hand, and un-ticked by hand.
    expect(step_4(page)).to_contain_text("(not done)")
    step_4(page).get_by_role("button", name="Mark as done").click()
    expect(page.locator(".checklist-head")).to_contain_text("1 of 5 done")
    expect(step_4(page)).to_have_class(re.compile(r"\bdone\b"))
    expect(step_4(page)).to_contain_text("(done)")
    expect(step_4(page).locator(".tick")).to_have_text("✓")
    page.screenshot(path=str(tmp_path / "overview-step-4-done.png"))

    page.reload()
    expect(page.locator(".checklist-head")).to_contain_text("1 of 5 done")

    step_4(page).get_by_role("button", name="Mark as not done").click()
    expect(page.locator(".checklist-head")).to_contain_text("0 of 5 done")
    expect(step_4(page)).to_contain_text("(not done)")
    expect(step_4(page).get_by_role("button", name="Mark as done")).to_be_visible()

    # The tick belongs to the workspace it was made in.
    page.goto(live_server.url + "/w/acme-analytics/overview")
    expect(page.locator(".checklist-head")).to_contain_text("0 of 5 done")
    page.screenshot(path=str(tmp_path / "overview.png"))
    assert (tmp_path / "overview-step-4-done.png").stat().st_size > 10_000
