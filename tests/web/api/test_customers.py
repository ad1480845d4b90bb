"""GET /api/v1/customers and GET /api/v1/customers/{id}: what a billing backend reads."""

from __future__ import annotations

import pytest

from backstop.stripe_sync.mirror import apply_object
from backstop.web.api.pagination import encode_cursor
from backstop.workspaces.tokens import create_token
from backstop.workspaces.workspaces import create_workspace
from tests.builders import (
    VERSION,
    put,
    put_customer_campaign,
    put_customer_with_plan,
    stripe_card,
    stripe_customer,
    stripe_price,
    stripe_product,
    stripe_subscription,
)


@pytest.fixture
def zebra(db, box, olivia):
    ws, _ = create_workspace(db, box, "Zebra Labs", olivia.admin, "zebra")
    return ws


@pytest.fixture
def zebra_auth(db, zebra, olivia) -> dict[str, str]:
    _, raw = create_token(db, zebra.id, "zebra backend", livemode=False, created_by=olivia.admin.id)
    return {"Authorization": f"Bearer {raw}"}


def listed(client, auth, query: str = "") -> dict:
    response = client.get(f"/api/v1/customers{query}", headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


def test_it_lists_the_tokens_workspace_customers_newest_first(client, db, acme, zebra, acme_auth, zebra_auth):
    put_customer_with_plan(db, acme.id, "cus_ada", "ada@acme.test", name="Ada", created=1_700_000_000)
    put(db, acme.id, stripe_customer("cus_bob", "bob@acme.test", "Bob", created=1_710_000_000))
    put(db, zebra.id, stripe_customer("cus_zed", "zed@zebra.test", "Zed"))

    body = listed(client, acme_auth)
    assert body["object"] == "list"
    assert [c["id"] for c in body["data"]] == ["cus_bob", "cus_ada"]
    assert body["has_more"] is False and body["next_cursor"] is None
    ada = body["data"][1]
    assert ada == {
        "object": "customer",
        "id": "cus_ada",
        "email": "ada@acme.test",
        "name": "Ada",
        "currency": "usd",
        "created": 1_700_000_000,
        "delinquent": False,
        "deleted": False,
        "metadata": {},
        "tags": [],
        "mrr": {"usd": 4900},
        "card": {
            "payment_method": "pm_cus_ada",
            "brand": "visa",
            "last4": "4242",
            "exp_month": 8,
            "exp_year": 2030,
        },
    }
    assert [c["id"] for c in listed(client, zebra_auth)["data"]] == ["cus_zed"]


def test_it_pages_through_every_customer_with_next_cursor(client, db, acme, acme_auth):
    for n in range(7):
        put(db, acme.id, stripe_customer(f"cus_{n}", f"c{n}@acme.test", created=1_700_000_000 + n // 2))
    seen, cursor, pages = [], None, []
    while True:
        body = listed(client, acme_auth, "?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        pages.append(len(body["data"]))
        seen += [c["id"] for c in body["data"]]
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        cursor = body["next_cursor"]
    assert pages == [3, 3, 1]
    assert sorted(seen) == [f"cus_{n}" for n in range(7)]
    assert len(set(seen)) == 7


def test_it_gives_25_a_page_unless_asked(client, db, acme, acme_auth):
    for n in range(27):
        put(db, acme.id, stripe_customer(f"cus_{n:02d}", f"c{n}@acme.test", created=1_700_000_000 + n))
    body = listed(client, acme_auth)
    assert len(body["data"]) == 25 and body["has_more"] is True
    assert body["data"][0]["id"] == "cus_26"
    assert len(listed(client, acme_auth, "?limit=100")["data"]) == 27


def test_it_finds_a_customer_by_email_ignoring_case(client, db, acme, acme_auth):
    put(
        db,
        acme.id,
        stripe_customer("cus_ada", "Ada@Acme.test"),
        stripe_customer("cus_adam", "adam@acme.test"),
    )
    assert [c["id"] for c in listed(client, acme_auth, "?email=ada%40ACME.test")["data"]] == ["cus_ada"]
    assert listed(client, acme_auth, "?email=nobody%40acme.test")["data"] == []


def test_it_filters_by_tag(client, db, acme, acme_auth):
    put(
        db,
        acme.id,
        stripe_customer("cus_ada", "ada@acme.test", metadata={"backstop_tags": "vip, beta"}, created=2),
        stripe_customer("cus_bob", "bob@acme.test", metadata={"beta": "true"}, created=1),
        stripe_customer("cus_cy", "cy@acme.test", metadata={"beta": "false"}),
    )
    assert [c["id"] for c in listed(client, acme_auth, "?tag=beta")["data"]] == ["cus_ada", "cus_bob"]
    vip = listed(client, acme_auth, "?tag=vip")["data"]
    assert [c["id"] for c in vip] == ["cus_ada"]
    assert vip[0]["tags"] == ["vip", "beta"]
    assert vip[0]["metadata"] == {"backstop_tags": "vip, beta"}


@pytest.mark.parametrize(
    "query",
    ["?limit=0", "?limit=101", "?limit=ten", "?cursor=not-a-cursor", f"?cursor={encode_cursor(5)}"],
)
def test_it_refuses_a_bad_limit_or_cursor_in_the_error_shape(client, acme, acme_auth, query):
    response = client.get(f"/api/v1/customers{query}", headers=acme_auth)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "limit" in response.json()["error"]["message"] or "cursor" in response.json()["error"]["message"]


def test_it_needs_a_token(client, acme):
    for path in ("/api/v1/customers", "/api/v1/customers/cus_ada"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"


def test_it_returns_one_customer_with_subscriptions_and_recent_campaigns(client, db, acme, acme_auth):
    put(db, acme.id, stripe_product("prod_team", "Team"))
    team = stripe_price("price_team", "prod_team", amount=9900)
    card = stripe_card("pm_ada", "cus_ada", brand="amex", last4="0005", exp=(1, 2032))
    put(
        db,
        acme.id,
        team,
        stripe_customer("cus_ada", "ada@acme.test", "Ada", card=card),
        stripe_subscription("sub_team", "cus_ada", team, status="past_due", period_end=1_790_000_000),
        stripe_subscription(
            "sub_trial", "cus_ada", team, status="trialing", created=1_710_000_000, cancel_at_period_end=True
        ),
    )
    response = client.get("/api/v1/customers/cus_ada", headers=acme_auth)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "cus_ada" and body["email"] == "ada@acme.test"
    assert body["card"]["brand"] == "amex" and body["card"]["last4"] == "0005"
    assert body["recent_campaigns"] == []
    assert body["mrr"] == {"usd": 9900}
    past_due, trial = body["subscriptions"]
    assert past_due["id"] == "sub_team"
    assert past_due["status"] == "past_due"
    assert past_due["plan_name"] == "Team"
    assert past_due["unit_amount"] == 9900 and past_due["interval"] == "month"
    assert past_due["mrr"] == 9900 and past_due["counts_toward_mrr"] is True
    assert past_due["current_period_end"] == 1_790_000_000
    assert trial["status"] == "trialing" and trial["counts_toward_mrr"] is False
    assert trial["cancel_at_period_end"] is True


def test_it_shows_a_pause_in_collection(client, db, acme, acme_auth):
    put(
        db,
        acme.id,
        stripe_customer("cus_ada", "ada@acme.test"),
        stripe_subscription("sub_p", "cus_ada", pause={"behavior": "void", "resumes_at": 1_795_000_000}),
    )
    sub = client.get("/api/v1/customers/cus_ada", headers=acme_auth).json()["subscriptions"][0]
    assert sub["pause_collection"] == {"behavior": "void", "resumes_at": 1_795_000_000}
    assert sub["counts_toward_mrr"] is False


def test_it_lists_the_customers_recent_recovery_campaigns(client, db, acme, acme_auth):
    put(db, acme.id, stripe_customer("cus_ada", "ada@acme.test"))
    put_customer_campaign(db, acme.id, "cus_ada", "in_failed", status="in_flight")
    put_customer_campaign(db, acme.id, "cus_bob", "in_other")
    campaigns = client.get("/api/v1/customers/cus_ada", headers=acme_auth).json()["recent_campaigns"]
    assert len(campaigns) == 1
    assert campaigns[0]["invoice_id"] == "in_failed"
    assert campaigns[0]["status"] == "in_flight"
    assert campaigns[0]["amount_due"] == 4900 and campaigns[0]["currency"] == "usd"
    assert campaigns[0]["opened_at"] == "2026-11-01T10:00:00+00:00"


def test_it_answers_404_for_an_unknown_id_or_another_workspaces_customer(
    client, db, acme, zebra, acme_auth, zebra_auth
):
    put(db, zebra.id, stripe_customer("cus_zed", "zed@zebra.test"))
    assert client.get("/api/v1/customers/cus_zed", headers=zebra_auth).status_code == 200
    for customer_id in ("cus_zed", "cus_nobody"):
        response = client.get(f"/api/v1/customers/{customer_id}", headers=acme_auth)
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "not_found"
        assert "zed@zebra.test" not in response.text


def test_stats_report_active_mrr_from_the_mirror(client, db, acme, acme_auth):
    put_customer_with_plan(db, acme.id, "cus_ada", "ada@acme.test")
    put_customer_with_plan(db, acme.id, "cus_bob", "bob@acme.test", status="past_due")
    put_customer_with_plan(db, acme.id, "cus_cy", "cy@acme.test", status="trialing")
    body = client.get("/api/v1/stats", headers=acme_auth).json()
    assert body["active_mrr"] == {"amounts": {"usd": 9800}, "subscriptions": 2}
    apply_object(db, acme.id, stripe_subscription("sub_cus_bob", "cus_bob", status="canceled"), VERSION + 60)
    body = client.get("/api/v1/stats", headers=acme_auth).json()
    assert body["active_mrr"] == {"amounts": {"usd": 4900}, "subscriptions": 1}


def test_the_document_describes_both_endpoints(client):
    document = client.get("/api/v1/openapi.json").json()
    listing = document["paths"]["/api/v1/customers"]["get"]
    assert listing["summary"] == "List customers"
    assert {p["name"] for p in listing["parameters"]} == {"email", "tag", "limit", "cursor"}
    assert all(p["description"] for p in listing["parameters"])
    detail = document["paths"]["/api/v1/customers/{customer_id}"]["get"]
    assert detail["summary"] == "Retrieve a customer"
    assert "recent_campaigns" in detail["description"]
    assert "404" in detail["responses"]
    assert "customer" in detail["responses"]["404"]["description"]
    page = client.get("/api/v1/reference").text
    assert "GET /api/v1/customers/{customer_id}" in page
