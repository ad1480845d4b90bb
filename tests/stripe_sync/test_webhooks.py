"""POST /stripe/webhooks/{slug} and /stripe/webhooks: verify first, store once, process."""

import json
import time

from backstop.stripe_sync.signature import signature_header
from tests.stripe_sync.conftest import WHSEC, customer, deliver, make_event


def events_in(db):
    return [
        dict(r) for r in db.execute("SELECT event_id, type, outcome, source FROM stripe_events ORDER BY id")
    ]


def test_it_takes_in_a_signed_event_and_mirrors_the_customer(client, db, acme_connected):
    response = deliver(client, make_event("customer.created", customer()))
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    row = db.execute(
        "SELECT email, name FROM stripe_customers WHERE workspace_id = ? AND id = 'cus_ada'",
        [acme_connected.id],
    ).fetchone()
    assert dict(row) == {"email": "ada@example.com", "name": "Ada"}
    assert events_in(db)[0]["outcome"] == "processed"


def test_it_stores_a_duplicate_delivery_once(client, db, acme_connected):
    event = make_event("customer.created", customer())
    assert deliver(client, event).json()["duplicate"] is False
    again = deliver(client, event)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert len(events_in(db)) == 1


def test_it_stores_an_unknown_event_type_and_marks_it_ignored(client, db, acme_connected):
    deliver(
        client,
        make_event(
            "radar.early_fraud_warning.created", {"id": "issfr_1", "object": "radar.early_fraud_warning"}
        ),
    )
    assert events_in(db)[0]["outcome"] == "ignored"


def test_it_refuses_a_missing_signature_and_writes_nothing(client, db, acme_connected):
    event = make_event("customer.created", customer())
    response = client.post("/stripe/webhooks/acme", content=json.dumps(event).encode())
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The Stripe-Signature header is missing."
    assert events_in(db) == []


def test_it_refuses_a_garbled_signature(client, db, acme_connected):
    response = deliver(client, make_event("customer.created", customer()), header="t=nonsense")
    assert response.status_code == 400 and "not a number" in response.json()["error"]["message"]
    assert events_in(db) == []


def test_it_refuses_the_wrong_secret(client, db, acme_connected):
    response = deliver(client, make_event("customer.created", customer()), secret="whsec_somebody_else_123")
    assert response.status_code == 400 and "No signature matches" in response.json()["error"]["message"]
    assert events_in(db) == []


def test_it_refuses_a_stale_and_a_future_signature(client, db, acme_connected):
    raw = json.dumps(make_event("customer.created", customer())).encode()
    old = signature_header(WHSEC, raw, timestamp=int(time.time()) - 600)
    future = signature_header(WHSEC, raw, timestamp=int(time.time()) + 600)
    assert "seconds old" in deliver(client, {}, body=raw, header=old).json()["error"]["message"]
    assert "future" in deliver(client, {}, body=raw, header=future).json()["error"]["message"]
    assert events_in(db) == []


def test_it_refuses_a_signed_body_that_is_not_an_event(client, db, acme_connected):
    assert deliver(client, {}, body=b"not json").json()["error"]["message"] == "The body is not JSON."
    assert "not a Stripe event" in deliver(client, {}, body=b'{"hello": 1}').json()["error"]["message"]
    assert events_in(db) == []


def test_it_refuses_a_huge_body_before_reading_it(client, db, acme_connected):
    raw = b'{"pad": "' + b"x" * (600 * 1024) + b'"}'
    response = deliver(client, {}, body=raw)
    assert response.status_code == 413
    assert events_in(db) == []


def test_it_answers_404_for_an_unknown_workspace(client, db, acme_connected):
    response = deliver(client, make_event("customer.created", customer()), slug="nobody")
    assert response.status_code == 404 and "nobody" in response.json()["error"]["message"]


def test_it_explains_when_no_signing_secret_is_saved(client, db, acme):
    response = deliver(client, make_event("customer.created", customer()))
    assert response.status_code == 400 and "no webhook signing secret" in response.json()["error"]["message"]


def test_the_platform_endpoint_ignores_unknown_accounts_without_writing(client, db, acme_connected, settings):
    # The in-process client was built without platform settings: the endpoint says so.
    response = client.post("/stripe/webhooks", content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})
    assert (
        response.status_code == 404
        and "BACKSTOP_STRIPE_WEBHOOK_SECRET" in response.json()["error"]["message"]
    )


def platform_client(settings, db):
    from dataclasses import replace

    from litestar.testing import TestClient

    from backstop.web.app import create_app

    app = create_app(replace(settings, stripe_webhook_secret="whsec_platform_secret_123"), run_jobs=False)
    return TestClient(app=app, base_url="http://127.0.0.1")


def test_the_platform_endpoint_routes_by_connected_account(settings, db, acme):
    from backstop.stripe_sync import connection

    connection.save_oauth_connection(db, acme.id, "acct_acme", False, "read_write", polling=False)
    with platform_client(settings, db) as c:
        stranger = make_event("customer.created", customer("cus_x"), account="acct_stranger")
        known = make_event("customer.created", customer("cus_y"), account="acct_acme")
        r1 = deliver(c, stranger, secret="whsec_platform_secret_123", slug="")
        r2 = deliver(c, known, secret="whsec_platform_secret_123", slug="")
    assert r1.status_code == 200 and "acct_stranger" in r1.json()["ignored"]
    assert r2.status_code == 200 and r2.json()["duplicate"] is False
    rows = db.execute("SELECT workspace_id, event_id FROM stripe_events").fetchall()
    assert [tuple(r) for r in rows] == [(acme.id, known["id"])]
