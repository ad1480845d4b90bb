"""Settings → Outbound webhooks: add an endpoint (secret shown once), send a test, read the
delivery log, redeliver, replay a period, rotate, delete; members look but don't change; another
workspace's endpoint is a 404; a disabled endpoint puts a red banner on every page."""

# ruff: noqa: F401, F811 - fixtures imported from other test modules are used as parameters
from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest
import stripe
from litestar.testing import TestClient

from backstop import clock
from backstop.db import write_transaction
from backstop.webhooks_out import endpoints, events
from backstop.workspaces.workspaces import add_member, create_workspace
from tests.conftest import login, post_form
from tests.web.admin.conftest import field_error, text_of
from tests.webhooks_out.conftest import deliver_on_commit, receiver

PAGE = "/w/acme/settings/webhooks"


@pytest.fixture
def dev_client(settings, db, deliver_on_commit):
    from backstop.web.app import create_app

    app = create_app(dataclasses.replace(settings, webhooks_allow_private=True), run_jobs=False)
    with TestClient(app=app, base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
def as_olivia(dev_client, olivia, acme):
    login(dev_client, olivia)
    return dev_client


def add(client, url, *types, description=""):
    form = {"url": url, "description": description, "enabled": "on", **{f"event:{t}": "on" for t in types}}
    return post_form(client, PAGE, PAGE, form)


def secret_on(html: str) -> str:
    match = re.search(r'<code id="webhook-secret-value">(whsec_[^<]+)</code>', html)
    assert match, "no secret on the page"
    return match.group(1)


def test_the_empty_page_says_what_will_appear(as_olivia):
    text = text_of(as_olivia.get(PAGE).text)
    assert "No endpoints yet." in text
    assert "isn't built yet" not in text


def test_it_adds_an_endpoint_shows_the_secret_once_and_sends_a_test(as_olivia, db, acme, receiver):
    response = add(as_olivia, receiver.url, "recovery.opened", "winback.recorded", description="CRM sync")
    assert response.status_code in (302, 303)
    page = as_olivia.get(response.headers["location"])
    secret = secret_on(page.text)
    assert "you won't see it again" in text_of(page.text)
    assert secret not in as_olivia.get(response.headers["location"]).text  # once
    (endpoint,) = endpoints.list_endpoints(db, acme.id)
    assert endpoint.events == ["recovery.opened", "winback.recorded"] and endpoint.description == "CRM sync"

    detail = f"{PAGE}/{endpoint.public_id}"
    sent = post_form(as_olivia, detail, f"{detail}/test", {})
    assert sent.headers["location"] == f"{detail}?done=test"
    receiver.wait_for(1)
    got = receiver.requests[0]
    assert (
        stripe.Webhook.construct_event(got.body, got.headers["x-backstop-signature"], secret)["type"]
        == "ping"
    )
    log = as_olivia.get(detail).text
    text = text_of(log)
    assert "Delivered" in text and "Attempt 1" in text and "HTTP 200" in text
    assert "X-Backstop-Signature: t=" in text and "User-Agent: Backstop-Webhooks/1" in text
    assert "Enabled" in text_of(as_olivia.get(PAGE).text)


def test_the_delivery_log_escapes_what_the_receiver_answered(as_olivia, db, acme, receiver):
    add(as_olivia, receiver.url, "recovery.opened")
    (endpoint,) = endpoints.list_endpoints(db, acme.id)
    receiver.answer(500, b"<script>alert('x')</script>" + b"y" * 5000)
    detail = f"{PAGE}/{endpoint.public_id}"
    post_form(as_olivia, detail, f"{detail}/test", {})
    receiver.wait_for(1)
    html = as_olivia.get(detail).text
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(" in html
    assert "y" * 2020 in html and "y" * 2030 not in html  # the first 2 KB only
    assert "The endpoint answered HTTP 500." in text_of(html)


def test_it_refuses_an_internal_url_and_no_events_with_reasons(as_olivia, db, acme):
    from backstop.web.app import create_app

    # The development setting is on here, so metadata is what stays refused.
    response = add(as_olivia, "http://169.254.169.254/latest/", "recovery.opened")
    assert response.status_code == 400
    assert "cloud metadata" in field_error(response.text, "url")
    response = add(as_olivia, "https://example.com/hook")
    assert response.status_code == 400
    assert "Choose at least one event" in text_of(response.text)
    assert endpoints.list_endpoints(db, acme.id) == []


def test_plain_http_and_loopback_are_refused_without_the_development_setting(client, olivia, acme, db):
    login(client, olivia)
    response = add(client, "http://127.0.0.1:8080/hook", "recovery.opened")
    assert response.status_code == 400 and "must use https://" in field_error(response.text, "url")
    response = add(client, "https://127.0.0.1:8080/hook", "recovery.opened")
    assert response.status_code == 400 and "loopback" in field_error(response.text, "url")


def test_redeliver_and_replay_from_the_page(as_olivia, db, acme, receiver):
    add(as_olivia, receiver.url, "recovery.opened", "recovery.lost")
    (endpoint,) = endpoints.list_endpoints(db, acme.id)
    with write_transaction(db):
        first = events.record_event(db, acme.id, "recovery.opened", {"campaign_id": 1})
    with write_transaction(db):
        events.record_event(db, acme.id, "recovery.lost", {"campaign_id": 1})
    receiver.wait_for(2)
    detail = f"{PAGE}/{endpoint.public_id}"
    delivery_id = db.execute(
        "SELECT d.id FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id WHERE e.public_id = ?",
        [first],
    ).fetchone()[0]
    post_form(as_olivia, detail, f"{detail}/deliveries/{delivery_id}/redeliver", {})
    receiver.wait_for(3)
    assert receiver.requests[2].event["id"] == first
    now = clock.now()
    response = post_form(
        as_olivia,
        detail,
        f"{detail}/replay",
        {
            "since": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "until": (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.headers["location"].endswith("done=replay")
    receiver.wait_for(5)
    assert [r.event["type"] for r in receiver.requests[3:]] == ["recovery.opened", "recovery.lost"]
    bad = post_form(as_olivia, detail, f"{detail}/replay", {"since": "yesterday", "until": ""})
    assert bad.status_code == 400 and "Give the start of the period" in text_of(bad.text)
    assert "redelivery" in text_of(as_olivia.get(detail).text) and "replay" in text_of(
        as_olivia.get(detail).text
    )


def test_rotate_shows_the_new_secret_and_both_sign(as_olivia, db, acme, receiver):
    response = add(as_olivia, receiver.url, "recovery.opened")
    old = secret_on(as_olivia.get(response.headers["location"]).text)
    (endpoint,) = endpoints.list_endpoints(db, acme.id)
    detail = f"{PAGE}/{endpoint.public_id}"
    rotated = post_form(as_olivia, detail, f"{detail}/rotate", {})
    page = as_olivia.get(rotated.headers["location"]).text
    new = secret_on(page)
    assert new != old and "The previous secret also signs deliveries until" in text_of(page)
    post_form(as_olivia, detail, f"{detail}/test", {})
    receiver.wait_for(1)
    got = receiver.requests[0]
    for secret in (old, new):
        stripe.Webhook.construct_event(got.body, got.headers["x-backstop-signature"], secret)


def test_edit_and_delete(as_olivia, db, acme, receiver):
    add(as_olivia, receiver.url, "recovery.opened")
    (endpoint,) = endpoints.list_endpoints(db, acme.id)
    detail = f"{PAGE}/{endpoint.public_id}"
    saved = post_form(
        as_olivia, detail, detail, {"url": receiver.url, "description": "Slack", "event:cancel.saved": "on"}
    )
    assert saved.headers["location"] == f"{detail}?done=saved"
    fresh = endpoints.get_endpoint(db, acme.id, endpoint.public_id)
    assert fresh.events == ["cancel.saved"] and not fresh.enabled and fresh.description == "Slack"
    assert 'data-confirm="Delete this endpoint?' in as_olivia.get(detail).text
    gone = post_form(as_olivia, detail, f"{detail}/delete", {})
    assert gone.headers["location"] == PAGE
    assert endpoints.list_endpoints(db, acme.id) == []


def test_a_member_sees_endpoints_but_cannot_change_them(dev_client, db, box, acme, marco, receiver):
    with write_transaction(db):
        endpoint, _ = endpoints.create_endpoint(
            db, box, acme.id, url=receiver.url, events=["recovery.opened"], allow_private=True
        )
    add_member(db, acme, marco.admin.email, "member")
    login(dev_client, marco)
    assert receiver.url in dev_client.get(PAGE).text
    detail = f"{PAGE}/{endpoint.public_id}"
    assert post_form(dev_client, detail, f"{detail}/delete", {}).status_code == 403
    assert post_form(dev_client, detail, f"{detail}/rotate", {}).status_code == 403
    assert "Only an owner can add endpoints." in text_of(dev_client.get(PAGE).text)
    assert endpoints.get_endpoint(db, acme.id, endpoint.public_id) is not None


def test_another_workspaces_endpoint_is_a_404(as_olivia, db, box, olivia):
    zebra, _ = create_workspace(db, box, "Zebra", olivia.admin, "zebra")
    with write_transaction(db):
        theirs, _ = endpoints.create_endpoint(
            db, box, zebra.id, url="http://127.0.0.1:9/x", events=["recovery.opened"], allow_private=True
        )
    detail = f"{PAGE}/{theirs.public_id}"
    assert as_olivia.get(detail).status_code == 404
    page = as_olivia.get(PAGE).text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page).group(1)
    for action in ("test", "rotate", "delete"):
        answer = as_olivia.post(f"{detail}/{action}", data={"_csrf_token": token}, follow_redirects=False)
        assert answer.status_code == 404, action
    assert endpoints.get_endpoint(db, zebra.id, theirs.public_id) is not None


def test_a_disabled_endpoint_shows_a_red_banner_on_every_page(as_olivia, db, box, acme):
    with write_transaction(db):
        endpoint, _ = endpoints.create_endpoint(
            db, box, acme.id, url="http://127.0.0.1:9/x", events=["recovery.opened"], allow_private=True
        )
        db.execute(
            "UPDATE webhook_endpoints SET enabled = 0, disabled_at = ?, disabled_reason = 'Every delivery failed for 5 days.'",
            [clock.iso()],
        )
    html = as_olivia.get("/w/acme/overview").text
    assert 'class="banner banner-red"' in html
    assert "Backstop stopped sending webhooks to http://127.0.0.1:9/x" in text_of(html)
    assert f'href="{PAGE}/{endpoint.public_id}"' in html
    detail = text_of(as_olivia.get(f"{PAGE}/{endpoint.public_id}").text)
    assert "Backstop disabled this endpoint" in detail
