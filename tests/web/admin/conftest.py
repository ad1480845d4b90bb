"""Helpers for the admin pages: signed-in clients for the personas, forms posted like a browser."""

from __future__ import annotations

import pytest

from backstop.workspaces.workspaces import add_member
from tests.conftest import login


@pytest.fixture(autouse=True)
def _fast_hashing(fast_password_hashing):
    return None


@pytest.fixture
def as_olivia(client, olivia, acme):
    """The test client signed in as Olivia, owner of Acme."""
    login(client, olivia)
    return client


@pytest.fixture
def marco_in_acme(db, acme, marco):
    """Marco added to Acme as a member."""
    add_member(db, acme, marco.admin.email, "member")
    return marco


@pytest.fixture
def as_marco(client, marco_in_acme):
    """The test client signed in as Marco, a member (not an owner) of Acme."""
    login(client, marco_in_acme)
    return client
