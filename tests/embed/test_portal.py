"""The customer portal: a signed token (or an emailed link) opens a session page with the plan,
the next invoice, the card, invoices; Resume calls Stripe once; Cancel enters the cancel flow."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from backstop import clock
from backstop.db import one
from backstop.embed import origins, portal
from tests.cancel_flows.stories import mirror_objects, sign, subscriber
from tests.embed.conftest import form_token_of, words


def open_portal(web, secret, sam, query: str = ""):
    token = sign(secret, sub=sam.customer["id"])
    first = web.get(f"/portal/{token}{query}", follow_redirects=False)
    assert first.status_code == 303, first.text
    location = first.headers["location"]
    assert location.startswith("/portal/s/")
    return location, web.get(location)


def test_the_portal_shows_plan_next_invoice_card_and_invoices(web, db, secret, connected, fake_stripe):
    sam = subscriber(db, connected.id, fake_stripe)
    invoice = fake_stripe.get(sam.subscription["latest_invoice"])
    mirror_objects(
        db,
        connected.id,
        fake_stripe,
        invoice["id"],
        fake_stripe.get(sam.customer["id"])["invoice_settings"]["default_payment_method"],
    )
    _, page = open_portal(web, secret, sam)
    assert page.status_code == 200
    text = words(page.text)
    assert "Team" in text and "$30.00 / month" in text and "Active" in text
    sub = fake_stripe.get(sam.subscription["id"])
    end = sub["items"]["data"][0]["current_period_end"]
    from backstop.web.filters import day

    assert f"Next invoice $30.00 on {day(end)}" in text
    assert "ending in 4242" in text
    assert invoice["hosted_invoice_url"] in page.text and invoice["invoice_pdf"] in page.text
    assert "Cancel subscription" in text and "Keep my subscription" not in text
    for missing in ("None", "null", "undefined"):
        assert missing not in text
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"


def test_a_customer_without_card_or_invoices_sees_no_missing_values(web, db, secret, connected, fake_stripe):
    cus = fake_stripe.create_customer(email="nia@example.com", name="Nia")
    mirror_objects(db, connected.id, fake_stripe, cus["id"])
    token = sign(secret, sub=cus["id"])
    page = web.get(f"/portal/{token}")
    text = words(page.text)
    assert page.status_code == 200
    assert "You don't have a subscription with Acme Analytics right now." in text
    assert "No card on file" in text and "No invoices yet." in text
    assert "None" not in text and "Update card" not in text and "Cancel subscription" not in text


def test_a_token_is_used_once_and_refusals_say_so(web, db, secret, connected, fake_stripe):
    sam = subscriber(db, connected.id, fake_stripe)
    token = sign(secret, sub=sam.customer["id"])
    assert web.get(f"/portal/{token}", follow_redirects=False).status_code == 303
    again = web.get(f"/portal/{token}")
    assert again.status_code == 410 and "can't be opened again" in words(again.text)
    assert 'data-backstop-message="Backstop refused the token: reused"' in again.text
    forged = sign("not-the-secret-" * 3, sub=sam.customer["id"])
    bad = web.get(f"/portal/{forged}")
    assert bad.status_code == 401 and "bad_signature" in bad.text
    before = one(db, "SELECT COUNT(*) AS n FROM hosted_sessions")["n"]
    assert web.get("/portal/not-a-jwt").status_code == 401
    assert one(db, "SELECT COUNT(*) AS n FROM hosted_sessions")["n"] == before
    assert web.get("/portal/s/unknown-key").status_code == 404


def test_a_session_times_out(web, db, secret, connected, fake_stripe):
    sam = subscriber(db, connected.id, fake_stripe)
    location, _ = open_portal(web, secret, sam)
    with time_machine.travel(clock.now() + timedelta(hours=3)):
        page = web.get(location)
    assert page.status_code == 410 and "This page has timed out" in words(page.text)


def test_resume_undoes_a_scheduled_cancellation_once(web, db, secret, connected, fake_stripe, loop):
    sam = subscriber(db, connected.id, fake_stripe)
    loop.gateway(connected.id).post(
        f"/v1/subscriptions/{sam.subscription['id']}", {"cancel_at_period_end": "true"}
    )
    mirror_objects(db, connected.id, fake_stripe, sam.subscription["id"])
    location, page = open_portal(web, secret, sam)
    assert "Ends on" in words(page.text) and "Keep my subscription" in words(page.text)
    assert "Cancel subscription" not in words(page.text)
    token = form_token_of(page.text)
    done = web.post(f"{location}/resume", data={"form_token": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("?done=resumed")
    assert fake_stripe.get(sam.subscription["id"])["cancel_at_period_end"] is False
    calls = fake_stripe.requests.filter("POST", f"/v1/subscriptions/{sam.subscription['id']}")
    assert calls[-1].idempotency_key.startswith(f"backstop-portal-resumed-{sam.subscription['id']}-")
    after = web.get(done.headers["location"])
    assert "no longer set to end" in words(after.text) and "Active" in words(after.text)
    twice = web.post(f"{location}/resume", data={"form_token": token})
    assert twice.status_code == 409 and "nothing to resume" in words(twice.text)


def test_resume_unpauses_a_paused_subscription(web, db, secret, connected, fake_stripe, loop):
    sam = subscriber(db, connected.id, fake_stripe)
    loop.gateway(connected.id).post(
        f"/v1/subscriptions/{sam.subscription['id']}", {"pause_collection": {"behavior": "void"}}
    )
    mirror_objects(db, connected.id, fake_stripe, sam.subscription["id"])
    location, page = open_portal(web, secret, sam)
    assert "Payments paused" in words(page.text) and "Resume payments" in words(page.text)
    done = web.post(
        f"{location}/resume", data={"form_token": form_token_of(page.text)}, follow_redirects=False
    )
    assert done.headers["location"].endswith("?done=unpaused")
    assert fake_stripe.get(sam.subscription["id"])["pause_collection"] is None


def test_a_post_without_the_pages_form_token_changes_nothing(web, db, secret, connected, fake_stripe, loop):
    sam = subscriber(db, connected.id, fake_stripe)
    loop.gateway(connected.id).post(
        f"/v1/subscriptions/{sam.subscription['id']}", {"cancel_at_period_end": "true"}
    )
    mirror_objects(db, connected.id, fake_stripe, sam.subscription["id"])
    location, _ = open_portal(web, secret, sam)
    refused = web.post(f"{location}/resume", data={"form_token": "guess"})
    assert refused.status_code == 400 and "nothing was changed" in words(refused.text)
    assert fake_stripe.get(sam.subscription["id"])["cancel_at_period_end"] is True


def test_cancel_enters_the_cancel_flow_for_this_subscription(web, db, secret, connected, fake_stripe):
    sam = subscriber(db, connected.id, fake_stripe)
    location, page = open_portal(web, secret, sam)
    going = web.post(
        f"{location}/cancel", data={"form_token": form_token_of(page.text)}, follow_redirects=False
    )
    assert going.status_code == 303 and going.headers["location"].startswith("/cancel/s/")
    session = one(db, "SELECT * FROM cancel_sessions ORDER BY id DESC LIMIT 1")
    assert (session["source"], session["subscription_id"]) == ("portal", sam.subscription["id"])
    assert session["return_url"].endswith(location)


def test_update_card_hands_over_to_the_card_page(web, db, secret, connected, fake_stripe):
    sam = subscriber(db, connected.id, fake_stripe)
    location, _ = open_portal(web, secret, sam)
    to_card = web.get(f"{location}/card", follow_redirects=False)
    assert to_card.status_code == 303 and to_card.headers["location"].startswith("/card/")


def test_in_a_modal_on_an_allowed_origin_the_page_talks_to_its_parent(
    web, db, secret, connected, fake_stripe
):
    origins.add_origin(db, connected.id, "http://localhost:3000")
    sam = subscriber(db, connected.id, fake_stripe)
    location, page = open_portal(web, secret, sam, "?embed=1&origin=http%3A%2F%2Flocalhost%3A3000")
    assert "embed=1" in location
    assert '<meta name="backstop-parent" content="http://localhost:3000">' in page.text
    assert "x-frame-options" not in page.headers
    assert page.headers["content-security-policy"].endswith("frame-ancestors http://localhost:3000")
    assert (
        'href="/portal/s/' in page.text
        and "/card?embed=1&amp;origin=http%3A%2F%2Flocalhost%3A3000" in page.text
    )
    _, elsewhere = open_portal(web, secret, sam, "?embed=1&origin=https%3A%2F%2Fevil.test")
    assert "backstop-parent" not in elsewhere.text


def test_an_emailed_link_opens_the_portal_until_it_expires(web, db, page_settings, connected, fake_stripe):
    sam = subscriber(db, connected.id, fake_stripe)
    link = portal.email_link_token(
        page_settings.secret_key, connected.id, sam.customer["id"], sam.subscription["id"]
    )
    opened = web.get(f"/portal/e/{link}", follow_redirects=False)
    assert opened.status_code == 303 and "Team" in words(web.get(opened.headers["location"]).text)
    assert (
        web.get(f"/portal/e/{link}", follow_redirects=False).status_code == 303
    )  # reusable until it expires
    with time_machine.travel(clock.now() + timedelta(days=15)):
        late = web.get(f"/portal/e/{link}")
    assert late.status_code == 410
    assert web.get(f"/portal/e/{link[:-4]}abcd").status_code == 404
