# ruff: noqa: F811 - dns_server is a fixture imported from tests.email.fixtures
"""Settings → Portal domain: subdomains only, DNS verification with a local DNS server, Host
routing (only that workspace's hosted pages), tls-allowed for Caddy, and the periodic re-check."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from backstop.embed import portal_domains, tokens
from backstop.recovery.update_card import card_url
from backstop.settings import Settings
from backstop.workspaces.workspaces import create_workspace
from tests.builders import field_error, text_of
from tests.cancel_flows.stories import sign, subscriber
from tests.conftest import free_port, post_form
from tests.email.fixtures import dns_server  # noqa: F401

PAGE = "/w/acme/settings/portal-domain"
INSTANCE = "backstop.example.test"
HOST = "portal.acme.test"


@pytest.fixture
def settings(data_dir, dns_server):
    return Settings(
        data_dir=data_dir,
        secret_key="t" * 48,
        port=free_port(),
        base_url=f"https://{INSTANCE}",
        secure_cookies=False,
        dns_resolvers=(dns_server.address,),
    )


@pytest.fixture
def stripe_settings(settings, fake_stripe):
    from dataclasses import replace

    return replace(settings, stripe_api_base=fake_stripe.url, stripe_connect_base=fake_stripe.url)


def publish(dns, domain):
    dns.cname(domain.host, INSTANCE)
    dns.txt(domain.txt_name, domain.verify_token)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("acme.test", "main (apex) domain"),
        ("", "Enter a subdomain"),
        ("portal acme.test", "isn't a valid domain name"),
        ("co.uk", "public suffix"),
        (INSTANCE, "this Backstop's own address"),
    ],
)
def test_it_refuses_what_cannot_be_a_portal_domain(as_olivia, db, acme, raw, says):
    response = post_form(as_olivia, PAGE, PAGE, {"host": raw})
    assert response.status_code == 400
    assert says in field_error(response.text, "host")
    assert portal_domains.get(db, acme.id) is None


def test_someone_elses_domain_is_refused(as_olivia, db, box, acme, olivia, settings):
    other, _ = create_workspace(db, box, "Other Co", olivia.admin, "other")
    portal_domains.add(db, settings, other.id, HOST)
    response = post_form(as_olivia, PAGE, PAGE, {"host": HOST})
    assert response.status_code == 400
    assert "already used by another workspace" in field_error(response.text, "host")
    assert portal_domains.get(db, acme.id) is None


def test_verify_dns_shows_what_it_saw_then_verifies(as_olivia, db, acme, dns_server):
    assert post_form(as_olivia, PAGE, PAGE, {"host": "https://Portal.Acme.test/"}).status_code in (302, 303)
    domain = portal_domains.get(db, acme.id)
    assert domain.host == HOST and domain.verify_token.startswith("backstop-verify-")
    page = text_of(as_olivia.get(PAGE).text)
    assert f"_backstop-verify.{HOST}" in page and domain.verify_token in page and INSTANCE in page
    post_form(as_olivia, PAGE, PAGE + "/verify", {})
    page = text_of(as_olivia.get(PAGE + "?done=waiting").text)
    assert "Not verified yet" in page and "Missing: the name doesn't exist yet" in page
    dns_server.cname(HOST, "somewhere-else.example.test")
    post_form(as_olivia, PAGE, PAGE + "/verify", {})
    assert "Wrong: found somewhere-else.example.test" in text_of(as_olivia.get(PAGE).text)
    publish(dns_server, domain)
    post_form(as_olivia, PAGE, PAGE + "/verify", {})
    assert portal_domains.get(db, acme.id).verified
    assert "Verified" in text_of(as_olivia.get(PAGE).text)


def test_a_member_cannot_add_or_verify(as_marco, db, acme):
    assert post_form(as_marco, PAGE, PAGE, {"host": HOST}).status_code == 403
    assert portal_domains.get(db, acme.id) is None


@pytest.fixture
def verified(db, settings, acme, dns_server):
    domain = portal_domains.add(db, settings, acme.id, HOST)
    publish(dns_server, domain)
    assert portal_domains.verify(db, settings, acme.id).verified
    return domain


@pytest.fixture
def web(stripe_settings, db):
    from backstop.web.app import create_app

    with TestClient(app=create_app(stripe_settings, run_jobs=False), base_url="http://127.0.0.1") as c:
        yield c


def on(host):
    return {"Host": host}


def test_a_portal_domain_reaches_only_its_workspaces_hosted_pages(
    web, db, box, acme, olivia, verified, fake_stripe, stripe_settings
):
    from backstop.stripe_sync import connection
    from backstop.workspaces.workspaces import embed_secret

    connection.save_key_connection(
        db, box, acme.id, fake_stripe.add_key(), False, webhook_secret=None, polling=True
    )
    sam = subscriber(db, acme.id, fake_stripe)
    token = sign(embed_secret(db, box, acme.id), sub=sam.customer["id"])
    opened = web.get(f"/portal/{token}", headers=on(HOST), follow_redirects=False)
    assert opened.status_code == 303
    page = web.get(opened.headers["location"], headers=on(HOST))
    assert page.status_code == 200 and "Your subscription" in page.text
    assert "x-backstop-workspace" not in page.headers
    assert web.get("/embed.js", headers=on(HOST)).status_code == 200

    other, _ = create_workspace(db, box, "Other Co", olivia.admin, "other")
    connection.save_key_connection(
        db, box, other.id, fake_stripe.add_key(), False, webhook_secret=None, polling=True
    )
    ben = subscriber(db, other.id, fake_stripe, email="ben@example.com")
    their_token = sign(embed_secret(db, box, other.id), ws="other", sub=ben.customer["id"])
    theirs = web.get(f"/portal/{their_token}", headers=on(HOST), follow_redirects=False)
    assert theirs.status_code == 404 and "Team" not in theirs.text
    assert tokens.check(db, box, their_token).valid  # refused before it was used up
    their_card = card_url(
        "", stripe_settings.secret_key, other.id, ben.customer["id"], ben.subscription["id"]
    )
    assert web.get(their_card).status_code == 200
    assert web.get(their_card, headers=on(HOST)).status_code == 404

    for path in (
        "/login",
        "/w/acme",
        "/api/v1/customers",
        "/u/anything",
        "/internal/tls-allowed?domain=" + HOST,
    ):
        assert web.get(path, headers=on(HOST)).status_code == 404, path

    portal_domains.remove(db, acme.id)
    assert web.get(opened.headers["location"], headers=on(HOST)).status_code == 404


def test_a_host_matching_nothing_is_a_404(web):
    assert web.get("/login", headers=on("evil.example.test")).status_code == 404
    assert web.get("/w/acme", headers=on("evil.example.test")).status_code == 404
    assert web.get("/healthz", headers=on("backstop")).status_code == 200  # a health check by container name
    assert web.get("/internal/tls-allowed?domain=x.acme.test", headers=on("backstop")).status_code == 404
    assert web.get("/login", headers=on(INSTANCE)).status_code == 200
    assert web.get("/healthz").status_code == 200


def test_tls_allowed_answers_for_verified_hosts_only(web, db, settings, acme, dns_server):
    assert web.get("/internal/tls-allowed?domain=" + HOST).status_code == 404
    domain = portal_domains.add(db, settings, acme.id, HOST)
    assert web.get("/internal/tls-allowed?domain=" + HOST).status_code == 404
    publish(dns_server, domain)
    portal_domains.verify(db, settings, acme.id)
    assert web.get("/internal/tls-allowed?domain=" + HOST).status_code == 200
    assert web.get("/internal/tls-allowed?domain=PORTAL.acme.test.").status_code == 200
    assert web.get("/internal/tls-allowed?domain=other.acme.test").status_code == 404
    assert web.get("/internal/tls-allowed").status_code == 404


def test_the_periodic_recheck_withdraws_a_domain_whose_records_are_gone(
    db, settings, acme, verified, dns_server
):
    assert portal_domains.recheck_all(db, settings) == 1
    assert portal_domains.get(db, acme.id).verified
    dns_server.remove(verified.txt_name)
    portal_domains.recheck_all(db, settings)
    assert not portal_domains.get(db, acme.id).verified
    assert portal_domains.public_base(db, settings, acme.id) == settings.public_url


def test_a_resolver_that_does_not_answer_keeps_a_verified_domain(db, settings, acme, verified):
    from dataclasses import replace

    silent = replace(settings, dns_resolvers=(f"127.0.0.1:{free_port()}",))
    portal_domains.verify(db, silent, acme.id)
    assert portal_domains.get(db, acme.id).verified


def test_links_in_emails_use_the_verified_domain(db, settings, acme, verified):
    from backstop.recovery import reminders

    assert portal_domains.public_base(db, settings, acme.id) == f"https://{HOST}"
    link = reminders.portal_link(db, settings, acme.id, "cus_1", "sub_1")
    assert link.startswith(f"https://{HOST}/portal/e/")
