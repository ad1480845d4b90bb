"""Settings → Members: add people, change their role, remove them; only owners may."""

from __future__ import annotations

from backstop.workspaces.admins import authenticate
from backstop.workspaces.workspaces import members, workspace_for
from tests.builders import field_error, text_of
from tests.conftest import post_form

PAGE = "/w/acme/settings/members"


def roles(db, acme) -> dict[str, str]:
    return {m["email"]: m["role"] for m in members(db, acme)}


def test_it_lists_the_members_with_their_roles(as_olivia, marco_in_acme):
    text = text_of(as_olivia.get(PAGE).text)
    assert "olivia@acme.test (you) owner" in text
    assert "marco@acme.test member" in text


def test_it_adds_an_existing_admin(as_olivia, db, acme, marco):
    response = post_form(
        as_olivia, PAGE, PAGE, {"email": "marco@acme.test", "role": "member", "password": ""}
    )
    assert response.status_code in (302, 303)
    assert roles(db, acme)["marco@acme.test"] == "member"


def test_it_adds_someone_new_with_a_first_password(as_olivia, db, acme):
    data = {"email": "nina@acme.test", "role": "owner", "password": "nina-gets-a-long-password"}
    assert post_form(as_olivia, PAGE, PAGE, data).status_code in (302, 303)
    nina = authenticate(db, "nina@acme.test", "nina-gets-a-long-password", "10.0.0.1")
    assert workspace_for(db, nina, "acme").role == "owner"


def test_it_explains_why_someone_cannot_be_added(as_olivia, db, acme):
    for data, field, message in (
        (
            {"email": "nina@acme.test", "role": "member", "password": ""},
            "password",
            "no Backstop account yet",
        ),
        ({"email": "nina@acme.test", "role": "member", "password": "Xq7!pz"}, "password", "at least 10"),
        ({"email": "not-an-email", "role": "member"}, "email", "doesn't look like an email address"),
        ({"email": "olivia@acme.test", "role": "member"}, "email", "already a member of this workspace"),
    ):
        response = post_form(as_olivia, PAGE, PAGE, data)
        assert response.status_code == 400
        assert message in field_error(response.text, field)
        assert roles(db, acme) == {"olivia@acme.test": "owner"}
        assert data.get("password", "") == "" or data["password"] not in response.text


def test_it_refuses_a_role_that_does_not_exist(as_olivia, db, acme, marco):
    response = post_form(as_olivia, PAGE, PAGE, {"email": "marco@acme.test", "role": "superuser"})
    assert response.status_code == 400
    assert field_error(response.text, "role") == "Pick a role: owner or member."
    assert "marco@acme.test" not in roles(db, acme)


def test_it_changes_a_members_role(as_olivia, db, acme, marco_in_acme):
    action = f"{PAGE}/{marco_in_acme.admin.id}/role"
    assert post_form(as_olivia, PAGE, action, {"role": "owner"}).status_code in (302, 303)
    assert roles(db, acme)["marco@acme.test"] == "owner"
    assert post_form(as_olivia, PAGE, action, {"role": "member"}).status_code in (302, 303)
    assert roles(db, acme)["marco@acme.test"] == "member"


def test_it_will_not_demote_or_remove_the_last_owner(as_olivia, db, acme, olivia):
    for action, data in (
        (f"{PAGE}/{olivia.admin.id}/role", {"role": "member"}),
        (f"{PAGE}/{olivia.admin.id}/remove", {}),
    ):
        response = post_form(as_olivia, PAGE, action, data)
        assert response.status_code == 400
        assert "A workspace needs at least one owner" in text_of(response.text)
    assert roles(db, acme) == {"olivia@acme.test": "owner"}


def test_it_removes_a_member(as_olivia, db, acme, marco_in_acme):
    response = post_form(as_olivia, PAGE, f"{PAGE}/{marco_in_acme.admin.id}/remove", {})
    assert response.headers["location"] == PAGE
    assert "marco@acme.test" not in roles(db, acme)


def test_it_sends_an_owner_who_removed_themselves_home(as_olivia, db, acme, olivia, marco_in_acme):
    post_form(as_olivia, PAGE, f"{PAGE}/{marco_in_acme.admin.id}/role", {"role": "owner"})
    response = post_form(as_olivia, PAGE, f"{PAGE}/{olivia.admin.id}/remove", {})
    assert response.headers["location"] == "/"
    assert as_olivia.get("/w/acme/overview").status_code == 404


def test_it_answers_404_for_someone_who_is_not_a_member(as_olivia, marco):
    response = post_form(as_olivia, PAGE, f"{PAGE}/{marco.admin.id}/role", {"role": "owner"})
    assert response.status_code == 404


def test_it_shows_a_member_the_list_without_the_controls(as_marco):
    html = as_marco.get(PAGE).text
    assert "marco@acme.test" in html
    assert "Add to workspace" not in html
    assert "/remove" not in html


def test_it_refuses_member_changes_from_a_member_with_a_403_page(as_marco, db, acme, olivia, marco_in_acme):
    for suffix, data in (
        ("", {"email": "friend@acme.test", "role": "owner", "password": "a-long-first-password"}),
        (f"/{olivia.admin.id}/role", {"role": "member"}),
        (f"/{marco_in_acme.admin.id}/role", {"role": "owner"}),
        (f"/{olivia.admin.id}/remove", {}),
    ):
        response = post_form(as_marco, PAGE, PAGE + suffix, data)
        assert response.status_code == 403, suffix
        assert "Only an owner of this workspace can do that." in text_of(response.text)
    assert roles(db, acme) == {"olivia@acme.test": "owner", "marco@acme.test": "member"}
