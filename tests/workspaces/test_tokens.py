"""API tokens: minted once, kept as SHA-256 only, revocable, and bound to one workspace."""

from __future__ import annotations

import hashlib

import pytest
import time_machine

from backstop.workspaces import tokens
from backstop.workspaces.errors import NotFound, ValidationError
from backstop.workspaces.workspaces import create_workspace


@pytest.fixture
def side(db, box, marco):
    """Marco's own workspace, next to Olivia's Acme."""
    workspace, _ = create_workspace(db, box, "Marco's Side Project", marco.admin, "side")
    return workspace


def test_it_mints_a_test_or_live_token_by_mode(db, acme):
    _, test_token = tokens.create_token(db, acme.id, "billing backend", livemode=False)
    _, live_token = tokens.create_token(db, acme.id, "billing backend", livemode=True)
    assert test_token.startswith("bk_test_") and len(test_token) > 40
    assert live_token.startswith("bk_live_")
    assert tokens.authenticate_token(db, live_token).livemode is True
    assert tokens.authenticate_token(db, test_token).livemode is False


def test_it_stores_only_the_sha256_of_the_token_and_a_short_prefix(db, acme, olivia):
    token_id, raw = tokens.create_token(db, acme.id, "billing backend", False, olivia.admin.id)
    row = dict(db.execute("SELECT * FROM api_tokens WHERE id = ?", [token_id]).fetchone())
    assert row["token_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    assert row["prefix"] == raw[:16]
    assert not any(isinstance(v, str) and raw in v for v in row.values())


def test_it_authenticates_a_token_as_its_workspace(db, acme):
    token_id, raw = tokens.create_token(db, acme.id, "billing backend", False)
    owner = tokens.authenticate_token(db, raw)
    assert owner == tokens.TokenOwner(token_id, acme.id, "acme", False)


def test_it_records_when_a_token_was_last_used(db, acme):
    _, raw = tokens.create_token(db, acme.id, "billing backend", False)
    assert tokens.list_tokens(db, acme.id)[0]["last_used_at"] is None
    with time_machine.travel("2026-07-01 08:30:00+00:00", tick=False):
        tokens.authenticate_token(db, raw)
    assert tokens.list_tokens(db, acme.id)[0]["last_used_at"] == "2026-07-01T08:30:00+00:00"


@pytest.mark.parametrize(
    "raw", ["", "bk_test_", "bk_test_not-a-token", "sk_test_123", "Bearer bk_test_x", "bk_live_" + "x" * 300]
)
def test_it_refuses_what_is_not_a_live_token(db, acme, raw):
    assert tokens.authenticate_token(db, raw) is None


def test_it_refuses_a_token_with_one_character_changed(db, acme):
    _, raw = tokens.create_token(db, acme.id, "billing backend", False)
    tampered = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    assert tokens.authenticate_token(db, tampered) is None


def test_it_stops_authenticating_a_revoked_token(db, acme):
    token_id, raw = tokens.create_token(db, acme.id, "billing backend", False)
    keep_id, kept = tokens.create_token(db, acme.id, "reporting", False)
    tokens.revoke_token(db, acme.id, token_id)
    assert tokens.authenticate_token(db, raw) is None
    assert tokens.authenticate_token(db, kept).token_id == keep_id


def test_it_revokes_twice_without_complaint_and_keeps_the_first_time(db, acme):
    token_id, _ = tokens.create_token(db, acme.id, "billing backend", False)
    with time_machine.travel("2026-07-01 08:30:00+00:00", tick=False):
        tokens.revoke_token(db, acme.id, token_id)
    tokens.revoke_token(db, acme.id, token_id)
    assert tokens.list_tokens(db, acme.id)[0]["revoked_at"] == "2026-07-01T08:30:00+00:00"


def test_it_will_not_revoke_another_workspaces_token(db, acme, side):
    token_id, raw = tokens.create_token(db, acme.id, "billing backend", False)
    with pytest.raises(NotFound):
        tokens.revoke_token(db, side.id, token_id)
    assert tokens.authenticate_token(db, raw).workspace_slug == "acme"


def test_it_keeps_each_workspaces_tokens_to_itself(db, acme, side):
    _, acme_raw = tokens.create_token(db, acme.id, "acme backend", False)
    _, side_raw = tokens.create_token(db, side.id, "side backend", False)
    assert tokens.authenticate_token(db, acme_raw).workspace_id == acme.id
    assert tokens.authenticate_token(db, side_raw).workspace_id == side.id
    assert [t["name"] for t in tokens.list_tokens(db, acme.id)] == ["acme backend"]
    assert [t["name"] for t in tokens.list_tokens(db, side.id)] == ["side backend"]


@pytest.mark.parametrize(("name", "words"), [("   ", "Name the token"), ("n" * 81, "under 80")])
def test_it_refuses_a_bad_token_name(db, acme, name, words):
    with pytest.raises(ValidationError) as caught:
        tokens.create_token(db, acme.id, name, False)
    assert words in caught.value.message
    assert caught.value.field == "name"


def test_it_lists_active_tokens_first_with_who_made_them(db, acme, olivia):
    with time_machine.travel("2026-07-01 08:00:00+00:00", tick=False) as traveller:
        old_id, _ = tokens.create_token(db, acme.id, "old", False, olivia.admin.id)
        traveller.shift(60)
        tokens.create_token(db, acme.id, "newer", False, olivia.admin.id)
        traveller.shift(60)
        tokens.create_token(db, acme.id, "newest", False)
        tokens.revoke_token(db, acme.id, old_id)
    listed = tokens.list_tokens(db, acme.id)
    assert [t["name"] for t in listed] == ["newest", "newer", "old"]
    assert [t["created_by"] for t in listed] == [None, "olivia@acme.test", "olivia@acme.test"]
    assert "token_hash" not in listed[0]


def test_it_refuses_control_characters_in_a_token_name(db, acme):
    with pytest.raises(ValidationError) as caught:
        tokens.create_token(db, acme.id, "billing\x00backend", False)
    assert caught.value.field == "name"
