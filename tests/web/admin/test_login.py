"""Signing in and out, the login throttle, and pages that need a signed-in admin."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from tests.builders import text_of
from tests.conftest import csrf_from, login, post_form


def sign_in(client, email: str, password: str, next_url: str | None = None):
    data = {"email": email, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return post_form(client, "/login", "/login", data)


def test_it_signs_in_and_lands_on_the_first_workspace(client, olivia, acme):
    response = sign_in(client, "olivia@acme.test", olivia.password)
    assert response.status_code in (302, 303)
    home = client.get("/", follow_redirects=False)
    assert home.headers["location"] == "/w/acme/overview"


def test_it_sets_an_http_only_same_site_session_cookie(client, olivia, acme):
    response = sign_in(client, "olivia@acme.test", olivia.password)
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and "backstop_session" in v
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie


def test_it_says_when_the_email_and_password_do_not_match(client, olivia):
    response = sign_in(client, "olivia@acme.test", "not-her-password")
    assert response.status_code == 400
    assert "That email and password don't match an admin." in text_of(response.text)
    assert 'value="olivia@acme.test"' in response.text
    assert client.get("/w/acme/overview", follow_redirects=False).status_code in (302, 303)


def test_it_asks_for_both_email_and_password(client, olivia):
    response = sign_in(client, "", "")
    assert response.status_code == 400
    assert "Enter your email and password." in text_of(response.text)


def test_it_slows_down_guessing_with_a_429_page(client, olivia):
    with time_machine.travel("2026-05-01 09:00:00+00:00", tick=False) as traveller:
        for _ in range(3):
            assert sign_in(client, "olivia@acme.test", "a-wrong-guess").status_code == 400
        blocked = sign_in(client, "olivia@acme.test", olivia.password)
        assert blocked.status_code == 429 and blocked.headers["retry-after"] == "2"
        assert "Too many failed sign-ins from here. Wait 2 seconds and try again." in text_of(blocked.text)
        traveller.shift(timedelta(seconds=2))
        assert sign_in(client, "olivia@acme.test", olivia.password).status_code in (302, 303)


def test_it_signs_out_and_the_old_cookie_stops_working(client, olivia, acme):
    login(client, olivia)
    old_cookie = client.cookies.get("backstop_session")
    assert old_cookie
    page = client.get("/w/acme/overview")
    response = client.post("/logout", data={"_csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert response.headers["location"] == "/login"
    assert client.get("/w/acme/overview", follow_redirects=False).status_code in (302, 303)

    client.cookies.set("backstop_session", old_cookie)
    replay = client.get("/w/acme/overview", follow_redirects=False)
    assert replay.status_code in (302, 303)
    assert replay.headers["location"].startswith("/login")


def test_it_sends_a_signed_out_visitor_to_login_and_back(client, olivia, acme):
    for path in (
        "/w/acme/overview",
        "/w/acme/settings",
        "/w/acme/settings/members",
        "/w/acme/settings/api-tokens",
        "/workspaces/new",
        "/w/acme/recovery",
    ):
        response = client.get(path, follow_redirects=False)
        assert response.status_code in (302, 303), path
        assert response.headers["location"] == f"/login?next={path}"


def test_it_returns_to_the_page_asked_for_after_signing_in(client, olivia, acme):
    redirect = client.get("/w/acme/settings?tab=1", follow_redirects=False).headers["location"]
    login_page = client.get(redirect)
    assert 'name="next" value="/w/acme/settings?tab=1"' in login_page.text
    response = sign_in(client, "olivia@acme.test", olivia.password, "/w/acme/settings?tab=1")
    assert response.headers["location"] == "/w/acme/settings?tab=1"


def test_it_never_sends_anyone_off_site_after_signing_in(client, olivia, acme):
    for target in (
        "https://evil.test/",
        "//evil.test/",
        "/\\evil.test",
        "javascript:alert(1)",
        "evil.test",
        "/\t/evil.test",
    ):
        response = sign_in(client, "olivia@acme.test", olivia.password, target)
        assert response.headers["location"] == "/", repr(target)


def test_it_skips_the_login_page_when_already_signed_in(client, olivia, acme):
    login(client, olivia)
    response = client.get("/login?next=/w/acme/settings", follow_redirects=False)
    assert response.headers["location"] == "/w/acme/settings"


def test_it_sends_an_admin_without_workspaces_to_create_one(client, marco):
    login(client, marco)
    assert client.get("/", follow_redirects=False).headers["location"] == "/workspaces/new"
