"""API fixtures: a token for Olivia's Acme workspace and the header that carries it."""

from __future__ import annotations

import pytest
from sqlite_utils import Database

from backstop.workspaces.tokens import create_token
from backstop.workspaces.workspaces import Workspace


@pytest.fixture
def acme_token(db: Database, acme: Workspace, olivia) -> str:
    _, raw = create_token(db, acme.id, "billing backend", livemode=False, created_by=olivia.admin.id)
    return raw


@pytest.fixture
def acme_auth(acme_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {acme_token}"}
