"""Admin passwords: argon2id hashes and a strength rule a founder can read."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

MIN_LENGTH = 10
MAX_LENGTH = 256
_COMMON = {
    "password",
    "password1",
    "password123",
    "1234567890",
    "12345678910",
    "qwertyuiop",
    "letmein123",
    "welcome123",
    "iloveyou12",
    "administrator",
    "backstop123",
    "changeme123",
    "passw0rd123",
    "0123456789",
    "abcdefghij",
    "qwerty1234",
    "1q2w3e4r5t",
    "football123",
}


def password_problem(password: str, email: str = "") -> str | None:
    """Why a password would be refused, in words, or None when it is acceptable."""
    if not password or not password.strip():
        return "Enter a password."
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters; a short phrase is easy to remember."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if len(set(password)) < 4:
        return "Use more than a few different characters."
    lowered = password.lower()
    if lowered in _COMMON:
        return "That password is on every attacker's list; choose another."
    if email and lowered == email.strip().lower():
        return "Don't use your email address as your password."
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def __getattr__(name: str) -> str:
    # DUMMY_HASH is verified against when the email is unknown, so a login takes as long either
    # way. It is made on first use rather than at import: one argon2 hash costs about 0.1 s and
    # 64 MiB of scratch memory, which every start of the server and every CLI command paid.
    if name == "DUMMY_HASH":
        value = globals()["DUMMY_HASH"] = _hasher.hash("backstop-timing-equaliser")
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
