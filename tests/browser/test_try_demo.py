"""A new install in Chromium: “Try it with sample data” on the first-run page starts the demo beside
it and signs the visitor into Demo Co, on pages full of data; stopping Backstop stops that demo."""

from __future__ import annotations

import re
import socket
import time
from urllib.parse import urlsplit

import pytest


def answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.browser
def test_the_first_run_button_opens_a_demo_full_of_data(live_server, page):
    from playwright.sync_api import expect

    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    page.get_by_role("button", name="Try it with sample data").click(timeout=60_000)  # the demo starts first
    page.wait_for_url(re.compile(r"/w/demo-co/overview$"), timeout=60_000)
    demo = urlsplit(page.url)
    assert demo.netloc != urlsplit(live_server.url).netloc  # a separate server, on its own data
    origin = f"{demo.scheme}://{demo.netloc}"

    expect(page.locator(".banner").first).to_contain_text("This is a demo")
    expect(page.locator(".page-header")).to_contain_text("Demo Co")
    expect(page.locator("svg.trend-chart rect.trend-bar")).to_have_count(12)
    assert page.locator("svg.bar-chart rect").count() >= 5

    page.get_by_role("link", name="Recovery", exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/w/demo-co/recovery$"))
    assert page.locator("main tbody tr").count() >= 40

    page.goto(origin + "/w/demo-co/cancel-flows/analytics?days=all")
    opened = page.locator("table.funnel tr", has_text="Opened the cancel flow").locator("td.num").first
    assert int(opened.inner_text()) > 40
    expect(page.locator("main")).to_contain_text("Holdout lift")

    page.goto(origin + "/w/demo-co/settings/webhooks")
    expect(page.locator("main")).to_contain_text("hooks.demo.invalid/backstop")
    expect(page.locator("main")).to_contain_text("nothing is sent over the network")

    # The install itself is untouched: still on its first-run page.
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/setup$"))

    assert live_server.stop() == 0
    deadline = time.monotonic() + 20
    while answers(demo.hostname, demo.port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not answers(demo.hostname, demo.port), "the demo kept running after Backstop stopped"
