"""The SMTP transport against a real SMTP server on loopback (aiosmtpd) with STARTTLS and AUTH."""

from __future__ import annotations

import ssl
from email import message_from_bytes
from email.policy import default

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from backstop.connectors.ses import NotSent, OutgoingEmail, Rejected
from backstop.connectors.ses.smtp import SmtpMailer
from tests.conftest import free_port
from tests.email.fixtures import make_cert


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@nowhere.test"):
            return "550 5.1.1 No such user here"
        if address.endswith("@busy.test"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"backstop" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server(tmp_path, monkeypatch):
    cert = make_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert.cert_path, cert.key_path)
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
        authenticator=authenticator, auth_required=True, auth_require_tls=True,
    )  # fmt: skip
    controller.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert.cert_path))  # the client trusts the test CA
    yield inbox, port
    controller.stop()


def mail(to: str = "sam@customer.test") -> OutgoingEmail:
    raw = f"From: Acme <billing@acme.test>\r\nTo: {to}\r\nSubject: Hello\r\n\r\nHi Sam\r\n".encode()
    return OutgoingEmail("billing@acme.test", to, raw, "<m1@acme.test>")


def test_it_sends_over_starttls_with_a_login(smtp_server):
    inbox, port = smtp_server
    mailer = SmtpMailer(f"smtp://backstop:s3cret@127.0.0.1:{port}")
    assert mailer.send(mail()) == "<m1@acme.test>"
    sender, recipients, raw = inbox.messages[0]
    assert sender == "billing@acme.test" and recipients == ["sam@customer.test"]
    assert message_from_bytes(raw, policy=default)["Subject"] == "Hello"


def test_a_wrong_password_is_a_clear_retryable_error(smtp_server):
    inbox, port = smtp_server
    with pytest.raises(NotSent, match="refused the SMTP username or password"):
        SmtpMailer(f"smtp://backstop:wrong@127.0.0.1:{port}").send(mail())
    assert inbox.messages == []


def test_a_refused_recipient_is_permanent_and_a_busy_one_is_retried(smtp_server):
    _, port = smtp_server
    mailer = SmtpMailer(f"smtp://backstop:s3cret@127.0.0.1:{port}")
    with pytest.raises(Rejected, match="550"):
        mailer.send(mail("ghost@nowhere.test"))
    with pytest.raises(NotSent, match="451"):
        mailer.send(mail("sam@busy.test"))


def test_it_refuses_a_certificate_it_cannot_trust(smtp_server, monkeypatch, tmp_path):
    inbox, port = smtp_server
    other = make_cert(tmp_path / "..", "other")
    monkeypatch.setenv("SSL_CERT_FILE", str(other.cert_path))
    with pytest.raises(NotSent, match=r"TLS with 127\.0\.0\.1 failed"):
        SmtpMailer(f"smtp://backstop:s3cret@127.0.0.1:{port}").send(mail())
    assert inbox.messages == []


def test_it_will_not_send_in_clear_to_a_server_without_starttls():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with pytest.raises(NotSent, match="does not offer STARTTLS"):
            SmtpMailer(f"smtp://backstop:s3cret@127.0.0.1:{port}").send(mail())
        # A relay on the same machine may be used without encryption, when asked for by name.
        SmtpMailer(f"smtp+plain://127.0.0.1:{port}").send(mail())
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


def test_an_unreachable_server_is_retried_later():
    with pytest.raises(NotSent, match="Could not connect"):
        SmtpMailer(f"smtp://127.0.0.1:{free_port()}", timeout=2).send(mail())
