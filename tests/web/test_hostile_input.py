"""A fixed corpus of hostile inputs thrown at every route the app has, signed out and signed in:
no answer may be a 5xx. Routes are read from the app itself, so a new route is covered the day it
is added."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from backstop.workspaces import admins
from backstop.workspaces.workspaces import Workspace

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


DEEP = 50_000

# Bodies for methods that carry one: (content type, raw bytes).
BODIES: dict[str, tuple[str, bytes]] = {
    "deep json array": ("application/json", b"[" * DEEP + b"]" * DEEP),
    "deep json object": (
        "application/json",
        b'{"setup_intent": ' + b'{"a": ' * DEEP + b"1" + b"}" * DEEP + b"}",
    ),
    "huge float": ("application/json", b'{"setup_intent": 1e999, "limit": -1e999}'),
    "huge integer": ("application/json", b'{"setup_intent": ' + b"9" * 5000 + b"}"),
    "2**70": ("application/json", b'{"setup_intent": 1180591620717411303424, "id": 1180591620717411303424}'),
    "json NUL": ("application/json", b'{"setup_intent": "seti_\\u0000x", "email": "a\\u0000@b.test"}'),
    "json bad utf-8": ("application/json", b'{"setup_intent": "seti_\xff\xfe"}'),
    "json not an object": ("application/json", b'"seti_1"'),
    "json null": ("application/json", b"null"),
    "form NUL": (
        "application/x-www-form-urlencoded",
        b"email=a%00%40b.test&password=%00&name=%00&next=%00&url=%00&domain=%00",
    ),
    "form bad utf-8": ("application/x-www-form-urlencoded", b"email=%FF%FE&name=\xff\xfe&role=%C0%AF"),
    "form overlong": (
        "application/x-www-form-urlencoded",
        b"name=" + b"a" * 600_000 + b"&email=" + b"b" * 300_000,
    ),
    "form repeated keys": ("application/x-www-form-urlencoded", b"role=owner&role=member&" + b"x=1&" * 5000),
    "form huge number": (
        "application/x-www-form-urlencoded",
        b"days=" + b"9" * 5000 + b"&amount=1e999&max_attempts=-0",
    ),
    "multipart broken": (
        "multipart/form-data; boundary=zz",
        b"--zz\r\nContent-Disposition: form-data\r\n\r\n\x00",
    ),
    "multipart no boundary": ("multipart/form-data", b"--\r\n\r\n"),
    "wrong type xml": ("application/xml", b"<?xml version='1.0'?><!DOCTYPE a [<!ENTITY b 'c'>]><a>&b;</a>"),
    "wrong type text": ("text/plain", b'{"setup_intent": "seti_1"}'),
    "no content type": ("", b"\x00\x01\x02"),
}

# Values put in each path parameter, already percent-encoded where they must be.
PATH_VALUES = [
    "..%2F..%2Fetc%2Fpasswd",
    "%00",
    "%FF%FE",
    "a" * 4000,
    "99999999999999999999999999",
    "-1",
    "%2e%2e",
]

QUERIES = [
    "?next=%00&cursor=%FF%FE&limit=99999999999999999999&q=%00&page=-1",
    "?cursor=" + "A" * 5000 + "&limit=1e999&starting_after=..%2F..",
    "?code=%00&state=" + "x" * 3000 + "&error=%FF",
]

ODD_METHODS = ["PROPFIND", "TRACE", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS", "FOO"]

STATIC_PATHS = [
    "/static/%00",
    "/static/..%2F..%2Fbackstop%2Fsettings.py",
    "/static/%2e%2e/%2e%2e/etc/passwd",
    "/static/" + "a" * 4000,
    "/static/%FF%FE",
    "/brand/logo/%00",
    "/brand/logo/..%2F..%2Fsecret_key",
    "/api/v1/%00",
    "/w/%00/overview",
    "/%00",
]


def _sample(name: str, kind: type) -> str:
    if kind is int:
        return "1"
    return {"slug": "acme", "file_path": "app.css", "customer_id": "cus_1", "kind_key": "dunning.first"}.get(
        name, "tok"
    )


def _routes(app) -> Iterator[tuple[str, set[str], dict]]:
    for route in app.routes:
        yield route.path, set(getattr(route, "methods", set())) - {"OPTIONS"}, route.path_parameters


def _fill(path: str, params: dict, override: str | None = None) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        return override if override is not None else _sample(name, params[name].type)

    return re.sub(r"\{(\w+):[^}]+\}", value, path)


def _requests(app) -> Iterator[tuple[str, str, tuple[str, bytes] | None]]:
    for path, methods, params in _routes(app):
        base = _fill(path, params)
        for method in sorted(methods):
            if method in ("GET", "HEAD"):
                yield method, base, None
                for query in QUERIES:
                    yield method, base + query, None
            else:
                for body in BODIES.values():
                    yield method, base, body
        # Hostile path values: each method once, with a body that is hostile too.
        for value in PATH_VALUES if params else []:
            for method in sorted(methods):
                yield (
                    method,
                    _fill(path, params, value),
                    None if method in ("GET", "HEAD") else BODIES["deep json object"],
                )
        for method in ODD_METHODS:
            yield method, base, BODIES["json NUL"]
    for url in STATIC_PATHS:
        yield "GET", url, None


def _send(client: TestClient, method: str, url: str, body, headers: dict):
    if body is None:
        return client.request(method, url, headers=headers, follow_redirects=False)
    content_type, raw = body
    sent = dict(headers)
    if content_type:
        sent["Content-Type"] = content_type
    return client.request(method, url, content=raw, headers=sent, follow_redirects=False)


def _fresh_session(db, admin, client: TestClient) -> dict:
    """A new session for each route (a hostile POST to /logout ends the one before) and the CSRF
    token that goes with it, so bodies reach the handlers instead of stopping at the CSRF check."""
    client.cookies.set("backstop_session", admins.start_session(db, admin, "corpus"))
    page = client.get("/w/acme/settings")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token, page.text[:300]
    return {"x-csrftoken": token.group(1)}


def _throw_corpus(client: TestClient, signed_in=None) -> list[str]:
    server_errors = []
    last_path = None
    headers: dict = {}
    for method, url, body in _requests(client.app):
        if signed_in is not None and url.split("?")[0] != last_path:
            headers = signed_in()
            last_path = url.split("?")[0]
        response = _send(client, method, url, body, headers)
        if response.status_code >= 500:
            label = next((k for k, v in BODIES.items() if v == body), "")
            server_errors.append(f"{method} {url[:120]} [{label}] -> {response.status_code}")
    return server_errors


@pytest.fixture
def web(client, acme: Workspace):
    return client


def test_no_hostile_input_makes_any_route_answer_5xx_signed_out(web):
    assert _throw_corpus(web) == []


def test_no_hostile_input_makes_any_route_answer_5xx_signed_in(web, db, olivia):
    assert _throw_corpus(web, lambda: _fresh_session(db, olivia.admin, web)) == []


def test_the_corpus_reaches_every_route_the_app_has(web):
    """Guards the guard: a route the enumeration missed would be untested."""
    covered = {url.split("?")[0] for _, url, _ in _requests(web.app)}
    for path, _, params in _routes(web.app):
        assert _fill(path, params) in covered
    assert len(covered) > 60
