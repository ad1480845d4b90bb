"""``GET /api/v1/cancel_sessions`` and ``/{id}``, and the cancel-flow figures in ``/api/v1/stats``."""

from __future__ import annotations

from dataclasses import replace

import pytest

from backstop.cancel_flows import sessions
from backstop.stripe_sync import connection
from tests.cancel_flows.stories import flow_document, publish_flow, subscriber


@pytest.fixture
def settings(settings, fake_stripe):
    return replace(settings, stripe_api_base=fake_stripe.url, stripe_connect_base=fake_stripe.url)


@pytest.fixture
def story(db, box, acme, fake_stripe, settings):
    """Three customers: one saved by the 30 % discount, one canceled, one still deciding."""
    connection.save_key_connection(
        db, box, acme.id, fake_stripe.add_key(), False, webhook_secret=None, polling=True
    )
    publish_flow(db, acme.id, flow_document())
    gw = lambda ws: connection.gateway(db, box, settings, ws, max_attempts=1)  # noqa: E731
    out = {}
    for name, steps in {
        "saved": [
            {"action": "reason", "reason": "too_expensive", "step": "survey"},
            {"action": "accept", "step": "offer_price"},
        ],
        "canceled": [{"action": "cancel", "step": "survey"}, {"action": "cancel", "step": "confirm"}],
        "open": [],
    }.items():
        who = subscriber(db, acme.id, fake_stripe, email=f"{name}@example.com")
        session = sessions.open_session(db, acme, who.customer["id"], None, return_url=None, source="hosted")
        for form in steps:
            _, action_id = sessions.answer(db, session.key, form)
            if action_id:
                assert sessions.run_action(db, action_id, gw) == "done"
        out[name] = session.id
    return out


def test_it_lists_sessions_newest_first_and_filters_by_outcome(client, acme_auth, story):
    body = client.get("/api/v1/cancel_sessions", headers=acme_auth).json()
    assert [s["id"] for s in body["data"]] == [story["open"], story["canceled"], story["saved"]]
    saved = body["data"][2]
    assert saved["outcome"] == "saved_discount" and saved["reason_code"] == "too_expensive"
    assert saved["mrr_at_stake"] == {"amount": 3000, "currency": "usd"}
    assert saved["mrr_saved"] == {"amount": 2100, "currency": "usd"}
    assert saved["offers_shown"] == [{"node": "offer_price", "variant": "a", "kind": "discount"}]
    assert saved["offer_accepted"]["percent_off"] == 30 and saved["arm"] == "v1"
    only = client.get("/api/v1/cancel_sessions?outcome=canceled", headers=acme_auth).json()["data"]
    assert [s["id"] for s in only] == [story["canceled"]]
    page = client.get("/api/v1/cancel_sessions?limit=2", headers=acme_auth).json()
    assert page["has_more"] is True
    rest = client.get(
        f"/api/v1/cancel_sessions?limit=2&cursor={page['next_cursor']}", headers=acme_auth
    ).json()
    assert [s["id"] for s in rest["data"]] == [story["saved"]] and rest["has_more"] is False
    assert client.get("/api/v1/cancel_sessions?outcome=kept", headers=acme_auth).status_code == 400


def test_it_shows_one_session_with_its_stripe_action(client, acme_auth, story):
    body = client.get(f"/api/v1/cancel_sessions/{story['canceled']}", headers=acme_auth).json()
    assert body["outcome"] == "canceled" and body["path"] == ["survey", "confirm"]
    assert body["stripe_action"]["kind"] == "cancel" and body["stripe_action"]["state"] == "done"
    assert (
        client.get(f"/api/v1/cancel_sessions/{story['open']}", headers=acme_auth).json()["stripe_action"]
        is None
    )


def test_another_workspaces_session_is_a_404(client, db, box, story, olivia):
    from backstop.workspaces.tokens import create_token
    from backstop.workspaces.workspaces import create_workspace

    globex, _ = create_workspace(db, box, "Globex", olivia.admin, "globex")
    _, raw = create_token(db, globex.id, "globex backend", livemode=False, created_by=olivia.admin.id)
    answer = client.get(
        f"/api/v1/cancel_sessions/{story['saved']}", headers={"Authorization": f"Bearer {raw}"}
    )
    assert answer.status_code == 404 and answer.json()["error"]["type"] == "not_found"
    assert (
        client.get("/api/v1/cancel_sessions", headers={"Authorization": f"Bearer {raw}"}).json()["data"] == []
    )


def test_stats_fill_saved_and_net(client, acme_auth, story):
    body = client.get("/api/v1/stats", headers=acme_auth).json()
    assert body["saved_mrr_30d"] == {"amounts": {"usd": 2100}, "sessions": 1}
    assert body["net_mrr_30d"] == {"amounts": {"usd": 2100 - 3000}, "canceled_sessions": 1}
