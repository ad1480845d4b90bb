"""CSRF: the token is bound to the session, and a state-changing request a browser says came from
another site is refused with a 403 page that says why."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from backstop.workspaces.login_tokens import issue_login_token
from backstop.workspaces.workspaces import workspace_for
from tests.builders import text_of
from tests.conftest import csrf_from, login

RENAME = "/w/acme/settings/rename"


def _name(db, olivia) -> str:
    return workspace_for(db, olivia.admin, "acme").name


@pytest.fixture
def second_browser(client):
    with TestClient(app=client.app, base_url="http://127.0.0.1") as other:
        yield other


def test_a_token_from_another_session_is_refused_even_with_its_cookie(
    client, second_browser, db, olivia, acme
):
    login(client, olivia)
    login(second_browser, olivia)
    token = csrf_from(client.get("/w/acme/settings").text)
    # The second session replays the first session's token together with its CSRF cookie: in a
    # double-submit scheme that pair would pass; bound to the session it doesn't.
    second_browser.cookies.set("backstop_csrf", client.cookies.get("backstop_csrf"))
    answer = second_browser.post(RENAME, data={"_csrf_token": token, "name": "Pwned"}, follow_redirects=False)
    assert answer.status_code == 403
    assert "form expired or came from another site" in text_of(answer.text)
    assert _name(db, olivia) == "Acme Analytics"
    own = csrf_from(second_browser.get("/w/acme/settings").text)
    assert own != token
    ok = second_browser.post(RENAME, data={"_csrf_token": own, "name": "Acme Two"}, follow_redirects=False)
    assert ok.status_code in (302, 303) and _name(db, olivia) == "Acme Two"


def test_signing_in_changes_the_token(client, db, olivia, acme):
    before = csrf_from(client.get("/login").text)
    login(client, olivia)
    after = csrf_from(client.get("/w/acme/settings").text)
    assert before != after
    answer = client.post(RENAME, data={"_csrf_token": before, "name": "Pwned"}, follow_redirects=False)
    assert answer.status_code == 403 and _name(db, olivia) == "Acme Analytics"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.test"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:1"},
        {"Referer": "https://evil.test/page"},
    ],
)
def test_a_request_from_another_site_is_refused_with_a_page_that_says_so(client, db, olivia, acme, headers):
    login(client, olivia)
    token = csrf_from(client.get("/w/acme/settings").text)
    answer = client.post(
        RENAME, data={"_csrf_token": token, "name": "Pwned"}, headers=headers, follow_redirects=False
    )
    assert answer.status_code == 403
    text = text_of(answer.text)
    assert "came from another site" in text and "Backstop refused it" in text
    assert _name(db, olivia) == "Acme Analytics"


def test_a_request_from_backstops_own_address_goes_through(client, db, olivia, acme, settings):
    login(client, olivia)
    token = csrf_from(client.get("/w/acme/settings").text)
    for name, headers in (
        ("Acme A", {"Origin": settings.public_url}),
        ("Acme B", {"Referer": settings.public_url + "/w/acme/settings"}),
        ("Acme C", {"Origin": f"http://localhost:{settings.port}"}),
    ):
        answer = client.post(
            RENAME, data={"_csrf_token": token, "name": name}, headers=headers, follow_redirects=False
        )
        assert answer.status_code in (302, 303), answer.text
        assert _name(db, olivia) == name


def test_the_desktop_windows_sign_in_link_still_leads_to_working_forms(client, db, olivia, acme, settings):
    link = issue_login_token(db, olivia.admin)
    assert client.get(f"/desktop-login/{link}", follow_redirects=False).status_code in (302, 303)
    token = csrf_from(client.get("/w/acme/settings").text)
    answer = client.post(
        RENAME,
        data={"_csrf_token": token, "name": "From the desktop"},
        headers={"Origin": settings.public_url},
        follow_redirects=False,
    )
    assert answer.status_code in (302, 303) and _name(db, olivia) == "From the desktop"


def test_the_update_card_pages_script_post_is_checked_for_origin_too(client):
    token = csrf_from(client.get("/setup").text)  # the same visitor's token, as the page has it
    answer = client.post(
        "/update-card/nonsense/confirm",
        json={"setup_intent": "seti_1"},
        headers={"x-csrftoken": token, "Origin": "https://evil.test"},
    )
    assert answer.status_code == 403
