# ruff: noqa: F401, F811 - fixtures imported from tests.email.fixtures are used as parameters
"""Settings → Send domain: a subdomain, its three CNAMEs, Verify DNS, and mail held until then."""

from __future__ import annotations

import pytest

from backstop.email.kinds import KINDS
from backstop.email.messages import queue_email
from backstop.settings import Settings
from jobs.email import send_message
from tests.builders import field_error, text_of
from tests.conftest import free_port, post_form
from tests.email.fixtures import SHARED_SENDER, aws_env, dns_server, identities, publish_dkim, ses

PAGE = "/w/acme/settings/send-domain"


@pytest.fixture
def settings(data_dir, dns_server):
    return Settings(
        data_dir=data_dir,
        secret_key="t" * 48,
        port=free_port(),
        email_transport="ses",
        shared_sender=SHARED_SENDER,
        dns_resolvers=(dns_server.address,),
    )


def add(client, domain: str, from_local: str = "billing"):
    return post_form(client, PAGE, PAGE, {"domain": domain, "from_local": from_local})


def queue_dunning(db, settings, acme, to="sam@customer.test"):
    queued = queue_email(
        db, settings, workspace_id=acme.id, kind="dunning_1", to_email=to, to_name="Sam",
        context=KINDS["dunning_1"].sample,
    )  # fmt: skip
    send_message(queued.id)
    return queued.id


def test_it_refuses_the_apex_domain_and_says_why(as_olivia, identities):
    response = add(as_olivia, "acme.test")
    assert response.status_code == 400
    error = field_error(response.text, "domain")
    assert "main (apex) domain" in error and "mail.acme.test" in error
    assert not identities.tokens


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "Enter a subdomain"),
        ("billing@mail.acme.test", "not an email address"),
        ("mail acme.test", "isn't a valid domain name"),
        ("-mail.acme.test", "isn't a valid domain name"),
        ("co.uk", "public suffix"),
        ("mail.acme.test\r\nX-Injected: 1", "isn't a valid domain name"),
    ],
)
def test_it_explains_an_invalid_domain(as_olivia, identities, raw, expected):
    response = add(as_olivia, raw)
    assert response.status_code == 400
    assert expected in field_error(response.text, "domain")


def test_it_shows_the_three_cname_records_to_copy(as_olivia, identities):
    response = add(as_olivia, "https://Mail.Acme.test/")
    assert response.status_code in (302, 303)
    page = as_olivia.get(PAGE).text
    tokens = identities.tokens["mail.acme.test"]
    assert len(tokens) == 3
    for token in tokens:
        assert f"{token}._domainkey.mail.acme.test" in page
        assert f"{token}.dkim.amazonses.com" in page
    text = text_of(page)
    assert "Waiting for DNS" in text
    assert "Emails go out from billing@mail.acme.test once the domain is verified" in text


def test_it_says_which_record_is_missing_or_wrong_and_what_it_saw(as_olivia, identities, dns_server):
    add(as_olivia, "mail.acme.test")
    first, second, _ = identities.tokens["mail.acme.test"]
    dns_server.cname(f"{first}._domainkey.mail.acme.test", f"{first}.dkim.amazonses.com")
    dns_server.cname(f"{second}._domainkey.mail.acme.test", "typo.dkim.amazonses.com")
    response = post_form(as_olivia, PAGE, PAGE + "/verify", {})
    assert response.status_code == 200
    text = text_of(response.text)
    assert "✓ Found" in text
    assert "✗ Wrong points to typo.dkim.amazonses.com instead" in text
    assert "✗ Missing no record with this name yet" in text
    assert "Not verified yet" in text
    assert "No DMARC record at _dmarc.acme.test" in text
    assert "v=DMARC1; p=none; rua=mailto:dmarc-reports@acme.test" in text


def test_it_finds_a_dmarc_record_on_the_organisational_domain(as_olivia, identities, dns_server):
    add(as_olivia, "mail.acme.test")
    dns_server.txt("_dmarc.acme.test", "v=DMARC1; p=quarantine")
    text = text_of(post_form(as_olivia, PAGE, PAGE + "/verify", {}).text)
    assert "✓ v=DMARC1; p=quarantine at _dmarc.acme.test" in text
    assert "No DMARC record" not in text


def test_an_unverified_domain_holds_mail_as_blocked_and_verifying_releases_it(
    as_olivia, identities, dns_server, ses, db, settings, acme
):
    add(as_olivia, "mail.acme.test")
    message_id = queue_dunning(db, settings, acme)

    assert ses.sent_messages == []
    log = text_of(as_olivia.get("/w/acme/emails").text)
    assert "Blocked Waiting for mail.acme.test to be verified" in log
    domain_page = text_of(as_olivia.get(PAGE).text)
    assert "1 email blocked. Waiting for mail.acme.test to be verified" in domain_page

    # The sweeper leaves held mail alone: it is not due until the domain verifies.
    from jobs.sweeper import sweep_once

    assert "email_messages" not in sweep_once()
    assert ses.sent_messages == []

    publish_dkim(dns_server, "mail.acme.test", identities.tokens["mail.acme.test"])
    response = post_form(as_olivia, PAGE, PAGE + "/verify", {})
    assert response.headers["location"].endswith("?done=verified")
    assert "Verified: mail now goes out from your domain." in text_of(
        as_olivia.get(response.headers["location"]).text
    )

    assert len(ses.sent_messages) == 1
    assert ses.sent_messages[0].source == "billing@mail.acme.test"
    detail = text_of(as_olivia.get(f"/w/acme/emails/{message_id}").text)
    assert "Status Sent" in detail and "billing@mail.acme.test" in detail


def test_removing_the_domain_sends_held_mail_from_the_shared_sender(
    as_olivia, identities, ses, db, settings, acme
):
    add(as_olivia, "mail.acme.test")
    queue_dunning(db, settings, acme)
    assert ses.sent_messages == []

    response = post_form(as_olivia, PAGE, PAGE + "/remove", {})
    assert response.headers["location"].endswith("?done=removed")
    assert [m.source for m in ses.sent_messages] == [SHARED_SENDER]
    names = {i["IdentityName"] for i in identities.client.list_email_identities()["EmailIdentities"]}
    assert names == {SHARED_SENDER}
    assert "Add a domain" in text_of(as_olivia.get(PAGE).text)


def test_a_workspace_gets_one_subdomain_that_no_other_workspace_uses(as_olivia, identities, db, box, olivia):
    from backstop.workspaces.workspaces import create_workspace

    create_workspace(db, box, "Beta", olivia.admin, "beta")
    add(as_olivia, "mail.acme.test")
    other = "/w/beta/settings/send-domain"
    response = post_form(as_olivia, other, other, {"domain": "MAIL.acme.test", "from_local": "billing"})
    assert response.status_code == 400
    assert "already the send domain of another workspace" in field_error(response.text, "domain")


def test_a_member_cannot_add_a_domain(as_marco, identities):
    response = add(as_marco, "mail.acme.test")
    assert response.status_code == 403
    assert identities.tokens == {}


def test_it_refuses_a_bad_from_address(as_olivia, identities):
    response = add(as_olivia, "mail.acme.test", from_local="bill ing\r\nBcc: x")
    assert response.status_code == 400
    assert "part before the @" in field_error(response.text, "from_local")
