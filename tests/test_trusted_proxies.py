"""X-Forwarded-For names the visitor only when a proxy listed in BACKSTOP_TRUSTED_PROXIES sent it:
a client on the same machine can't rotate it to slip past the sign-in limits."""

from __future__ import annotations

import re

import httpx
import pytest

from backstop.db import connect, migrate
from backstop.settings import ConfigError, Settings
from backstop.workspaces.admins import create_admin
from tests.conftest import OLIVIA_PASSWORD, start_live_server


def _guess(client: httpx.Client, forwarded_for: str) -> int:
    page = client.get("/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post(
        "/login",
        data={"_csrf_token": token, "email": "olivia@acme.test", "password": "a-wrong-guess"},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return answer.status_code


def _server(tmp_path, env: dict):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    migrate(data_dir / "backstop.db")
    db = connect(data_dir / "backstop.db")
    create_admin(db, "olivia@acme.test", OLIVIA_PASSWORD)
    db.conn.close()
    return start_live_server(data_dir, env)


@pytest.mark.parametrize(
    ("env", "rotated_is_throttled"),
    [
        ({}, True),
        ({"BACKSTOP_TRUSTED_PROXIES": "10.9.9.9"}, True),
        ({"BACKSTOP_TRUSTED_PROXIES": "127.0.0.1"}, False),
    ],
)
def test_rotating_x_forwarded_for_helps_only_through_a_trusted_proxy(tmp_path, env, rotated_is_throttled):
    server = _server(tmp_path, env)
    try:
        with httpx.Client(base_url=server.url) as client:
            statuses = [_guess(client, f"198.51.100.{n}") for n in range(1, 6)]
    finally:
        server.stop()
    if rotated_is_throttled:
        assert statuses[:3] == [400, 400, 400] and statuses[3] == 429, statuses
    else:
        # Through a trusted proxy each address is its own visitor: none of them is slowed yet.
        assert statuses == [400] * 5, statuses


def test_trusted_proxies_must_be_addresses_or_networks():
    assert Settings.from_env({"BACKSTOP_TRUSTED_PROXIES": "172.31.250.10, 10.0.0.0/8"}).trusted_proxies == (
        "172.31.250.10",
        "10.0.0.0/8",
    )
    with pytest.raises(ConfigError, match="not an IP address or network"):
        Settings.from_env({"BACKSTOP_TRUSTED_PROXIES": "caddy"})
