"""Settings → API tokens: a token is shown once, then only its prefix; owners mint and revoke."""

from __future__ import annotations

import re

from backstop.workspaces.tokens import authenticate_token, create_token, list_tokens
from backstop.workspaces.workspaces import create_workspace
from tests.builders import field_error, text_of
from tests.conftest import post_form

PAGE = "/w/acme/settings/api-tokens"


def minted(html: str) -> str:
    match = re.search(r'<code id="new-token-value">(bk_(?:test|live)_[A-Za-z0-9_-]+)</code>', html)
    assert match, "no new token on the page"
    return match.group(1)


def test_it_says_there_are_no_tokens_yet(as_olivia):
    assert "No tokens yet." in text_of(as_olivia.get(PAGE).text)


def test_it_shows_a_new_token_once_and_then_only_its_prefix(as_olivia, db, acme):
    response = post_form(as_olivia, PAGE, PAGE, {"name": "billing backend"})
    assert response.status_code in (302, 303)  # a reload of the page can't mint another
    response = as_olivia.get(response.headers["location"])
    raw = minted(response.text)
    assert raw.startswith("bk_test_")
    assert "you won't see it again" in text_of(response.text)
    assert authenticate_token(db, raw).workspace_slug == "acme"

    later = as_olivia.get(PAGE).text
    assert raw not in later
    assert f"{raw[:16]}…" in later
    assert "billing backend" in text_of(later)


def test_it_refuses_a_token_without_a_name(as_olivia, db, acme):
    response = post_form(as_olivia, PAGE, PAGE, {"name": "   "})
    assert response.status_code == 400
    assert "Name the token" in field_error(response.text, "name")
    assert list_tokens(db, acme.id) == []


def test_it_revokes_a_token_which_then_stops_working(as_olivia, db, acme, olivia):
    token_id, raw = create_token(db, acme.id, "billing backend", False, olivia.admin.id)
    response = post_form(as_olivia, PAGE, f"{PAGE}/{token_id}/revoke", {})
    assert response.headers["location"] == PAGE
    assert authenticate_token(db, raw) is None
    text = text_of(as_olivia.get(PAGE).text)
    assert "Revoked" in text


def test_it_will_not_revoke_a_token_of_another_workspace(as_olivia, db, box, marco):
    side, _ = create_workspace(db, box, "Side", marco.admin, "side")
    token_id, raw = create_token(db, side.id, "side backend", False)
    response = post_form(as_olivia, PAGE, f"{PAGE}/{token_id}/revoke", {})
    assert response.status_code == 404
    assert authenticate_token(db, raw) is not None


def test_it_never_lists_another_workspaces_tokens(as_olivia, db, box, marco):
    side, _ = create_workspace(db, box, "Side", marco.admin, "side")
    create_token(db, side.id, "side backend", False)
    assert "side backend" not in as_olivia.get(PAGE).text


def test_it_lets_a_member_see_tokens_but_not_mint_or_revoke_them(as_marco, db, acme, olivia):
    token_id, raw = create_token(db, acme.id, "billing backend", False, olivia.admin.id)
    html = as_marco.get(PAGE).text
    assert "billing backend" in text_of(html)
    assert "Only an owner can create or revoke tokens." in text_of(html)
    assert "Create token" not in html

    mint = post_form(as_marco, PAGE, PAGE, {"name": "marco's token"})
    assert mint.status_code == 403
    assert "Only an owner of this workspace can do that." in text_of(mint.text)
    revoke = post_form(as_marco, PAGE, f"{PAGE}/{token_id}/revoke", {})
    assert revoke.status_code == 403
    assert [t["name"] for t in list_tokens(db, acme.id)] == ["billing backend"]
    assert authenticate_token(db, raw) is not None
