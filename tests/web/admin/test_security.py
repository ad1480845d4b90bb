"""What protects the admin: CSRF on every form, security headers, escaping, who sees what."""

from __future__ import annotations

from backstop.workspaces.workspaces import create_workspace
from tests.builders import text_of
from tests.conftest import csrf_from, login

FORMS = [
    ("/login", {"email": "olivia@acme.test", "password": "olivia-owns-the-shop"}),
    ("/logout", {}),
    ("/workspaces/new", {"name": "Forged"}),
    ("/w/acme/settings/rename", {"name": "Forged"}),
    ("/w/acme/settings/rotate-embed-secret", {}),
    ("/w/acme/settings/members", {"email": "marco@acme.test", "role": "owner"}),
    ("/w/acme/settings/api-tokens", {"name": "forged"}),
    ("/w/acme/checklist/embed", {"done": "1"}),
]


def test_it_refuses_a_form_without_its_csrf_token_with_a_friendly_page(as_olivia, db):
    for action, data in FORMS:
        response = as_olivia.post(action, data=data, follow_redirects=False)
        assert response.status_code == 403, action
        text = text_of(response.text)
        assert "This form expired or came from another site." in text, action
        assert "reload the page" in text
    assert [tuple(r) for r in db.execute("SELECT name FROM workspaces")] == [("Acme Analytics",)]
    assert db.execute("SELECT COUNT(*) FROM api_tokens").fetchone()[0] == 0
    assert db.execute("SELECT embed_step_done_at FROM workspaces").fetchone()[0] is None
    assert as_olivia.get("/w/acme/overview").status_code == 200, "the forged sign-out signed her out"


def test_it_refuses_a_csrf_token_that_does_not_match_the_cookie(as_olivia, db):
    response = as_olivia.post(
        "/w/acme/settings/rename", data={"_csrf_token": "forged-token", "name": "Forged"}
    )
    assert response.status_code == 403
    assert db.execute("SELECT name FROM workspaces").fetchone()[0] == "Acme Analytics"


def test_it_puts_a_csrf_token_in_every_form_of_a_page(as_olivia):
    for path in (
        "/w/acme/overview",
        "/w/acme/settings",
        "/w/acme/settings/members",
        "/w/acme/settings/api-tokens",
    ):
        html = as_olivia.get(path).text
        assert html.count("<form") == html.count('name="_csrf_token"'), path


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


def assert_security_headers(response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, f"{name} on {response.url}"
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, response.url
    assert "unsafe-inline" not in csp


def test_it_sends_security_headers_on_admin_pages(as_olivia):
    for path in ("/w/acme/overview", "/w/acme/settings", "/w/acme/recovery"):
        assert_security_headers(as_olivia.get(path))


def test_it_sends_security_headers_on_the_sign_in_and_setup_pages(client, olivia):
    assert_security_headers(client.get("/login"))


def test_it_sends_security_headers_on_the_setup_page(client):
    assert_security_headers(client.get("/setup"))


def test_it_sends_security_headers_on_error_pages(as_olivia):
    assert_security_headers(as_olivia.get("/no-such-page"))
    assert_security_headers(as_olivia.get("/w/not-mine/overview"))
    assert_security_headers(as_olivia.post("/w/acme/settings/rename", data={"name": "x"}))


def test_it_escapes_a_workspace_name_everywhere_it_shows(as_olivia, db, box, olivia):
    create_workspace(db, box, "<script>alert(1)</script>", olivia.admin, "xss")
    for path in ("/w/xss/overview", "/w/xss/settings", "/w/xss/settings/members", "/w/acme/overview"):
        html = as_olivia.get(path).text
        assert "<script>alert(1)</script>" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path


def test_it_escapes_what_was_typed_back_into_a_form(as_olivia):
    page = as_olivia.get("/workspaces/new")
    response = as_olivia.post(
        "/workspaces/new",
        data={
            "_csrf_token": csrf_from(page.text),
            "name": '"><img src=x onerror=alert(1)>',
            "slug": "Bad Slug",
        },
    )
    assert response.status_code == 400
    assert "<img src=x" not in response.text


def test_it_shows_a_404_to_an_admin_who_is_not_a_member(client, acme, marco):
    login(client, marco)
    for path in (
        "/w/acme",
        "/w/acme/overview",
        "/w/acme/settings",
        "/w/acme/settings/api-tokens",
        "/w/acme/emails",
    ):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 404, path
        assert "Acme Analytics" not in response.text
    page = client.get("/workspaces/new")
    forged = client.post(
        "/w/acme/settings/rename", data={"_csrf_token": csrf_from(page.text), "name": "Marco's now"}
    )
    assert forged.status_code == 404


def test_it_shows_the_same_404_for_a_workspace_that_does_not_exist(client, acme, marco):
    login(client, marco)
    missing = client.get("/w/nope/overview")
    hidden = client.get("/w/acme/overview")
    assert missing.status_code == hidden.status_code == 404
    assert text_of(missing.text) == text_of(hidden.text)


def test_it_never_shows_a_stack_trace(as_olivia):
    response = as_olivia.get("/w/acme/settings/members/abc/role")
    assert response.status_code in (404, 405)
    assert "Traceback" not in response.text
