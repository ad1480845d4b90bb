"""Workspaces: names and slugs, the encrypted embed secret, roles, and who can see what."""

from __future__ import annotations

import pytest
import time_machine

from backstop.lib.crypto import SecretBox
from backstop.workspaces import workspaces as ws
from backstop.workspaces.admins import authenticate
from backstop.workspaces.errors import NotFound, PermissionDenied, ValidationError


def validation_error(call, *args, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        call(*args, **kwargs)
    return caught.value


@pytest.fixture
def marco_member(db, acme, marco):
    """Marco added to Acme as a member; returns Acme as Marco sees it."""
    ws.add_member(db, acme, marco.admin.email, "member")
    return ws.workspace_for(db, marco.admin, "acme")


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Acme Analytics", "acme-analytics"),
        ("  Café   Crème ", "cafe-creme"),
        ("Über.io (beta)", "uber-io-beta"),
        ("!!!", "workspace"),
        ("A" * 60, "a" * 40),
    ],
)
def test_it_makes_the_slug_from_the_name(db, box, olivia, name, slug):
    created, _ = ws.create_workspace(db, box, name, olivia.admin)
    assert created.slug == slug
    assert created.name == " ".join(name.split())
    assert created.role == "owner"


@pytest.mark.parametrize("slug", ["Acme", "acme-2", "a", "9lives"])
def test_it_accepts_a_good_slug(db, box, olivia, slug):
    created, _ = ws.create_workspace(db, box, "Acme", olivia.admin, slug)
    assert created.slug == slug.lower()


@pytest.mark.parametrize("slug", ["-acme", "acme-", "ac me", "acme_co", "äcme", "a" * 41, "acme/x"])
def test_it_refuses_a_malformed_slug(db, box, olivia, slug):
    error = validation_error(ws.create_workspace, db, box, "Acme", olivia.admin, slug)
    assert error.field == "slug"
    assert "lowercase letters, digits and dashes" in error.message


@pytest.mark.parametrize("slug", sorted(ws.RESERVED_SLUGS))
def test_it_refuses_a_reserved_slug(db, box, olivia, slug):
    error = validation_error(ws.create_workspace, db, box, "Acme", olivia.admin, slug)
    assert error.message == f"“{slug}” is reserved; pick another slug."


def test_it_refuses_a_slug_that_is_taken(db, box, olivia, acme):
    error = validation_error(ws.create_workspace, db, box, "Acme again", olivia.admin, "acme")
    assert error.message == "The slug “acme” is taken; pick another."
    assert db.execute("SELECT COUNT(*) FROM workspaces").fetchone()[0] == 1


@pytest.mark.parametrize(("name", "words"), [("", "Give the workspace a name"), ("x" * 81, "under 80")])
def test_it_refuses_a_bad_name(db, box, olivia, name, words):
    error = validation_error(ws.create_workspace, db, box, name, olivia.admin)
    assert error.field == "name"
    assert words in error.message


def test_it_stores_the_embed_secret_only_encrypted(db, box, olivia):
    created, secret = ws.create_workspace(db, box, "Acme", olivia.admin, "acme")
    stored = db.execute("SELECT embed_secret_enc FROM workspaces").fetchone()[0]
    assert secret.startswith("es_") and len(secret) > 40
    assert secret not in stored
    assert ws.embed_secret(db, box, created.id) == secret


def test_it_cannot_read_the_embed_secret_with_another_key(db, acme):
    with pytest.raises(ValueError, match="BACKSTOP_SECRET_KEY changed"):
        ws.embed_secret(db, SecretBox("another-key-" * 4), acme.id)


def test_it_rotates_the_embed_secret(db, box, acme):
    before = ws.embed_secret(db, box, acme.id)
    with time_machine.travel("2026-06-01 12:00:00+00:00", tick=False):
        rotated = ws.rotate_embed_secret(db, box, acme)
    assert rotated != before
    assert ws.embed_secret(db, box, acme.id) == rotated
    row = db.execute("SELECT embed_secret_enc, embed_secret_rotated_at FROM workspaces").fetchone()
    assert rotated not in row[0]
    assert row[1] == "2026-06-01T12:00:00+00:00"


def test_it_renames_a_workspace_for_an_owner(db, acme):
    ws.rename_workspace(db, acme, "  Acme   Insights ")
    assert ws.get_workspace_by_slug(db, "acme")["name"] == "Acme Insights"


def test_it_refuses_an_empty_new_name(db, acme):
    error = validation_error(ws.rename_workspace, db, acme, "   ")
    assert error.field == "name"
    assert ws.get_workspace_by_slug(db, "acme")["name"] == "Acme Analytics"


def test_it_lets_a_member_do_none_of_the_owner_things(db, box, olivia, marco, marco_member):
    assert marco_member.role == "member"
    for action in (
        lambda: ws.rename_workspace(db, marco_member, "Marco's now"),
        lambda: ws.rotate_embed_secret(db, box, marco_member),
        lambda: ws.add_member(db, marco_member, "friend@acme.test", "owner", "a-long-first-password"),
        lambda: ws.change_role(db, marco_member, marco.admin.id, "owner"),
        lambda: ws.remove_member(db, marco_member, olivia.admin.id),
    ):
        with pytest.raises(PermissionDenied):
            action()
    assert ws.get_workspace_by_slug(db, "acme")["name"] == "Acme Analytics"
    assert len(ws.members(db, marco_member)) == 2


def test_it_adds_an_existing_admin_without_a_password(db, acme, marco):
    added = ws.add_member(db, acme, "MARCO@acme.test", "member")
    assert added == marco.admin
    assert {m["email"]: m["role"] for m in ws.members(db, acme)} == {
        "marco@acme.test": "member",
        "olivia@acme.test": "owner",
    }


def test_it_creates_the_account_of_someone_new_with_a_first_password(db, acme):
    ws.add_member(db, acme, "nina@acme.test", "owner", "nina-gets-a-long-password")
    nina = authenticate(db, "nina@acme.test", "nina-gets-a-long-password", "10.0.0.1")
    assert ws.workspace_for(db, nina, "acme").role == "owner"


def test_it_asks_for_a_first_password_for_someone_new(db, acme):
    error = validation_error(ws.add_member, db, acme, "nina@acme.test", "member")
    assert error.field == "password"
    assert "has no Backstop account yet" in error.message


def test_it_refuses_a_weak_first_password(db, acme):
    error = validation_error(ws.add_member, db, acme, "nina@acme.test", "member", "short")
    assert error.field == "password"
    assert db.execute("SELECT COUNT(*) FROM admins").fetchone()[0] == 1


def test_it_refuses_to_add_someone_twice(db, acme, marco):
    ws.add_member(db, acme, marco.admin.email, "member")
    error = validation_error(ws.add_member, db, acme, marco.admin.email, "owner")
    assert error.message == "marco@acme.test is already a member of this workspace."


def test_it_refuses_a_role_that_does_not_exist(db, acme, marco):
    assert validation_error(ws.add_member, db, acme, marco.admin.email, "admin").field == "role"
    ws.add_member(db, acme, marco.admin.email, "member")
    assert validation_error(ws.change_role, db, acme, marco.admin.id, "boss").field == "role"


def test_it_keeps_at_least_one_owner(db, acme, olivia):
    for action in (
        lambda: ws.change_role(db, acme, olivia.admin.id, "member"),
        lambda: ws.remove_member(db, acme, olivia.admin.id),
    ):
        error = validation_error(action)
        assert error.message == "A workspace needs at least one owner; make someone else owner first."
    assert ws.members(db, acme)[0]["role"] == "owner"


def test_it_lets_an_owner_step_down_once_there_is_another_owner(db, acme, olivia, marco):
    ws.add_member(db, acme, marco.admin.email, "member")
    ws.change_role(db, acme, marco.admin.id, "owner")
    ws.change_role(db, acme, olivia.admin.id, "member")
    assert ws.workspace_for(db, olivia.admin, "acme").role == "member"
    assert ws.workspace_for(db, marco.admin, "acme").role == "owner"


def test_it_removes_a_member_who_then_cannot_see_the_workspace(db, acme, marco):
    ws.add_member(db, acme, marco.admin.email, "member")
    ws.remove_member(db, acme, marco.admin.id)
    assert ws.workspaces_for(db, marco.admin) == []
    with pytest.raises(NotFound):
        ws.workspace_for(db, marco.admin, "acme")


def test_it_says_not_found_for_someone_who_is_not_a_member(db, acme, marco):
    with pytest.raises(NotFound):
        ws.change_role(db, acme, marco.admin.id, "owner")
    with pytest.raises(NotFound):
        ws.remove_member(db, acme, marco.admin.id)


def test_it_shows_each_admin_only_their_own_workspaces(db, box, acme, olivia, marco):
    ws.create_workspace(db, box, "Marco's Side Project", marco.admin, "side")
    assert [w.slug for w in ws.workspaces_for(db, olivia.admin)] == ["acme"]
    assert [w.slug for w in ws.workspaces_for(db, marco.admin)] == ["side"]
    with pytest.raises(NotFound):
        ws.workspace_for(db, marco.admin, "acme")
    with pytest.raises(NotFound):
        ws.workspace_for(db, olivia.admin, "side")
    with pytest.raises(NotFound):
        ws.workspace_for(db, olivia.admin, "does-not-exist")


def test_it_lists_workspaces_by_name(db, box, olivia):
    for name in ("zeta", "Alpha", "mid"):
        ws.create_workspace(db, box, name, olivia.admin)
    assert [w.name for w in ws.workspaces_for(db, olivia.admin)] == ["Alpha", "mid", "zeta"]


def test_it_ticks_and_unticks_the_embed_step_by_hand(db, acme, olivia):
    ws.set_embed_step_done(db, acme, True)
    assert ws.workspace_for(db, olivia.admin, "acme").embed_step_done_at is not None
    ws.set_embed_step_done(db, acme, False)
    assert ws.workspace_for(db, olivia.admin, "acme").embed_step_done_at is None


@pytest.mark.parametrize("name", ["Acme\x00Corp", "Acme\x1b[31m", "Acme\x7f"])
def test_it_refuses_control_characters_in_a_name(db, box, olivia, acme, name):
    assert validation_error(ws.create_workspace, db, box, name, olivia.admin).field == "name"
    assert validation_error(ws.rename_workspace, db, acme, name).field == "name"
    assert ws.get_workspace_by_slug(db, "acme")["name"] == "Acme Analytics"


def test_it_keeps_emoji_and_accents_in_a_name(db, box, olivia):
    created, _ = ws.create_workspace(db, box, "Café 👩‍💻", olivia.admin)
    assert created.name == "Café 👩‍💻"
    assert created.slug == "cafe"
