"""A new user walks the demo in Chromium: every admin page it links to loads without a console
error or a 4xx/5xx, the main pages show the demo's data, and at 1280 px and 390 px no page scrolls
sideways, nothing is wider than the window and pills, codes, ids and times stay on one line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
MAX_PAGES = 45

LAYOUT_PROBLEMS = """() => {
  const width = window.innerWidth;
  const problems = [];
  if (document.documentElement.scrollWidth > width + 1) {
    problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth}px in ${width}px`);
  }
  const scrolls = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden") return true;
    }
    return false;
  };
  for (const el of document.querySelectorAll("main *, .banner, .sidebar")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || getComputedStyle(el).position === "absolute") continue;
    if (box.right > width + 1 && !scrolls(el)) {
      problems.push(`${el.tagName.toLowerCase()}.${el.className} is ${Math.round(box.right)}px wide`);
    }
  }
  for (const el of document.querySelectorAll(".pill, .status, code, time, .mode-badge")) {
    if (el.closest("pre, .wrap, code.wrap")) continue;
    const rects = el.getClientRects();
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (rects.length > 1 || (rects.length === 1 && rects[0].height > size * 2.4)) {
      problems.push(`"${el.textContent.trim().slice(0, 40)}" wraps onto two lines`);
    }
  }
  return problems.slice(0, 8);
}"""


def detail_section(path: str) -> str | None:
    parts = path.split("/")
    if len(parts) > 4 and parts[3] in ("recovery", "customers", "emails") and parts[4] != "templates":
        return parts[3]
    return None


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("walk") / "demo-data"
    process = subprocess.Popen(
        [sys.executable, "-c", "from backstop.cli import main; main()", "demo", "--port", str(free_port()),
         "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("BACKSTOP_")},
    )  # fmt: skip
    try:
        url = None
        for line in process.stdout:
            if line.startswith("Open: "):
                url = line.removeprefix("Open: ").strip()
                break
        assert url, "backstop demo printed no Open: line"
        yield url, data_dir
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def demo_url(demo_run) -> str:
    return demo_run[0]


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.mark.browser
def test_a_new_user_walks_the_demo_at_1280_and_390(demo_url, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    bad: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(demo_url))
    page.on(
        "response",
        lambda r: bad.append(f"{r.status} {r.url}") if r.url.startswith(origin) and r.status >= 400 else None,
    )

    page.goto(demo_url)
    page.wait_for_url("**/w/demo-co/overview")
    assert "This is a demo" in page.locator(".banner").first.inner_text()

    # The pages a new user reaches by clicking around, found the way they would: by following links.
    seen: list[str] = []
    queue = ["/w/demo-co/overview"]
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.append(path)
        page.goto(origin + path)
        for href in page.eval_on_selector_all(
            "a[href^='/w/demo-co/']", "els => els.map(e => e.getAttribute('href'))"
        ):
            clean = href.split("#", 1)[0]
            if "?" in clean or clean in seen or clean in queue:
                continue
            section = detail_section(clean)
            if section and any(detail_section(p) == section for p in seen + queue):
                continue  # one campaign, one customer, one email is enough
            queue.append(clean)
    for must in ("/w/demo-co/recovery", "/w/demo-co/customers", "/w/demo-co/emails", "/w/demo-co/settings"):
        assert must in seen, f"no link leads to {must}"
    assert any(p.startswith("/w/demo-co/recovery/") for p in seen) and any(
        p.startswith("/w/demo-co/customers/") for p in seen
    )

    # Every page a founder reads first has the demo's data on it.
    page.goto(origin + "/w/demo-co/overview")
    assert page.locator("svg.trend-chart rect.trend-bar").count() == 12
    assert page.locator("svg.bar-chart rect").count() >= 5
    for path, rows in (("/w/demo-co/recovery", 40), ("/w/demo-co/customers", 25), ("/w/demo-co/emails", 40)):
        page.goto(origin + path)
        assert page.locator("main tbody tr").count() >= rows, path

    layout: dict[str, list[str]] = {}
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for path in seen:
            page.goto(origin + path)
            problems = page.evaluate(LAYOUT_PROBLEMS)
            if problems:
                layout[f"{width}px {path}"] = problems
    assert errors == [], f"the pages logged errors: {errors}"
    assert bad == [], f"requests failed: {bad}"
    assert layout == {}, layout


@pytest.mark.browser
def test_the_demo_card_form_pays_a_failed_renewal_without_leaving_the_machine(demo_run, browser):
    from playwright.sync_api import expect

    from backstop.db import connect
    from backstop.recovery import links

    url, data_dir = demo_run
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    db = connect(data_dir / "backstop.db")
    campaign = db.execute(
        "SELECT id, workspace_id FROM campaigns WHERE status = 'in_flight' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    token = links.update_card_token((data_dir / "secret_key").read_text().strip(), campaign[1], campaign[0])
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    elsewhere: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("request", lambda r: elsewhere.append(r.url) if not r.url.startswith(origin) else None)

    page.goto(f"{origin}/update-card/{token}")
    expect(page.locator("#uc-demo-note")).to_contain_text("Demo card form.")
    pay = page.locator("#uc-submit")
    expect(pay).to_be_enabled()
    page.get_by_label("Demo card number").fill("4000 0000 0000 9995")
    pay.click()
    expect(page.locator("#uc-message")).to_contain_text("Please try a different card")
    page.get_by_role("button", name="Try a different card").click()
    page.get_by_label("Demo card number").fill("4242 4242 4242 4242")
    page.locator("#uc-submit").click()
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    row = db.execute("SELECT status FROM campaigns WHERE id = ?", [campaign[0]]).fetchone()
    db.conn.close()
    assert row[0] == "recovered"
    assert errors == [] and elsewhere == []
