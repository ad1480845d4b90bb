"""The SES transport and identities against moto: what SES refuses, and Easy DKIM identities."""

# ruff: noqa: F401, F811 - fixtures imported from tests.email.fixtures are used as parameters
from __future__ import annotations

import pytest

from backstop.connectors.ses import NotSent, OutgoingEmail, Rejected
from backstop.connectors.ses.ses import SesIdentities, SesMailer
from tests.conftest import free_port
from tests.email.fixtures import SHARED_SENDER, aws_env, ses

RAW = (
    b"From: Acme <" + SHARED_SENDER.encode() + b">\r\nTo: sam@customer.test\r\nSubject: Hi\r\n"
    b"List-Unsubscribe: <https://b.test/u/x>\r\n\r\nHello\r\n"
)


def test_it_sends_the_raw_message_with_our_headers(ses):
    message_id = SesMailer().send(OutgoingEmail(SHARED_SENDER, "sam@customer.test", RAW))
    [sent] = ses.sent_messages
    assert sent.id == message_id
    assert "List-Unsubscribe: <https://b.test/u/x>" in sent.raw_data


def test_an_unverified_sender_is_refused_for_good(ses):
    with pytest.raises(Rejected, match="MessageRejected"):
        SesMailer().send(OutgoingEmail("billing@unverified.test", "sam@customer.test", RAW))
    assert ses.sent_messages == []


def test_an_unreachable_endpoint_is_retried_later(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SES", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(NotSent, match="could not be reached"):
        SesMailer().send(OutgoingEmail(SHARED_SENDER, "sam@customer.test", RAW))


def test_a_missing_region_says_how_to_fix_it(aws_env, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(NotSent, match="set AWS_DEFAULT_REGION"):
        SesMailer().send(OutgoingEmail(SHARED_SENDER, "sam@customer.test", RAW))


def test_a_domain_identity_is_created_checked_and_deleted(ses):
    identities = SesIdentities()
    identities.create("mail.acme.test")
    status = identities.status("mail.acme.test")
    assert status.verified is False and status.dkim_status in ("PENDING", "NOT_STARTED")
    identities.create("mail.acme.test")  # adding it again reuses it
    identities.delete("mail.acme.test")
    assert identities.status("mail.acme.test").dkim_status == "MISSING"
    identities.delete("mail.acme.test")  # already gone: nothing to do
