"""SNS signatures checked with the certificate SNS names, fetched only from allowed hosts."""

# ruff: noqa: F401, F811 - fixtures imported from tests.email.fixtures are used as parameters
from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from backstop.connectors.ses.sns import SnsError, SnsVerifier, string_to_sign
from tests.email.fixtures import file_server, make_cert


def signed(cert, cert_url: str, message: dict, version: str = "2") -> dict:
    body = {**message, "SignatureVersion": version, "SigningCertURL": cert_url}
    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()  # noqa: S303
    signature = cert.key.sign(string_to_sign(body), padding.PKCS1v15(), algorithm)
    return {**body, "Signature": base64.b64encode(signature).decode()}


NOTIFICATION = {
    "Type": "Notification",
    "MessageId": "a1b2c3",
    "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-feedback",
    "Message": json.dumps({"notificationType": "Bounce"}),
    "Timestamp": "2026-03-01T12:00:00.000Z",
}


@pytest.fixture
def signer(tmp_path, file_server):
    cert = make_cert(tmp_path, "sns.us-east-1.amazonaws.com")
    file_server.files["/SimpleNotificationService-test.pem"] = cert.cert_pem
    return (
        cert,
        file_server.url("/SimpleNotificationService-test.pem"),
        SnsVerifier(test_host=file_server.host),
    )


@pytest.mark.parametrize("version", ["1", "2"])
def test_it_accepts_a_message_signed_with_the_named_certificate(signer, version):
    cert, url, verifier = signer
    verifier.verify(signed(cert, url, NOTIFICATION, version))


def test_it_rejects_a_tampered_message(signer):
    cert, url, verifier = signer
    message = signed(cert, url, NOTIFICATION)
    message["Message"] = json.dumps({"notificationType": "Complaint"})
    with pytest.raises(SnsError, match="does not match"):
        verifier.verify(message)


def test_it_rejects_a_message_signed_by_another_key(signer, tmp_path):
    _, url, verifier = signer
    impostor = make_cert(tmp_path, "impostor")
    with pytest.raises(SnsError, match="does not match"):
        verifier.verify(signed(impostor, url, NOTIFICATION))


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com.evil.test/cert.pem",
        "https://evil.test/sns.us-east-1.amazonaws.com/cert.pem",
        "https://s3.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com:8443/cert.pem",
    ],
)
def test_it_fetches_certificates_only_from_amazons_sns_hosts(url):
    with pytest.raises(SnsError, match="must be https on sns"):
        SnsVerifier().check_url(url)


def test_the_test_host_is_allowed_only_when_configured(signer):
    cert, url, _ = signer
    with pytest.raises(SnsError):
        SnsVerifier().verify(signed(cert, url, NOTIFICATION))


def test_it_refuses_an_amazon_name_that_resolves_to_a_private_address(monkeypatch):
    import socket

    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("10.0.0.5", 443))])
    with pytest.raises(SnsError, match="non-public address"):
        SnsVerifier().fetch("https://sns.us-east-1.amazonaws.com/cert.pem")


def test_it_caches_the_certificate(signer, file_server):
    cert, url, verifier = signer
    for _ in range(3):
        verifier.verify(signed(cert, url, NOTIFICATION))
    assert file_server.hits == ["/SimpleNotificationService-test.pem"]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("file:///etc/passwd", "'file:///etc/passwd', a file: URL"),
        ("gopher://sns.us-east-1.amazonaws.com/x", "a gopher: URL"),
        ("//sns.us-east-1.amazonaws.com/cert.pem", "which has no scheme"),
        ("https:///cert.pem", "which has no host"),
        ("", "an empty URL"),
    ],
)
def test_a_refused_sns_url_says_what_is_wrong_with_it(url, words):
    with pytest.raises(SnsError, match="must be https on sns") as refused:
        SnsVerifier().check_url(url)
    assert words in str(refused.value)
