"""One-time desktop login tokens: hashed at rest, one use, one minute."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from backstop.lib.crypto import sha256_hex
from backstop.workspaces.login_tokens import (
    LOGIN_TOKEN_LIFETIME,
    LoginTokenRefused,
    Refusal,
    issue_login_token,
    redeem_login_token,
)


def test_it_stores_only_a_hash(db, olivia):
    token = issue_login_token(db, olivia.admin)
    stored = [r[0] for r in db.execute("SELECT token_hash FROM login_tokens").fetchall()]
    assert stored == [sha256_hex(token)]
    assert token not in stored


def test_it_signs_in_the_admin_it_was_issued_for(db, olivia, marco):
    token = issue_login_token(db, marco.admin)
    assert redeem_login_token(db, token) == marco.admin


def test_it_works_only_once(db, olivia):
    token = issue_login_token(db, olivia.admin)
    redeem_login_token(db, token)
    with pytest.raises(LoginTokenRefused) as refused:
        redeem_login_token(db, token)
    assert refused.value.reason is Refusal.USED


def test_it_expires_after_a_minute(db, olivia):
    with time_machine.travel("2026-11-02 09:00:00+00:00", tick=False) as clock:
        token = issue_login_token(db, olivia.admin)
        clock.shift(LOGIN_TOKEN_LIFETIME + timedelta(seconds=1))
        with pytest.raises(LoginTokenRefused) as refused:
            redeem_login_token(db, token)
    assert refused.value.reason is Refusal.EXPIRED


def test_it_refuses_a_token_it_never_issued(db, olivia):
    with pytest.raises(LoginTokenRefused) as refused:
        redeem_login_token(db, "made-up")
    assert refused.value.reason is Refusal.UNKNOWN


def test_it_forgets_long_dead_tokens_when_issuing_new_ones(db, olivia):
    with time_machine.travel("2026-11-02 09:00:00+00:00", tick=False) as clock:
        issue_login_token(db, olivia.admin)
        clock.shift(timedelta(days=2))
        issue_login_token(db, olivia.admin)
    assert db.execute("SELECT COUNT(*) FROM login_tokens").fetchone()[0] == 1
