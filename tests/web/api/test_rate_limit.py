"""60 requests a minute per token: the 61st gets 429 with Retry-After, and the next minute is fresh."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime

import httpx
import time_machine

from tests.builders import assert_error
from tests.conftest import VENV_BIN

# 30 seconds into a minute: the fixed window ends at 09:16:00.
HALF_PAST = datetime(2026, 3, 2, 9, 15, 30, tzinfo=UTC)


def test_it_counts_down_and_refuses_the_61st_request_in_a_minute(client, acme_auth):
    with time_machine.travel(HALF_PAST, tick=False):
        remaining = [
            int(client.get("/api/v1/stats", headers=acme_auth).headers["X-RateLimit-Remaining"])
            for _ in range(60)
        ]
        refused = client.get("/api/v1/stats", headers=acme_auth)

    assert remaining == list(range(59, -1, -1))
    assert_error(refused, 429, "rate_limit_exceeded")
    assert refused.headers["Retry-After"] == "30"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["X-RateLimit-Reset"] == "30"
    assert "60" in refused.json()["error"]["message"]


def test_it_lets_the_token_back_in_when_the_minute_is_over(client, acme_auth):
    with time_machine.travel(HALF_PAST, tick=False) as traveller:
        for _ in range(60):
            client.get("/api/v1/stats", headers=acme_auth)
        assert client.get("/api/v1/stats", headers=acme_auth).status_code == 429

        traveller.shift(29)
        assert client.get("/api/v1/stats", headers=acme_auth).headers["Retry-After"] == "1"

        traveller.shift(1)
        response = client.get("/api/v1/stats", headers=acme_auth)

    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == "59"
    assert response.headers["X-RateLimit-Reset"] == "60"


def test_it_limits_guessing_without_a_token_too(client):
    with time_machine.travel(HALF_PAST, tick=False):
        answers = [client.get("/api/v1/stats").status_code for _ in range(61)]

    assert answers[:60] == [401] * 60
    assert answers[60] == 429


def _mint_token(env: dict) -> str:
    def run(*args: str) -> str:
        done = subprocess.run(
            [str(VENV_BIN / "backstop"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout.strip()

    run("workspace", "create", "--name", "Acme Analytics", "--slug", "acme", "--json")
    return run("token", "create", "--workspace", "acme", "--name", "load test")


def test_a_real_server_refuses_the_61st_request_in_a_minute(live_server):
    token = _mint_token(live_server.env)
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        # The server counts per wall-clock minute. Ask (without the token, so its budget is
        # untouched) how long this minute has left, and start in the next one if it is nearly
        # over: then all 61 requests share one window, and the countdown below proves it.
        left = int(http.get("/api/v1/stats").headers["X-RateLimit-Reset"])
        if left < 10:
            time.sleep(left + 0.1)
        headers = {"Authorization": f"Bearer {token}"}
        answers = [http.get("/api/v1/stats", headers=headers) for _ in range(61)]

    assert [r.status_code for r in answers[:60]] == [200] * 60
    assert [int(r.headers["X-RateLimit-Remaining"]) for r in answers[:60]] == list(range(59, -1, -1))
    refused = answers[60]
    assert_error(refused, 429, "rate_limit_exceeded")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Retry-After"] == refused.headers["X-RateLimit-Reset"]
