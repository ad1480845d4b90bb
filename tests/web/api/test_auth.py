"""Bearer tokens on /api/v1: who gets in, who gets the error shape, and what they see."""

from __future__ import annotations

import pytest
import time_machine

from backstop.workspaces.tokens import create_token, revoke_token
from backstop.workspaces.workspaces import create_workspace
from tests.builders import assert_error


def test_it_refuses_a_request_without_a_token(client):
    response = client.get("/api/v1/stats")
    message = assert_error(response, 401, "authentication_error")
    assert "Bearer" in message
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    ["Basic b2xpdmlhOnNlY3JldA==", "Bearer", "Bearer   ", "bk_test_abc", "Token bk_test_abc"],
)
def test_it_explains_a_malformed_authorization_header(client, header):
    message = assert_error(
        client.get("/api/v1/stats", headers={"Authorization": header}), 401, "authentication_error"
    )
    assert "Bearer <token>" in message


@pytest.mark.parametrize(
    "raw", ["bk_test_not-a-real-token", "sk_test_stripe_key_by_mistake", "bk_live_" + "x" * 300]
)
def test_it_refuses_an_unknown_token(client, acme, raw):
    message = assert_error(
        client.get("/api/v1/stats", headers={"Authorization": f"Bearer {raw}"}), 401, "authentication_error"
    )
    assert "not valid" in message


def test_it_refuses_a_revoked_token(client, db, acme, acme_token, acme_auth):
    assert client.get("/api/v1/stats", headers=acme_auth).status_code == 200
    token_id = db.execute("SELECT id FROM api_tokens WHERE workspace_id = ?", [acme.id]).fetchone()[0]
    revoke_token(db, acme.id, token_id)

    message = assert_error(client.get("/api/v1/stats", headers=acme_auth), 401, "authentication_error")
    assert "revoked" in message


def test_it_returns_zeroed_stats_for_the_tokens_workspace(client, acme_auth):
    response = client.get("/api/v1/stats", headers=acme_auth)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["object"] == "stats"
    assert body["workspace"] == "acme"
    assert body["livemode"] is False
    assert body["recovered_30d"] == {"amounts": {}, "campaigns": 0}
    assert body["recovery_rate_30d"] == {"rate": None, "recovered": 0, "closed": 0}
    assert body["saved_mrr_30d"] == {"amounts": {}, "sessions": 0}
    assert body["net_mrr_30d"] == {"amounts": {}}
    assert body["active_mrr"] == {"amounts": {}, "subscriptions": 0}
    assert set(body["definitions"]) >= {"recovered_30d", "recovery_rate_30d", "active_mrr"}


def test_it_records_when_a_token_was_last_used(client, db, acme, acme_auth):
    assert db.execute("SELECT last_used_at FROM api_tokens").fetchone()[0] is None
    client.get("/api/v1/stats", headers=acme_auth)
    assert db.execute("SELECT last_used_at FROM api_tokens").fetchone()[0] is not None


def test_a_token_only_sees_its_own_workspace(client, db, box, olivia, acme, acme_auth):
    other, _ = create_workspace(db, box, "Side Project", olivia.admin, "side-project")
    _, side_token = create_token(db, other.id, "side backend", livemode=False)

    mine = client.get("/api/v1/stats", headers=acme_auth).json()
    theirs = client.get("/api/v1/stats", headers={"Authorization": f"Bearer {side_token}"}).json()

    assert mine["workspace"] == "acme"
    assert theirs["workspace"] == "side-project"


@time_machine.travel("2026-03-02 09:15:10Z", tick=False)
def test_a_workspaces_rate_limit_does_not_spend_anothers(client, db, box, olivia, acme, acme_auth):
    other, _ = create_workspace(db, box, "Side Project", olivia.admin, "side-project")
    _, side_token = create_token(db, other.id, "side backend", livemode=False)
    for _ in range(3):
        client.get("/api/v1/stats", headers=acme_auth)

    theirs = client.get("/api/v1/stats", headers={"Authorization": f"Bearer {side_token}"})
    mine = client.get("/api/v1/stats", headers=acme_auth)

    assert theirs.headers["X-RateLimit-Remaining"] == "59"
    assert mine.headers["X-RateLimit-Remaining"] == "56"


@pytest.mark.parametrize(
    ("path", "use_token", "status"),
    [
        ("/api/v1/stats", True, 200),
        ("/api/v1/stats", False, 401),
        ("/api/v1/no-such-thing", True, 404),
        ("/api/v1/no-such-thing", False, 401),
    ],
)
def test_every_api_answer_carries_the_rate_limit_headers(client, acme_auth, path, use_token, status):
    response = client.get(path, headers=acme_auth if use_token else {})

    assert response.status_code == status
    assert response.headers["X-RateLimit-Limit"] == "60"
    assert 0 <= int(response.headers["X-RateLimit-Remaining"]) < 60
    assert 1 <= int(response.headers["X-RateLimit-Reset"]) <= 60
