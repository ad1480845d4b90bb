"""Argon2 at production strength costs ~0.1 s a hash; these tests hash and verify hundreds of
times to exercise throttles and sessions, so they use the same algorithm with tiny costs."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fast_hashing(fast_password_hashing):
    return None
