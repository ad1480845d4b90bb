"""New workspace, switching between workspaces, and Settings → General (rename, embed secret)."""

from __future__ import annotations

import re

from backstop.lib.crypto import SecretBox
from backstop.workspaces.workspaces import embed_secret, workspace_for, workspaces_for
from tests.builders import field_error, text_of
from tests.conftest import post_form


def test_it_creates_a_workspace_and_opens_its_overview(as_olivia, db, olivia):
    response = post_form(as_olivia, "/workspaces/new", "/workspaces/new", {"name": "Zebra Labs", "slug": ""})
    assert response.headers["location"] == "/w/zebra-labs/overview"
    assert workspace_for(db, olivia.admin, "zebra-labs").role == "owner"
    assert "Zebra Labs" in text_of(as_olivia.get("/w/zebra-labs/overview").text)


def test_it_explains_why_a_workspace_cannot_be_created(as_olivia, db, olivia):
    for data, field, message in (
        ({"name": "Acme again", "slug": "acme"}, "slug", "The slug “acme” is taken; pick another."),
        ({"name": "Acme", "slug": "Not OK!"}, "slug", "lowercase letters, digits and dashes"),
        ({"name": "Acme", "slug": "settings"}, "slug", "“settings” is reserved; pick another slug."),
        ({"name": "", "slug": ""}, "name", "Give the workspace a name"),
    ):
        response = post_form(as_olivia, "/workspaces/new", "/workspaces/new", data)
        assert response.status_code == 400, data
        assert message in field_error(response.text, field)
    assert len(workspaces_for(db, olivia.admin)) == 1


def test_it_lists_every_workspace_of_the_admin_in_the_switcher(as_olivia, db, box, olivia, marco):
    from backstop.workspaces.workspaces import create_workspace

    create_workspace(db, box, "Zebra Labs", olivia.admin, "zebra")
    create_workspace(db, box, "Marco's Side Project", marco.admin, "side")
    html = as_olivia.get("/w/acme/overview").text
    assert 'href="/w/zebra/overview"' in html
    assert 'href="/w/acme/overview"' in html
    assert "/w/side/" not in html and "Marco&#39;s Side Project" not in html


def test_it_renames_the_workspace(as_olivia, db, olivia):
    response = post_form(as_olivia, "/w/acme/settings", "/w/acme/settings/rename", {"name": "Acme Insights"})
    assert response.status_code in (302, 303)
    assert workspace_for(db, olivia.admin, "acme").name == "Acme Insights"
    assert "Acme Insights" in text_of(as_olivia.get("/w/acme/overview").text)


def test_it_refuses_an_empty_name_next_to_the_field(as_olivia, db, olivia):
    response = post_form(as_olivia, "/w/acme/settings", "/w/acme/settings/rename", {"name": "  "})
    assert response.status_code == 400
    assert "Give the workspace a name" in field_error(response.text, "name")
    assert workspace_for(db, olivia.admin, "acme").name == "Acme Analytics"


def shown_secret(html: str) -> str:
    match = re.search(r'<code id="embed-secret-value">([^<]+)</code>', html)
    assert match, "no embed secret on the page"
    return match.group(1)


def test_it_shows_the_owner_the_embed_secret(as_olivia, db, box, acme):
    html = as_olivia.get("/w/acme/settings").text
    assert shown_secret(html) == embed_secret(db, box, acme.id)


def test_it_rotates_the_embed_secret_and_shows_the_new_one(as_olivia, db, box, acme):
    before = embed_secret(db, box, acme.id)
    response = post_form(as_olivia, "/w/acme/settings", "/w/acme/settings/rotate-embed-secret", {})
    assert response.status_code in (302, 303)  # a reload can't rotate it again
    response = as_olivia.get(response.headers["location"])
    new = shown_secret(response.text)
    assert new != before
    assert new == embed_secret(db, box, acme.id)
    text = text_of(response.text)
    assert "New embed secret" in text
    assert "update your backend now" in text
    assert "New embed secret" not in text_of(as_olivia.get("/w/acme/settings").text)


def test_it_hides_the_embed_secret_from_a_member(as_marco, db, box, acme):
    html = as_marco.get("/w/acme/settings").text
    assert embed_secret(db, box, acme.id) not in html
    assert "Only an owner can see or rotate the embed secret." in text_of(html)
    assert "Rotate embed secret" not in html


def test_it_refuses_owner_actions_to_a_member_with_a_403_page(as_marco, db, box, acme):
    before = embed_secret(db, box, acme.id)
    for action, data in (
        ("/w/acme/settings/rename", {"name": "Marco's now"}),
        ("/w/acme/settings/rotate-embed-secret", {}),
    ):
        response = post_form(as_marco, "/w/acme/settings", action, data)
        assert response.status_code == 403, action
        assert "Only an owner of this workspace can do that." in text_of(response.text)
    assert embed_secret(db, box, acme.id) == before
    assert db.execute("SELECT name FROM workspaces").fetchone()[0] == "Acme Analytics"


def test_it_offers_a_fresh_embed_secret_when_the_old_one_cannot_be_read(as_olivia, db, box, acme):
    # What a lost or changed BACKSTOP_SECRET_KEY leaves behind: a secret no key here can open.
    other = SecretBox("a-different-instance-secret-key-0123456789")
    db.execute("UPDATE workspaces SET embed_secret_enc = ?", [other.encrypt("es_old")])
    page = as_olivia.get("/w/acme/settings")
    assert page.status_code == 200
    assert "can't be read" in text_of(page.text)
    assert "Rotate embed secret" in page.text
    rotated = post_form(as_olivia, "/w/acme/settings", "/w/acme/settings/rotate-embed-secret", {})
    rotated = as_olivia.get(rotated.headers["location"])
    assert shown_secret(rotated.text) == embed_secret(db, box, acme.id)
