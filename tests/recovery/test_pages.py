"""The Recovery pages: the campaign list and its filters, one campaign's timeline, the admin
actions, and that no workspace sees another's campaigns."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from litestar.testing import TestClient

from backstop import clock
from backstop.recovery import campaigns
from backstop.recovery.campaigns import FailedInvoice
from backstop.web.filters import day_label
from backstop.workspaces.workspaces import create_workspace, workspace_for
from tests.conftest import login, post_form


@pytest.fixture
def client(stripe_settings, db) -> Iterator[TestClient]:
    """The app with its jobs pointed at the fake Stripe, run inline."""
    from backstop.web.app import create_app

    with TestClient(app=create_app(stripe_settings, run_jobs=False), base_url="http://127.0.0.1") as c:
        yield c


def failed_renewal(fake_stripe, loop, db, ws, code="insufficient_funds", **kw) -> dict:
    story = fake_stripe.customer_with_declining_card(code, **kw)
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    return campaigns.by_invoice(db, ws.id, invoice["id"])


def rows_of(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip() for r in body.split("</tr>") if r.strip()]


def test_it_says_how_a_campaign_opens_when_there_is_none(client, olivia, connected):
    login(client, olivia)
    page = client.get("/w/acme/recovery")
    assert page.status_code == 200
    assert "No recovery campaigns yet" in page.text
    assert "when Stripe reports a failed renewal" in page.text


def test_it_lists_campaigns_with_amount_decline_meaning_and_next_action(
    client, olivia, db, fake_stripe, loop, connected
):
    failed_renewal(fake_stripe, loop, db, connected, unit_amount=4900)
    login(client, olivia)
    page = client.get("/w/acme/recovery")
    [row] = rows_of(page.text)
    assert "Dana Declined" in row and "$49.00" in row
    assert "insufficient_funds" in row and "soft" in row and "Not enough money" in row
    # Email 1 went out; email 2 is due at +3 days: a date, with the rounded day count on hover.
    due = day_label(clock.now() + timedelta(days=3))
    assert f"Send dunning email 2 of 4 on {due}" in row
    assert "in 3 days)" in page.text
    assert "In flight" in row
    assert re.search(r'title="\d{4}-\d\d-\d\d \d\d:\d\d UTC">just now', page.text)


def test_it_filters_by_status_with_counts(client, olivia, db, fake_stripe, loop, connected):
    first = failed_renewal(fake_stripe, loop, db, connected, email="ann@example.com", name="Ann Open")
    second = failed_renewal(fake_stripe, loop, db, connected, email="bo@example.com", name="Bo Gone")
    campaigns.close(db, second["id"], "abandoned", "Closed by test")
    login(client, olivia)
    page = client.get("/w/acme/recovery")
    assert re.search(r"In flight <span class=\"count\">1</span>", page.text)
    assert re.search(r"Abandoned <span class=\"count\">1</span>", page.text)
    in_flight = client.get("/w/acme/recovery?status=in_flight").text
    assert "Ann Open" in in_flight and "Bo Gone" not in in_flight
    abandoned = client.get("/w/acme/recovery?status=abandoned").text
    assert "Bo Gone" in abandoned and "Ann Open" not in abandoned
    assert "No lost campaigns" in client.get("/w/acme/recovery?status=lost").text
    assert first["id"] != second["id"]


def test_the_detail_shows_the_timeline_with_email_links_and_what_is_still_planned(
    client, olivia, db, fake_stripe, loop, connected
):
    campaign = failed_renewal(fake_stripe, loop, db, connected)
    message_id = db.execute("SELECT id FROM email_messages WHERE kind = 'dunning_1'").fetchone()[0]
    login(client, olivia)
    page = client.get(f"/w/acme/recovery/{campaign['id']}")
    assert page.status_code == 200
    assert "Campaign opened: the renewal was declined (insufficient_funds, soft)" in page.text
    assert "Took over collection" in page.text
    assert "Dunning email 1 of 4 queued" in page.text
    assert f'href="/w/acme/emails/{message_id}"' in page.text
    planned = page.text.split("Still planned", 1)[1]
    assert "Retry the charge" in planned and "Send dunning email 4 of 4" in planned
    assert "Give up and apply the end action" in planned


def test_retry_now_charges_through_stripe_and_records_the_attempt(
    client, olivia, db, fake_stripe, loop, connected
):
    campaign = failed_renewal(fake_stripe, loop, db, connected)
    login(client, olivia)
    url = f"/w/acme/recovery/{campaign['id']}"
    response = post_form(client, url, f"{url}/retry", {})
    assert response.status_code in (302, 303)
    pays = fake_stripe.requests.filter("POST", f"/v1/invoices/{campaign['invoice_id']}/pay")
    assert len(pays) == 1
    attempts = [dict(r) for r in db.execute("SELECT trigger, outcome, decline_code FROM payment_attempts")]
    assert attempts == [{"trigger": "admin", "outcome": "declined", "decline_code": "insufficient_funds"}]
    page = client.get(response.headers["location"])
    assert '2 <span class="muted small">(1 by Stripe, 1 by Backstop)</span>' in page.text
    assert "Retry asked for" in page.text
    assert "Retry asked for by olivia@acme.test" in page.text
    assert "Retry 1 (asked by an admin): declined (insufficient_funds)" in page.text


def test_resend_queues_the_latest_email_again(client, olivia, db, fake_stripe, loop, connected):
    campaign = failed_renewal(fake_stripe, loop, db, connected)
    login(client, olivia)
    url = f"/w/acme/recovery/{campaign['id']}"
    assert post_form(client, url, f"{url}/resend", {}).status_code in (302, 303)
    assert post_form(client, url, f"{url}/resend", {}).status_code in (302, 303)
    sent = [tuple(r) for r in db.execute("SELECT kind, to_email FROM email_messages ORDER BY id")]
    assert sent == [("dunning_1", "dana@example.com")] * 3
    page = client.get(url)
    assert page.text.count("queued again, asked by olivia@acme.test") == 2


def test_close_as_abandoned_stops_everything_and_says_who(client, olivia, db, fake_stripe, loop, connected):
    campaign = failed_renewal(fake_stripe, loop, db, connected)
    login(client, olivia)
    url = f"/w/acme/recovery/{campaign['id']}"
    assert post_form(client, url, f"{url}/close", {}).status_code in (302, 303)
    page = client.get(url)
    assert "Closed as abandoned: Closed by olivia@acme.test" in page.text
    assert campaigns.pending_steps(db, campaign["id"]) == []
    # Backstop had taken collection over; closing hands it back to Stripe and says so.
    assert campaign["took_over"] == 1
    invoice = fake_stripe.client().v1.invoices.retrieve(campaign["invoice_id"])
    assert invoice["auto_advance"] is True
    assert "Collection is back with Stripe" in client.get(url + "?done=closed-handed-back").text
    assert "Handed collection back to Stripe (asked by olivia@acme.test)" in page.text
    who = re.search(r"<dt>Who retries</dt><dd>(.*?)</dd>", page.text).group(1)
    assert who.startswith("Stripe") and "Backstop" not in who
    assert "Retry now" not in page.text
    again = post_form(client, url, f"{url}/retry", {})  # a stale tab
    assert again.status_code == 400 and "This campaign is closed" in again.text


def test_closing_twice_hands_back_once_with_one_idempotency_key(
    client, olivia, db, fake_stripe, loop, connected
):
    campaign = failed_renewal(fake_stripe, loop, db, connected)
    login(client, olivia)
    url = f"/w/acme/recovery/{campaign['id']}"
    assert post_form(client, url, f"{url}/close", {}).status_code in (302, 303)
    assert post_form(client, url, f"{url}/close", {}).status_code == 400
    updates = [
        r
        for r in fake_stripe.requests
        if r.method == "POST"
        and r.path == f"/v1/invoices/{campaign['invoice_id']}"
        and "auto_advance" in str(r.params)
    ]
    assert [str(r.params.get("auto_advance")) for r in updates] == ["false", "true"]
    assert updates[-1].idempotency_key == f"backstop-{campaign['id']}-handback"


def test_stripe_down_leaves_the_campaign_open_and_says_why(client, olivia, db, fake_stripe, loop, connected):
    campaign = failed_renewal(fake_stripe, loop, db, connected)
    login(client, olivia)
    url = f"/w/acme/recovery/{campaign['id']}"
    page = client.get(url)
    fake_stripe.faults.server_error(count=10)
    response = client.post(
        f"{url}/close",
        data={"_csrf_token": re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 400 and "Nothing was changed" in response.text
    assert campaigns.get(db, connected.id, campaign["id"])["status"] == "in_flight"


def test_members_can_act_but_a_post_without_csrf_is_refused(
    client, olivia, marco, db, box, fake_stripe, loop, connected
):
    from backstop.workspaces import workspaces as ws_domain

    campaign = failed_renewal(fake_stripe, loop, db, connected)
    ws_domain.add_member(db, workspace_for(db, olivia.admin, "acme"), marco.admin.email, "member", None)
    login(client, marco)
    url = f"/w/acme/recovery/{campaign['id']}"
    refused = client.post(f"{url}/close", data={}, follow_redirects=False)
    assert refused.status_code == 403
    assert campaigns.get(db, connected.id, campaign["id"])["status"] == "in_flight"
    assert post_form(client, url, f"{url}/close", {}).status_code in (302, 303)
    assert campaigns.get(db, connected.id, campaign["id"])["status"] == "abandoned"


def test_another_workspaces_campaign_is_not_found(client, olivia, db, box, fake_stripe, loop, connected):
    globex, _ = create_workspace(db, box, "Globex", olivia.admin, "globex")
    theirs, _ = campaigns.open_campaign(
        db,
        globex.id,
        FailedInvoice(
            "in_globex",
            "cus_g",
            "sub_g",
            9900,
            "usd",
            1,
            "expired_card",
            None,
            "gia@globex.test",
            "Gia Globex",
        ),
    )
    login(client, olivia)
    assert client.get(f"/w/acme/recovery/{theirs['id']}").status_code == 404
    assert "Gia Globex" not in client.get("/w/acme/recovery").text
    url = f"/w/acme/recovery/{theirs['id']}"
    forged = post_form(client, "/w/acme/recovery", f"{url}/close", {})
    assert forged.status_code == 404
    assert campaigns.get(db, globex.id, theirs["id"])["status"] == "in_flight"
    assert "Gia Globex" in client.get(f"/w/globex/recovery/{theirs['id']}").text


def test_retry_now_while_paused_waits_for_the_resume(client, olivia, db, fake_stripe, loop, connected):
    campaign = failed_renewal(fake_stripe, loop, db, connected)
    campaigns.set_paused(db, connected.id, True, by="olivia@acme.test")
    login(client, olivia)
    url = f"/w/acme/recovery/{campaign['id']}"
    response = post_form(client, url, f"{url}/retry", {})
    page = client.get(response.headers["location"]).text
    assert "Recovery is paused, so it runs as soon as you unpause" in page
    assert fake_stripe.requests.filter("POST", f"/v1/invoices/{campaign['invoice_id']}/pay") == []
    assert "Retry the charge (asked by an admin)" in page.split("Still planned", 1)[1]


def test_the_timeline_names_an_email_state_once():
    from backstop.recovery.queries import describe_event

    queued = describe_event({"kind": "email_queued", "detail": '{"step": 1, "status": "queued"}'})
    assert queued["text"] == "Dunning email 1 of 4 queued."
    held = describe_event({"kind": "email_queued", "detail": '{"step": 2, "status": "suppressed"}'})
    assert held["text"] == "Dunning email 2 of 4: not sent."


def test_a_campaign_whose_final_step_is_overdue_shows_it_as_overdue_with_the_reason(
    client, olivia, db, fake_stripe, loop, connected
):
    import time_machine

    from backstop import clock
    from backstop.recovery import pause

    campaign = failed_renewal(fake_stripe, loop, db, connected)
    url = f"/w/acme/recovery/{campaign['id']}"
    with time_machine.travel(clock.now() + timedelta(days=40), tick=False):  # no step ran meanwhile
        login(client, olivia)
        page = client.get(url).text
        overdue, planned = page.split('id="overdue-title">Overdue', 1)[1].split("Still planned", 1)
        assert "Give up and apply the end action" in overdue
        assert "Waiting for the background jobs, which run due steps every minute" in overdue
        assert "Give up and apply the end action" not in planned
        assert "every step left is overdue (above)" in planned
        pause.pause(db, connected.id, by="olivia@acme.test")
        page = client.get(url).text
        assert "Recovery is paused: it runs when you resume" in page.split("Still planned", 1)[0]
    pause.resume(db, connected.id)
    login(client, olivia)
    fresh = client.get(url).text  # today nothing is late yet
    assert 'id="overdue-title"' not in fresh and "Give up and apply the end action" in fresh
