"""Helpers for the admin pages: signed-in clients for the personas, forms posted like a browser."""

from __future__ import annotations

import re
from html import unescape

import pytest

from backstop.workspaces.workspaces import add_member
from tests.conftest import login
from tests.workspaces.conftest import fast_password_hashing  # noqa: F401 - autouse here too


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


def text_of(html: str) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def field_error(html: str, name: str) -> str | None:
    match = re.search(rf'<p class="error" id="e-{name}">(.*?)</p>', html, flags=re.S)
    return unescape(match.group(1)) if match else None
