"""``/api/v1/webhook_endpoints``: create (secret once), list, update, rotate, test, delete, with
workspace isolation and the SSRF guard at save time."""

# ruff: noqa: F401, F811 - fixtures imported from other test modules are used as parameters
from __future__ import annotations

import dataclasses

import pytest
import stripe
from litestar.testing import TestClient

from backstop.webhooks_out import endpoints
from backstop.workspaces.tokens import create_token
from backstop.workspaces.workspaces import create_workspace
from tests.email.fixtures import dns_server
from tests.webhooks_out.conftest import deliver_on_commit, receiver

API = "/api/v1/webhook_endpoints"


@pytest.fixture
def dev_client(settings, db, deliver_on_commit):
    """The app with the development setting on, so a receiver on 127.0.0.1 can be registered."""
    from backstop.web.app import create_app

    app = create_app(dataclasses.replace(settings, webhooks_allow_private=True), run_jobs=False)
    with TestClient(app=app, base_url="http://127.0.0.1") as c:
        yield c


def create(client, auth, **body):
    return client.post(API, json={"events": ["recovery.opened"], **body}, headers=auth)


def test_it_creates_an_endpoint_and_shows_the_secret_only_then(dev_client, db, box, acme_auth, receiver):
    created = create(dev_client, acme_auth, url=receiver.url, description="CRM sync")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["id"].startswith("we_") and body["object"] == "webhook_endpoint"
    assert body["url"] == receiver.url and body["events"] == ["recovery.opened"]
    assert body["enabled"] is True and body["description"] == "CRM sync"
    listed = dev_client.get(API, headers=acme_auth).json()
    assert [e["id"] for e in listed["data"]] == [body["id"]]
    assert "secret" not in listed["data"][0]
    one = dev_client.get(f"{API}/{body['id']}", headers=acme_auth).json()
    assert "secret" not in one and one["url"] == receiver.url


def test_update_rotate_test_and_delete(dev_client, acme_auth, receiver):
    created = create(dev_client, acme_auth, url=receiver.url).json()
    path = f"{API}/{created['id']}"
    updated = dev_client.post(
        path, json={"enabled": False, "events": ["recovery.lost", "cancel.saved"]}, headers=acme_auth
    )
    assert updated.status_code == 200 and updated.json()["enabled"] is False
    assert updated.json()["events"] == ["cancel.saved", "recovery.lost"]
    rotated = dev_client.post(f"{path}/rotate_secret", headers=acme_auth).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    ping = dev_client.post(f"{path}/test", headers=acme_auth)
    assert ping.status_code == 202 and ping.json()["type"] == "ping"
    receiver.wait_for(1)  # a disabled endpoint still gets the test
    got = receiver.requests[0]
    header = got.headers["x-backstop-signature"]
    assert stripe.Webhook.construct_event(got.body, header, rotated["secret"])["id"] == ping.json()["id"]
    assert stripe.Webhook.construct_event(got.body, header, created["secret"])["type"] == "ping"
    deleted = dev_client.delete(path, headers=acme_auth)
    assert deleted.json() == {"object": "webhook_endpoint", "id": created["id"], "deleted": True}
    assert dev_client.get(path, headers=acme_auth).status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"url": "https://127.0.0.1/hook"}, "loopback"),
        ({"url": "https://169.254.169.254/latest"}, "cloud metadata"),
        ({"url": "https://[::1]/hook"}, "loopback"),
        ({"url": "http://example.com/hook"}, "must use https://"),
        ({"url": "https://example.com/hook", "events": []}, None),
        ({"url": "https://example.com/hook", "events": ["recovery.exploded"]}, None),
        ({"url": 5}, None),
    ],
)
def test_bad_input_is_a_400_with_a_reason(client, acme_auth, body, message):
    answer = client.post(API, json={"events": ["recovery.opened"], **body}, headers=acme_auth)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    if message:
        assert message in error["message"]


def test_a_name_resolving_to_a_private_address_is_refused_at_save(settings, db, acme_auth, dns_server):
    from backstop.web.app import create_app

    dns_server.a("hooks.sneaky.test", "10.0.0.1")
    app = create_app(dataclasses.replace(settings, dns_resolvers=(dns_server.address,)), run_jobs=False)
    with TestClient(app=app, base_url="http://127.0.0.1") as c:
        answer = create(c, acme_auth, url="https://hooks.sneaky.test/webhooks")
    assert answer.status_code == 400
    assert "10.0.0.1" in answer.json()["error"]["message"]
    assert db.execute("SELECT COUNT(*) FROM webhook_endpoints").fetchone()[0] == 0


def test_another_workspaces_endpoint_is_404_everywhere(dev_client, db, box, olivia, acme_auth, receiver):
    zebra, _ = create_workspace(db, box, "Zebra", olivia.admin, "zebra")
    _, zebra_token = create_token(db, zebra.id, "zebra backend", livemode=False)
    theirs = create(dev_client, {"Authorization": f"Bearer {zebra_token}"}, url=receiver.url).json()
    path = f"{API}/{theirs['id']}"
    assert dev_client.get(path, headers=acme_auth).status_code == 404
    assert dev_client.post(path, json={"enabled": False}, headers=acme_auth).status_code == 404
    assert dev_client.post(f"{path}/rotate_secret", headers=acme_auth).status_code == 404
    assert dev_client.post(f"{path}/test", headers=acme_auth).status_code == 404
    assert dev_client.delete(path, headers=acme_auth).status_code == 404
    assert dev_client.get(API, headers=acme_auth).json()["data"] == []
    assert endpoints.get_endpoint(db, zebra.id, theirs["id"]).enabled
    assert receiver.requests == []
