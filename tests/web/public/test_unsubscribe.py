"""The unsubscribe link in every email: a page that asks, a one-click POST that does it."""

from __future__ import annotations

from backstop.email import suppression
from backstop.email.kinds import KINDS
from backstop.email.messages import queue_email
from tests.builders import text_of


def link(db, settings, acme, to="sam@customer.test") -> str:
    queued = queue_email(
        db, settings, workspace_id=acme.id, kind="dunning_1", to_email=to, context=KINDS["dunning_1"].sample
    )
    url = db.execute("SELECT unsubscribe_url FROM email_messages WHERE id = ?", [queued.id]).fetchone()[0]
    return url.removeprefix(settings.public_url)


def test_opening_the_link_asks_first_and_changes_nothing(client, db, settings, acme):
    path = link(db, settings, acme)
    response = client.get(path)
    assert response.status_code == 200
    assert "Unsubscribe from Acme Analytics? Stop offers and reminders to sam@customer.test" in text_of(
        response.text
    )
    assert not suppression.state(db, acme.id, "sam@customer.test").unsubscribed


def test_the_button_unsubscribes_and_says_what_still_arrives(client, db, settings, acme):
    path = link(db, settings, acme)
    response = client.post(path)
    text = text_of(response.text)
    assert "You're unsubscribed" in text
    assert "Messages about a payment you owe (such as a declined card) still reach you" in text
    assert suppression.state(db, acme.id, "sam@customer.test").unsubscribed
    assert "You're unsubscribed" in text_of(client.get(path).text)


def test_mail_apps_one_click_post_needs_no_page_or_csrf_token(client, db, settings, acme):
    path = link(db, settings, acme)
    response = client.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert suppression.state(db, acme.id, "sam@customer.test").unsubscribed
    winback = queue_email(
        db,
        settings,
        workspace_id=acme.id,
        kind="winback",
        to_email="sam@customer.test",
        context=KINDS["winback"].sample,
    )
    assert winback.status == "suppressed"


def test_a_tampered_link_is_refused(client, db, settings, acme):
    path = link(db, settings, acme)
    token = path.rsplit("/", 1)[1]
    forged = suppression.unsubscribe_token("x" * 48, acme.id, "sam@customer.test")
    for bad in (f"/u/{token[:-2]}xx", f"/u/{forged}", "/u/nonsense"):
        response = client.post(bad)
        assert response.status_code == 404
        assert "This unsubscribe link isn't valid" in text_of(response.text)
    assert not suppression.state(db, acme.id, "sam@customer.test").unsubscribed


def test_the_page_wears_the_workspace_brand_and_a_strict_policy(client, db, settings, acme):
    from backstop.email.branding import save_branding

    save_branding(db, acme.id, {"brand_color": "#ff6600", "theme": "dark"})
    response = client.get(link(db, settings, acme))
    assert "--brand: #ff6600" in response.text
    assert 'content="dark"' in response.text
    assert "script-src" not in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
