"""Every admin form's POST address, opened as a page (a reload after a failed submit, a bookmark,
the back button), leads to the page the form is on instead of "405 Not allowed". The routes are
read from the app, so a form added later is covered without touching this test."""

from __future__ import annotations

import re

import pytest

from tests.conftest import login, post_form

SAMPLE = {"slug": "acme"}


def post_only_admin_routes(app) -> list[str]:
    paths = []
    for route in app.routes:
        methods = getattr(route, "methods", set())
        handlers = getattr(route, "route_handlers", [])
        admin = any(getattr(h.fn, "func", h.fn).__module__.startswith("backstop.web.admin") for h in handlers)
        if admin and "POST" in methods and "GET" not in methods:
            paths.append(route.path)
    return sorted(paths)


def concrete(path: str) -> str:
    def fill(match: re.Match) -> str:
        name, _, kind = match.group(1).partition(":")
        return SAMPLE.get(name) or ("1" if kind == "int" else "x")

    return re.sub(r"\{([^}]+)\}", fill, path)


@pytest.fixture
def admin_app(settings, db):
    from backstop.web.app import create_app

    return create_app(settings, run_jobs=False)


def test_there_are_admin_forms_to_check(admin_app):
    paths = post_only_admin_routes(admin_app)
    assert len(paths) >= 25
    assert "/w/{slug:str}/settings/stripe/key" in paths and "/w/{slug:str}/settings/rename" in paths


def test_each_post_address_opened_as_a_page_leads_to_its_form(client, olivia, acme):
    login(client, olivia)
    page_patterns = [
        re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", r.path) + "$")
        for r in client.app.routes
        if "GET" in getattr(r, "methods", set())
    ]
    for path in post_only_admin_routes(client.app):
        address = concrete(path)
        answer = client.get(address, follow_redirects=False)
        assert answer.status_code == 303, f"GET {address} answered {answer.status_code}"
        target = answer.headers["location"]
        assert any(p.match(target) for p in page_patterns), f"GET {address} sent to {target}, not a page"
        if "/x" not in address and "/1" not in address:
            assert client.get(target).status_code == 200, f"{address} → {target}"


def test_a_failed_rename_then_a_reload_shows_the_form_again(client, olivia, acme):
    login(client, olivia)
    failed = post_form(client, "/w/acme/settings", "/w/acme/settings/rename", {"name": ""})
    assert failed.status_code == 400
    reopened = client.get("/w/acme/settings/rename", follow_redirects=False)
    assert reopened.status_code == 303 and reopened.headers["location"] == "/w/acme/settings"
    assert 'action="/w/acme/settings/rename"' in client.get("/w/acme/settings").text


def test_the_stripe_key_form_address_leads_back_to_stripe_settings(client, olivia, acme):
    login(client, olivia)
    answer = client.get("/w/acme/settings/stripe/key", follow_redirects=False)
    assert answer.headers["location"] == "/w/acme/settings/stripe"
