"""Settings → Notifications: the weekly summary is off until an owner turns it on."""

from __future__ import annotations

from backstop.reporting import weekly
from backstop.workspaces.workspaces import create_workspace
from tests.builders import text_of
from tests.conftest import csrf_from, login, post_form

PAGE = "/w/acme/settings/notifications"


def test_it_shows_the_summary_off_by_default(as_olivia, db, acme):
    page = as_olivia.get(PAGE)
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Weekly summary" in text and "Off until an owner turns it on." in text
    assert "Goes to olivia@acme.test." in text
    assert 'name="weekly_summary" value="1">' in page.text  # unchecked
    assert 'href="/w/acme/settings/notifications" aria-current="page"' in page.text


def test_an_owner_turns_it_on_and_off(as_olivia, db, acme):
    response = post_form(as_olivia, PAGE, PAGE, {"weekly_summary": "1"})
    assert response.status_code in (302, 303)
    assert weekly.is_enabled(db, acme.id)
    page = as_olivia.get(response.headers["location"])
    assert "The weekly summary is on" in text_of(page.text)
    assert "Next one: Monday" in text_of(page.text)
    post_form(as_olivia, PAGE, PAGE, {})
    assert not weekly.is_enabled(db, acme.id)


def test_a_member_cannot_change_it(as_marco, db, acme):
    page = as_marco.get(PAGE)
    assert "Only an owner can change notifications." in text_of(page.text)
    response = as_marco.post(PAGE, data={"_csrf_token": csrf_from(page.text), "weekly_summary": "1"})
    assert response.status_code == 403
    assert not weekly.is_enabled(db, acme.id)


def test_it_needs_the_csrf_token(as_olivia, db, acme):
    assert as_olivia.post(PAGE, data={"weekly_summary": "1"}).status_code == 403
    assert not weekly.is_enabled(db, acme.id)


def test_the_preview_renders_last_weeks_summary(as_olivia):
    preview = as_olivia.get(PAGE + "/preview")
    assert preview.status_code == 200
    text = text_of(preview.text)
    assert "Your week with Backstop" in text and "No failed payment was recovered." in text
    assert "None" not in text


def test_another_workspace_is_a_404(client, db, box, acme, marco):
    create_workspace(db, box, "Bolt Bikes", marco.admin, "bolt")
    login(client, marco)
    page = client.get("/w/bolt/settings/notifications")
    assert client.get(PAGE).status_code == 404
    assert (
        client.post(PAGE, data={"_csrf_token": csrf_from(page.text), "weekly_summary": "1"}).status_code
        == 404
    )
    assert client.get(PAGE + "/preview").status_code == 404
