"""Admin accounts: password rules, login with its throttle, and server-side sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from backstop import clock
from backstop.lib.crypto import sha256_hex
from backstop.workspaces import admins
from backstop.workspaces.errors import NotFound, ValidationError
from tests.conftest import OLIVIA_PASSWORD

START = "2026-05-01 09:00:00+00:00"


def field_error(call, *args) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        call(*args)
    return caught.value


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", "Enter a password."),
        ("          ", "Enter a password."),
        ("short", "Use at least 10 characters; a short phrase is easy to remember."),
        ("Password123", "That password is on every attacker's list; choose another."),
        ("aaaaaaaaaaaa", "Use more than a few different characters."),
        ("new@acme.test", "Don't use your email address as your password."),
        ("x" * 200 + "y" * 57, "Use at most 256 characters."),
    ],
)
def test_it_refuses_a_weak_password_with_the_reason(db, password, message):
    error = field_error(admins.create_admin, db, "new@acme.test", password)
    assert error.message == message
    assert error.field == "password"
    assert not admins.any_admin_exists(db)


@pytest.mark.parametrize("email", ["", "olivia", "olivia@acme", "olivia @acme.test", "a@b.c" + "o" * 260])
def test_it_refuses_an_email_that_is_not_one(db, email):
    error = field_error(admins.create_admin, db, email, OLIVIA_PASSWORD)
    assert error.field == "email"


def test_it_stores_the_email_lowercased_and_the_password_only_as_an_argon2_hash(db):
    admin = admins.create_admin(db, "  Olivia@Acme.TEST ", OLIVIA_PASSWORD)
    assert admin.email == "olivia@acme.test"
    stored = db.execute("SELECT email, password_hash FROM admins").fetchone()
    assert stored["email"] == "olivia@acme.test"
    assert stored["password_hash"].startswith("$argon2id$")
    assert OLIVIA_PASSWORD not in stored["password_hash"]


def test_it_refuses_a_second_admin_with_the_same_email_in_any_case(db, olivia):
    error = field_error(admins.create_admin, db, "OLIVIA@acme.test", "another-good-passphrase")
    assert error.message == "An admin with the email olivia@acme.test already exists."
    assert error.field == "email"


def test_it_signs_in_with_the_right_password_whatever_the_email_case(db, olivia):
    admin = admins.authenticate(db, " Olivia@ACME.test ", OLIVIA_PASSWORD, "10.0.0.1")
    assert admin == olivia.admin
    assert db.execute("SELECT last_login_at FROM admins").fetchone()[0] is not None


def test_it_refuses_a_wrong_password_and_an_unknown_email_alike(db, olivia):
    assert admins.authenticate(db, "olivia@acme.test", "not-her-password", "10.0.0.1") is None
    assert admins.authenticate(db, "nobody@acme.test", OLIVIA_PASSWORD, "10.0.0.1") is None


def fail_login(db, email: str, times: int, ip: str = "10.0.0.1") -> None:
    """Fail ``times`` sign-ins, each once the throttle lets it through (the clock doesn't move:
    failures are recorded straight away, as a loop that ignored the throttle would have made)."""
    for _ in range(times):
        try:
            assert admins.authenticate(db, email, "wrong-password-guess", ip) is None
        except admins.LoginThrottled:
            db.execute(
                "INSERT INTO login_attempts (email, ip, attempted_at, succeeded) VALUES (?, ?, ?, 0)",
                [email, ip, clock.iso()],
            )


def test_it_slows_an_email_from_one_address_with_growing_delays(db, olivia):
    with time_machine.travel(START, tick=False) as traveller:
        fail_login(db, "olivia@acme.test", admins.FREE_FAILURES)
        waits = []
        for _ in range(9):
            with pytest.raises(admins.LoginThrottled) as caught:
                admins.authenticate(db, "olivia@acme.test", OLIVIA_PASSWORD, "10.0.0.1")
            waits.append(caught.value.retry_after_seconds)
            traveller.shift(timedelta(seconds=caught.value.retry_after_seconds))
            fail_login(db, "olivia@acme.test", 1)
        assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 300]
        traveller.shift(timedelta(seconds=300))
        assert admins.authenticate(db, "olivia@acme.test", OLIVIA_PASSWORD, "10.0.0.1") == olivia.admin


def test_guessing_from_elsewhere_never_locks_the_owner_out_of_her_own_address(db, olivia):
    with time_machine.travel(START, tick=False):
        fail_login(db, "olivia@acme.test", 12, ip="203.0.113.9")  # the first delays don't stop a loop
        with pytest.raises(admins.LoginThrottled):
            admins.authenticate(db, "olivia@acme.test", OLIVIA_PASSWORD, "203.0.113.9")
        assert admins.authenticate(db, "olivia@acme.test", OLIVIA_PASSWORD, "10.0.0.1") == olivia.admin


def test_it_counts_only_failures_inside_the_window(db, olivia):
    with time_machine.travel(START, tick=False) as traveller:
        fail_login(db, "olivia@acme.test", 6)
        traveller.shift(timedelta(minutes=16))
        fail_login(db, "olivia@acme.test", 2)
        assert admins.authenticate(db, "olivia@acme.test", OLIVIA_PASSWORD, "10.0.0.1") == olivia.admin


def test_it_clears_the_failures_after_a_successful_sign_in(db, olivia):
    with time_machine.travel(START, tick=False):
        fail_login(db, "olivia@acme.test", 2)
        assert admins.authenticate(db, "olivia@acme.test", OLIVIA_PASSWORD, "10.0.0.1")
        fail_login(db, "olivia@acme.test", 2)
        assert admins.authenticate(db, "olivia@acme.test", OLIVIA_PASSWORD, "10.0.0.1")


def test_it_does_not_lock_one_admin_out_because_of_another(db, olivia, marco):
    with time_machine.travel(START, tick=False):
        fail_login(db, "olivia@acme.test", 5, ip="10.0.0.1")
        assert admins.authenticate(db, "marco@acme.test", marco.password, "10.0.0.2") == marco.admin


def test_it_locks_an_address_that_guesses_across_many_emails(db, olivia):
    with time_machine.travel(START, tick=False):
        for n in range(admins.MAX_FAILURES_PER_IP):
            fail_login(db, f"guess{n}@acme.test", 1, ip="203.0.113.9")
        with pytest.raises(admins.LoginThrottled):
            admins.authenticate(db, "olivia@acme.test", OLIVIA_PASSWORD, "203.0.113.9")
        assert admins.authenticate(db, "olivia@acme.test", OLIVIA_PASSWORD, "10.0.0.1") == olivia.admin


def test_it_keeps_only_a_hash_of_the_session_token(db, olivia):
    token = admins.start_session(db, olivia.admin, "Firefox")
    stored = db.execute("SELECT token_hash FROM admin_sessions").fetchone()[0]
    assert stored == sha256_hex(token)
    assert admins.resolve_session(db, token).admin == olivia.admin


def test_it_ignores_a_missing_or_unknown_session_token(db, olivia):
    assert admins.resolve_session(db, None) is None
    assert admins.resolve_session(db, "") is None
    assert admins.resolve_session(db, "made-up") is None


def test_it_expires_a_session_after_fourteen_days(db, olivia):
    with time_machine.travel(START, tick=False) as traveller:
        token = admins.start_session(db, olivia.admin)
        traveller.shift(timedelta(days=13, hours=23))
        assert admins.resolve_session(db, token) is not None
        traveller.shift(timedelta(hours=1))
        assert admins.resolve_session(db, token) is None
    assert db.execute("SELECT COUNT(*) FROM admin_sessions").fetchone()[0] == 0


def test_it_ends_a_session(db, olivia):
    token = admins.start_session(db, olivia.admin)
    other = admins.start_session(db, olivia.admin)
    admins.end_session(db, token)
    assert admins.resolve_session(db, token) is None
    assert admins.resolve_session(db, other) is not None


def test_it_ends_every_session_when_the_password_changes(db, olivia, marco):
    laptop = admins.start_session(db, olivia.admin)
    phone = admins.start_session(db, olivia.admin)
    marcos = admins.start_session(db, marco.admin)
    admins.set_password(db, "olivia@acme.test", "a-fresh-long-passphrase")
    assert admins.resolve_session(db, laptop) is None
    assert admins.resolve_session(db, phone) is None
    assert admins.resolve_session(db, marcos) is not None
    assert admins.authenticate(db, "olivia@acme.test", OLIVIA_PASSWORD, "10.0.0.1") is None
    assert admins.authenticate(db, "olivia@acme.test", "a-fresh-long-passphrase", "10.0.0.1")


def test_it_keeps_the_old_password_when_the_new_one_is_weak(db, olivia):
    token = admins.start_session(db, olivia.admin)
    error = field_error(admins.set_password, db, "olivia@acme.test", "short")
    assert error.field == "password"
    assert admins.resolve_session(db, token) is not None
    assert admins.authenticate(db, "olivia@acme.test", OLIVIA_PASSWORD, "10.0.0.1")


def test_it_says_when_setting_the_password_of_nobody(db):
    with pytest.raises(NotFound):
        admins.set_password(db, "ghost@acme.test", "a-fresh-long-passphrase")


def test_it_dates_sessions_with_the_clock(db, olivia):
    with time_machine.travel(START, tick=False):
        admins.start_session(db, olivia.admin)
        row = db.execute("SELECT created_at, expires_at FROM admin_sessions").fetchone()
        assert clock.parse(row["created_at"]) == clock.now()
        assert clock.parse(row["expires_at"]) - clock.now() == admins.SESSION_LIFETIME


@pytest.mark.parametrize("email", ["olivia\x00@acme.test", "olivia@acme.test\x07", "oli\x7fvia@acme.test"])
def test_it_refuses_control_characters_in_an_email(db, email):
    assert field_error(admins.create_admin, db, email, OLIVIA_PASSWORD).field == "email"
    assert not admins.any_admin_exists(db)


def test_a_password_reset_lifts_the_sign_in_throttle(db, olivia):
    for _ in range(admins.FREE_FAILURES):
        assert admins.authenticate(db, olivia.admin.email, "wrong-password-here", "10.0.0.1") is None
    with pytest.raises(admins.LoginThrottled):
        admins.authenticate(db, olivia.admin.email, olivia.password, "10.0.0.1")
    admins.set_password(db, olivia.admin.email, "a brand new long passphrase")
    assert admins.authenticate(db, olivia.admin.email, "a brand new long passphrase", "10.0.0.1") is not None
