"""GET /api/v1/campaigns and /api/v1/campaigns/{id} on campaigns the fake Stripe really opened."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from backstop.recovery import actions, campaigns
from backstop.recovery.campaigns import FailedInvoice
from backstop.workspaces.tokens import create_token
from backstop.workspaces.workspaces import create_workspace


@pytest.fixture
def client(stripe_settings, db) -> Iterator[TestClient]:
    from backstop.web.app import create_app

    with TestClient(app=create_app(stripe_settings, run_jobs=False), base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
def auth(db, connected, olivia) -> dict[str, str]:
    _, raw = create_token(db, connected.id, "billing backend", livemode=False, created_by=olivia.admin.id)
    return {"Authorization": f"Bearer {raw}"}


def fail(fake_stripe, loop, db, ws, email="dana@example.com", code="insufficient_funds"):
    story = fake_stripe.customer_with_declining_card(code, email=email)
    invoice = fake_stripe.renewal_fails(story.subscription["id"])
    loop.settle()
    return campaigns.by_invoice(db, ws.id, invoice["id"])


def test_it_lists_campaigns_newest_first_and_filters_by_status(
    client, db, fake_stripe, loop, connected, auth
):
    first = fail(fake_stripe, loop, db, connected, "ann@example.com")
    second = fail(fake_stripe, loop, db, connected, "bo@example.com", "expired_card")
    campaigns.close(db, first["id"], "abandoned", "Closed by test")
    body = client.get("/api/v1/campaigns", headers=auth).json()
    assert body["object"] == "list" and body["has_more"] is False
    assert [c["id"] for c in body["data"]] == [second["id"], first["id"]]
    newest = body["data"][0]
    assert newest["object"] == "campaign" and newest["status"] == "in_flight"
    assert (newest["decline_code"], newest["decline_class"]) == ("expired_card", "hard")
    assert newest["amount_due"] == 2000 and newest["currency"] == "usd"
    assert newest["customer_email"] == "bo@example.com" and isinstance(newest["opened_at"], int)
    assert newest["next_step"]["kind"] in ("retry", "dunning")
    abandoned = client.get("/api/v1/campaigns?status=abandoned", headers=auth).json()["data"]
    assert [(c["id"], c["close_reason"], c["next_step"]) for c in abandoned] == [
        (first["id"], "Closed by test", None)
    ]


def test_it_pages_with_a_cursor(client, db, fake_stripe, loop, connected, auth):
    ids = [fail(fake_stripe, loop, db, connected, f"c{i}@example.com")["id"] for i in range(3)]
    page1 = client.get("/api/v1/campaigns?limit=2", headers=auth).json()
    assert [c["id"] for c in page1["data"]] == ids[::-1][:2] and page1["has_more"] is True
    page2 = client.get(f"/api/v1/campaigns?limit=2&cursor={page1['next_cursor']}", headers=auth).json()
    assert [c["id"] for c in page2["data"]] == [ids[0]] and page2["next_cursor"] is None


@pytest.mark.parametrize("query", ["status=open", "status=", "limit=0", "cursor=nonsense"])
def test_it_refuses_a_bad_query_in_the_error_shape(client, connected, auth, query):
    response = client.get(f"/api/v1/campaigns?{query}", headers=auth)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_one_campaign_has_its_dunning_emails_and_payment_attempts(
    client, db, stripe_settings, fake_stripe, loop, connected, auth
):
    campaign = fail(fake_stripe, loop, db, connected)
    actions.retry_now(db, connected.id, campaign["id"], "olivia@acme.test")
    loop.settle()
    actions.resend_email(db, stripe_settings, connected.id, campaign["id"], "olivia@acme.test")
    body = client.get(f"/api/v1/campaigns/{campaign['id']}", headers=auth).json()
    assert body["id"] == campaign["id"] and body["invoice_id"] == campaign["invoice_id"]
    assert [(e["step"], e["resend"], e["to_email"]) for e in body["dunning_emails"]] == [
        (1, False, "dana@example.com"),
        (1, True, "dana@example.com"),
    ]
    assert body["dunning_emails"][0]["subject"]
    assert [
        (a["attempt_number"], a["trigger"], a["outcome"], a["decline_code"]) for a in body["payment_attempts"]
    ] == [(1, "admin", "declined", "insufficient_funds")]
    # The failed renewal plus the admin's retry: Stripe's attempt_count already includes the retry.
    assert body["attempts"] == 2
    assert fake_stripe.client().v1.invoices.retrieve(campaign["invoice_id"]).attempt_count == 2


def test_another_workspaces_campaign_is_404_and_never_listed(client, db, box, olivia, connected, auth):
    other, _ = create_workspace(db, box, "Zebra", olivia.admin, "zebra")
    theirs, _ = campaigns.open_campaign(
        db,
        other.id,
        FailedInvoice("in_z", "cus_z", "sub_z", 500, "eur", 1, "lost_card", None, "z@z.test", "Z"),
    )
    response = client.get(f"/api/v1/campaigns/{theirs['id']}", headers=auth)
    assert response.status_code == 404 and response.json()["error"]["type"] == "not_found"
    assert client.get("/api/v1/campaigns", headers=auth).json()["data"] == []
    assert client.get("/api/v1/campaigns/999999", headers=auth).status_code == 404


def test_the_document_describes_both_endpoints(client):
    document = client.get("/api/v1/openapi.json").json()
    listing = document["paths"]["/api/v1/campaigns"]["get"]
    assert listing["summary"] == "List recovery campaigns"
    assert {p["name"] for p in listing["parameters"]} == {"status", "limit", "cursor"}
    assert all(p["description"] for p in listing["parameters"])
    detail = document["paths"]["/api/v1/campaigns/{campaign_id}"]["get"]
    assert detail["summary"] == "Retrieve a recovery campaign"
    assert "campaign" in detail["responses"]["404"]["description"]
    assert "dunning_emails" in detail["description"] and "payment_attempts" in detail["description"]
