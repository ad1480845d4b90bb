"""Security headers by audience: the API reference, admin pages (never cached), HSTS when the
base URL is https, and the shipped Caddyfile."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from litestar.testing import TestClient

from backstop.web.app import create_app
from tests.conftest import login

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


ROOT = Path(__file__).resolve().parents[2]
HSTS = "max-age=31536000; includeSubDomains"


def test_the_api_reference_cannot_be_framed_or_sniffed_and_runs_only_this_sites_scripts(client):
    page = client.get("/api/v1/reference")
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "default-src 'none'" in csp


def test_admin_pages_and_their_errors_are_never_cached(client, olivia, acme):
    assert client.get("/login").headers["cache-control"] == "no-store"
    login(client, olivia)
    for path in ("/w/acme/overview", "/w/acme/settings/api-tokens", "/w/acme/no-such-page"):
        assert client.get(path).headers["cache-control"] == "no-store", path


def test_static_files_are_not_sniffed(client):
    assert client.get("/static/app.css").headers["x-content-type-options"] == "nosniff"


def test_without_https_there_is_no_hsts(client):
    assert "strict-transport-security" not in client.get("/login").headers


@pytest.fixture
def https_client(settings, db):
    app = create_app(dataclasses.replace(settings, base_url="https://backstop.example.com"), run_jobs=False)
    with TestClient(app=app, base_url="http://127.0.0.1") as c:
        yield c


@pytest.mark.parametrize(
    "path", ["/login", "/setup", "/api/v1/reference", "/update-card/nonsense", "/no-such-page"]
)
def test_an_https_base_url_sends_hsts_on_every_page(https_client, path):
    assert https_client.get(path).headers["strict-transport-security"] == HSTS


def test_the_shipped_caddyfile_sends_hsts_on_the_main_site():
    caddyfile = (ROOT / "packaging" / "Caddyfile").read_text()
    site = caddyfile.split("{$DOMAIN} {", 1)[1].split("\n}", 1)[0]
    assert f'header Strict-Transport-Security "{HSTS}"' in site


def test_admin_forms_may_lead_only_to_this_site_and_stripes_connect_page(settings):
    from backstop.web import headers

    plain = headers.admin(settings)["Content-Security-Policy"]
    assert "form-action 'self';" in plain
    platform = dataclasses.replace(settings, stripe_client_id="ca_123", stripe_secret_key="sk_test_1")
    assert (
        "form-action 'self' https://connect.stripe.com;" in headers.admin(platform)["Content-Security-Policy"]
    )
    local = dataclasses.replace(platform, stripe_connect_base="http://127.0.0.1:9999/")
    assert "form-action 'self' http://127.0.0.1:9999;" in headers.admin(local)["Content-Security-Policy"]
