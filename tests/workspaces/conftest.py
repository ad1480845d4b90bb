"""Argon2 at production strength costs ~0.1 s a hash; these tests hash and verify hundreds of
times to exercise throttles and sessions, so they use the same algorithm with tiny costs."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from backstop.lib import passwords


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)
    monkeypatch.setattr(passwords, "DUMMY_HASH", cheap.hash("timing-equaliser"))
