"""GET /desktop-login/<token>: a one-time token becomes a normal session cookie."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from backstop.web.admin.common import SESSION_COOKIE
from backstop.workspaces.login_tokens import LOGIN_TOKEN_LIFETIME, issue_login_token


def test_it_signs_in_and_lands_on_the_overview(client, db, olivia, acme):
    token = issue_login_token(db, olivia.admin)
    response = client.get(f"/desktop-login/{token}", follow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["location"] == "/"
    assert SESSION_COOKIE in response.cookies
    overview = client.get("/", follow_redirects=True)
    assert overview.status_code == 200
    assert str(overview.url).endswith("/w/acme/overview")
    assert "<h1>Overview</h1>" in overview.text


def test_a_used_link_shows_a_clear_page_and_no_session(client, db, olivia, acme):
    token = issue_login_token(db, olivia.admin)
    client.get(f"/desktop-login/{token}", follow_redirects=False)
    client.cookies.clear()
    again = client.get(f"/desktop-login/{token}", follow_redirects=False)
    assert again.status_code == 410
    assert "already been used" in again.text
    assert SESSION_COOKIE not in again.cookies
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_an_expired_link_says_so(client, db, olivia, acme):
    with time_machine.travel("2026-11-02 09:00:00+00:00", tick=False) as clock:
        token = issue_login_token(db, olivia.admin)
        clock.shift(LOGIN_TOKEN_LIFETIME + timedelta(seconds=5))
        response = client.get(f"/desktop-login/{token}", follow_redirects=False)
    assert response.status_code == 410
    assert "expired" in response.text


def test_a_made_up_link_is_refused(client, db, olivia, acme):
    response = client.get("/desktop-login/not-a-token", follow_redirects=False)
    assert response.status_code == 410
    assert "not valid" in response.text
