"""Settings → Embed: allowed origins (validated, clear refusals) and the framing headers they
produce on hosted pages."""

from __future__ import annotations

import pytest

from backstop.embed import origins
from backstop.web.public import framing
from backstop.workspaces.errors import ValidationError
from tests.builders import field_error, text_of
from tests.conftest import post_form

PAGE = "/w/acme/settings/embed"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://app.acme.test", "https://app.acme.test"),
        ("HTTPS://App.Acme.Test/", "https://app.acme.test"),
        ("https://app.acme.test:443", "https://app.acme.test"),
        ("https://app.acme.test:8443", "https://app.acme.test:8443"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://127.0.0.1:5173", "http://127.0.0.1:5173"),
    ],
)
def test_it_normalizes_an_origin(raw, expected):
    assert origins.normalize_origin(raw) == expected


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "Enter an origin"),
        ("app.acme.test", "Start the origin with https://"),
        ("http://app.acme.test", "only for localhost and 127.0.0.1"),
        ("https://app.acme.test/account", "remove the path"),
        ("https://*.acme.test", "Wildcards aren't allowed"),
        ("https://user:pw@app.acme.test", "no user name or password"),
        ("ftp://app.acme.test", "Only https://"),
        ("https://app.acme.test:99999", "port"),
        ("https://bad_host.acme.test", "isn't a valid host name"),
        ("https://intranet", "isn't a valid host name"),
    ],
)
def test_it_refuses_what_is_not_an_origin_and_says_why(raw, says):
    with pytest.raises(ValidationError) as caught:
        origins.normalize_origin(raw)
    assert says in caught.value.message


def test_it_adds_and_lists_origins_from_the_settings_page(as_olivia, db, acme):
    response = post_form(as_olivia, PAGE, PAGE + "/origins", {"origin": "https://App.Acme.test/"})
    assert response.status_code in (302, 303)
    page = as_olivia.get(PAGE)
    assert "https://app.acme.test" in text_of(page.text)
    assert "Origin added" in text_of(as_olivia.get(PAGE + "?done=added").text)
    assert origins.list_origins(db, acme.id) == ["https://app.acme.test"]


def test_a_refused_origin_is_a_400_with_the_reason_and_stores_nothing(as_olivia, db, acme):
    response = post_form(as_olivia, PAGE, PAGE + "/origins", {"origin": "http://app.acme.test"})
    assert response.status_code == 400
    assert "only for localhost" in field_error(response.text, "origin")
    assert origins.list_origins(db, acme.id) == []


def test_a_duplicate_origin_is_refused(as_olivia, db, acme):
    origins.add_origin(db, acme.id, "https://app.acme.test")
    response = post_form(as_olivia, PAGE, PAGE + "/origins", {"origin": "https://app.acme.test"})
    assert response.status_code == 400
    assert "already on the list" in field_error(response.text, "origin")


def test_removing_an_origin(as_olivia, db, acme):
    origins.add_origin(db, acme.id, "https://app.acme.test")
    response = post_form(as_olivia, PAGE, PAGE + "/origins/remove", {"origin": "https://app.acme.test"})
    assert response.status_code in (302, 303)
    assert origins.list_origins(db, acme.id) == []
    assert "No origins yet" in text_of(as_olivia.get(PAGE).text)


def test_a_member_sees_the_origins_but_cannot_change_them(as_marco, db, acme):
    origins.add_origin(db, acme.id, "https://app.acme.test")
    page = as_marco.get(PAGE)
    assert "Only an owner can change the allowed origins" in text_of(page.text)
    response = post_form(as_marco, PAGE, PAGE + "/origins", {"origin": "https://other.acme.test"})
    assert response.status_code == 403
    assert origins.list_origins(db, acme.id) == ["https://app.acme.test"]


def test_wall_settings_are_saved_and_validated(as_olivia, db, acme):
    response = post_form(as_olivia, PAGE, PAGE + "/wall", {"wall_mode": "blocking", "wall_grace_days": "3"})
    assert response.status_code in (302, 303)
    saved = origins.get_settings(db, acme.id)
    assert (saved.wall_mode, saved.wall_grace_days) == ("blocking", 3)
    response = post_form(as_olivia, PAGE, PAGE + "/wall", {"wall_mode": "blocking", "wall_grace_days": "90"})
    assert response.status_code == 400
    assert "0 to 60" in field_error(response.text, "wall_grace_days")
    assert origins.get_settings(db, acme.id).wall_grace_days == 3


def test_frame_headers_deny_without_origins_and_list_them_otherwise(db, acme):
    denied = framing.frame_headers(db, acme.id)
    assert denied["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in denied["Content-Security-Policy"]
    origins.add_origin(db, acme.id, "https://app.acme.test")
    origins.add_origin(db, acme.id, "http://localhost:3000")
    allowed = framing.frame_headers(db, acme.id)
    assert "X-Frame-Options" not in allowed
    directive = allowed["Content-Security-Policy"].rsplit("; ", 1)[1]
    assert sorted(directive.split()) == ["frame-ancestors", "http://localhost:3000", "https://app.acme.test"]
    assert framing.frame_headers(db, None)["X-Frame-Options"] == "DENY"


def test_parent_origin_is_only_an_origin_the_workspace_lists(db, acme):
    origins.add_origin(db, acme.id, "https://app.acme.test")
    assert framing.parent_origin(db, acme.id, "https://app.acme.test") == "https://app.acme.test"
    assert framing.parent_origin(db, acme.id, "https://evil.test") is None
    assert framing.parent_origin(db, acme.id, "javascript:alert(1)") is None
    assert framing.parent_origin(db, None, "https://app.acme.test") is None


def test_admin_pages_keep_deny_and_a_page_owning_its_framing_gets_no_x_frame_options():
    headers: dict[str, str] = {}
    framing.apply_defaults(
        headers, {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}
    )
    assert headers["X-Frame-Options"] == "DENY"
    owned = {"Content-Security-Policy": "default-src 'none'; frame-ancestors https://app.acme.test"}
    framing.apply_defaults(owned, {"X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"})
    assert "X-Frame-Options" not in owned and owned["Referrer-Policy"] == "same-origin"


def test_the_settings_page_itself_cannot_be_framed(as_olivia):
    response = as_olivia.get(PAGE)
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
