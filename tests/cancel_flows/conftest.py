"""Fast password hashing (personas are created per test) and a second workspace for isolation."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from backstop.lib import passwords
from backstop.workspaces.workspaces import create_workspace


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)
    monkeypatch.setattr(passwords, "DUMMY_HASH", cheap.hash("timing-equaliser"))


@pytest.fixture
def globex(db, box, marco):
    """Globex: another founder's workspace on the same appliance."""
    ws, _ = create_workspace(db, box, "Globex", marco.admin, "globex")
    return ws
