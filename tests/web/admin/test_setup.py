"""The first-run setup page: creates the owner and the first workspace, once."""

from __future__ import annotations

from backstop.workspaces import admins
from tests.builders import field_error, text_of
from tests.conftest import csrf_from, post_form

GOOD = {
    "email": "olivia@acme.test",
    "password": "olivia-owns-the-shop",
    "password_confirm": "olivia-owns-the-shop",
    "workspace_name": "Acme Analytics",
}


def submit(client, **changes):
    return post_form(client, "/setup", "/setup", {**GOOD, **changes})


def test_it_sends_a_new_install_to_setup(client):
    assert client.get("/", follow_redirects=False).headers["location"] == "/setup"
    assert client.get("/login", follow_redirects=False).headers["location"] == "/setup"
    page = client.get("/setup")
    assert page.status_code == 200
    assert "create the owner account" in text_of(page.text)


def test_it_creates_the_owner_and_the_workspace_and_signs_them_in(client, db):
    response = submit(client)
    assert response.status_code in (302, 303)
    assert response.headers["location"] == "/w/acme-analytics/overview"
    overview = client.get("/w/acme-analytics/overview")
    assert overview.status_code == 200
    assert "olivia@acme.test" in overview.text
    admin = admins.find_admin_by_email(db, "olivia@acme.test")
    role = db.execute("SELECT role FROM workspace_members WHERE admin_id = ?", [admin.id]).fetchone()[0]
    assert role == "owner"


def test_it_sends_setup_to_login_once_an_admin_exists(client, olivia):
    assert client.get("/setup", follow_redirects=False).headers["location"] == "/login"


def test_it_ignores_a_late_setup_form_once_an_admin_exists(client, db):
    page = client.get("/setup")
    assert submit(client).status_code in (302, 303)
    client.cookies.delete("backstop_session")
    late = client.post(
        "/setup",
        data={"_csrf_token": csrf_from(page.text), **GOOD, "email": "intruder@evil.test"},
        follow_redirects=False,
    )
    assert late.headers["location"] == "/login"
    assert admins.find_admin_by_email(db, "intruder@evil.test") is None


def test_it_shows_what_is_wrong_next_to_the_field(client, db):
    for changes, field, message in (
        ({"password": "short", "password_confirm": "short"}, "password", "Use at least 10 characters"),
        ({"password": "password123", "password_confirm": "password123"}, "password", "every attacker's list"),
        (
            {"password": "olivia@acme.test", "password_confirm": "olivia@acme.test"},
            "password",
            "Don't use your email address",
        ),
        ({"password": "", "password_confirm": ""}, "password", "Enter a password."),
        ({"password_confirm": "olivia-owns-the-shoq"}, "password_confirm", "The two passwords don't match."),
        ({"email": "olivia"}, "email", "doesn't look like an email address"),
        ({"email": ""}, "email", "Enter an email address."),
        ({"workspace_name": "   "}, "workspace_name", "Give the workspace a name"),
        ({"workspace_name": "Admin"}, "workspace_name", "/w/admin, which Backstop keeps for itself"),
    ):
        response = submit(client, **changes)
        assert response.status_code == 400
        error = field_error(response.text, field)
        assert error is not None, f"no error shown next to {field}"
        assert message in error
        assert not admins.any_admin_exists(db)


def test_it_reports_every_wrong_field_at_once(client):
    response = submit(client, email="olivia", password="short", password_confirm="other", workspace_name="")
    assert response.status_code == 400
    for field in ("email", "password", "password_confirm", "workspace_name"):
        assert field_error(response.text, field), f"no error next to {field}"


def test_it_keeps_what_was_typed_except_the_passwords(client):
    response = submit(client, email="olivia", workspace_name="Acme Analytics")
    assert 'value="olivia"' in response.text
    assert 'value="Acme Analytics"' in response.text
    assert GOOD["password"] not in response.text


def test_it_answers_a_form_with_fields_missing_with_400_not_500(client):
    page = client.get("/setup")
    response = client.post("/setup", data={"_csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert response.status_code == 400
    assert field_error(response.text, "email") == "Enter an email address."


def test_it_answers_a_repeated_field_with_400_not_500(client):
    page = client.get("/setup")
    body = f"_csrf_token={csrf_from(page.text)}&email=a%40b.co&email=c%40d.co"
    response = client.post(
        "/setup", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400
