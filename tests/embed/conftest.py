"""The embed tests sign in like the admin tests do, and reuse the recovery tests' connected
workspace and event loop."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from litestar.testing import TestClient

from tests.recovery.conftest import connected, loop, stripe_settings  # noqa: F401
from tests.web.admin.conftest import as_marco, as_olivia, marco_in_acme  # noqa: F401


@pytest.fixture
def page_settings(stripe_settings):  # noqa: F811
    return replace(stripe_settings, stripe_js_url="https://js.stripe.com/v3/")


@pytest.fixture
def web(page_settings, db, connected):  # noqa: F811
    from backstop.web.app import create_app

    with TestClient(app=create_app(page_settings, run_jobs=False), base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
def secret(db, box, acme):
    from backstop.workspaces.workspaces import embed_secret

    return embed_secret(db, box, acme.id)


def words(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def form_token_of(html: str) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', html).group(1)
