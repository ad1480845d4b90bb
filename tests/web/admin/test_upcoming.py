"""Navigation: every item in the sidebar opens, and pages not built yet say so plainly."""

from __future__ import annotations

import re

from backstop.web.admin.upcoming import UPCOMING
from tests.builders import text_of

# The seed's first-level items, with Retry policy under Recovery and the Email settings group.
NAV = [
    "Overview",
    "Recovery",
    "Retry policy",
    "Cancel flows",
    "Customers",
    "Emails",
    "Email settings",
    "Dunning copy",
    "Send domain",
    "Branding",
    "Settings",
]


def test_it_says_plainly_that_a_page_is_not_built_yet(as_olivia):
    assert UPCOMING, "every page is built: this test can go"
    for suffix, (_, _, title, _) in sorted(UPCOMING.items()):
        response = as_olivia.get(f"/w/acme/{suffix}")
        assert response.status_code == 200, suffix
        text = text_of(response.text)
        assert title in text, suffix
        assert "This page isn't built yet." in text, suffix


def test_it_shows_the_seeds_nav_items_in_order(as_olivia):
    nav = re.search(
        r'<ul class="nav">(.*)</ul>\s*</nav>', as_olivia.get("/w/acme/overview").text, re.S
    ).group(1)
    assert text_of(nav).split(" ") == " ".join(NAV).split(" ")


def test_it_opens_every_sidebar_and_settings_link(as_olivia):
    html = as_olivia.get("/w/acme/settings").text
    links = set(re.findall(r'href="(/w/acme/[^"#?]*)"', html))
    assert len(links) >= 10
    for link in sorted(links):
        response = as_olivia.get(link)
        assert response.status_code == 200, link
        assert "Traceback" not in response.text


def test_it_marks_the_current_nav_item(as_olivia):
    html = as_olivia.get("/w/acme/customers").text
    assert re.search(r'href="/w/acme/customers" aria-current="page">Customers<', html)
