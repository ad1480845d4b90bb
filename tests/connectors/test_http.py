"""The SSRF guard of outbound HTTP: refusals happen before any connection is attempted, the
request goes to the exact address that was checked, and redirects are never followed."""

# ruff: noqa: F401, F811 - fixtures imported from other test modules are used as parameters
from __future__ import annotations

import socket

import pytest

from backstop.connectors import http
from tests.email.fixtures import dns_server
from tests.webhooks_out.conftest import connections, receiver

BODY = b'{"id":"evt_1"}'


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("https://[::1]/hook", "loopback"),
        ("https://[fd00:ec2::254]/", "cloud metadata"),
        ("https://10.1.2.3/hook", "private network"),
        ("https://192.168.1.10/hook", "private network"),
        ("https://100.64.0.7/hook", "carrier-grade NAT"),
        ("https://169.254.10.1/hook", "link-local"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://224.0.0.1/hook", "multicast"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://240.0.0.1/hook", "reserved"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
    ],
)
def test_it_refuses_internal_addresses_without_connecting(url, why, connections):
    with pytest.raises(http.Refused, match=why):
        http.post(url, BODY, {})
    assert connections == []


def test_it_refuses_a_loopback_receiver_that_is_really_listening(receiver, connections):
    https_url = receiver.url.replace("http://", "https://")
    with pytest.raises(http.Refused, match="loopback"):
        http.post(https_url, BODY, {})
    assert connections == [] and receiver.requests == []


def test_a_name_resolving_to_a_private_address_is_refused_before_connecting(dns_server, connections):
    dns_server.a("hooks.sneaky.test", "10.0.0.1")
    resolver = http.dns_resolver((dns_server.address,), timeout=2)
    with pytest.raises(
        http.Refused, match=r"hooks\.sneaky\.test \(10\.0\.0\.1\) is a private network address"
    ):
        http.post("https://hooks.sneaky.test/webhook", BODY, {}, resolver=resolver)
    # The only traffic was the DNS question (UDP); no TCP connection to anything.
    assert connections == []


def test_one_private_address_among_public_ones_is_enough_to_refuse(dns_server, connections):
    dns_server.a("mixed.sneaky.test", "93.184.216.34", "127.0.0.1")
    resolver = http.dns_resolver((dns_server.address,), timeout=2)
    with pytest.raises(http.Refused, match="loopback"):
        http.check_url("https://mixed.sneaky.test/", resolver=resolver)
    assert connections == []


def test_plain_http_needs_the_development_setting(connections):
    with pytest.raises(http.Refused, match="must use https://"):
        http.check_url("http://example.com/hook", resolver=lambda host, port: ["93.184.216.34"])
    assert http.check_url(
        "http://example.com/hook", allow_private=True, resolver=lambda h, p: ["93.184.216.34"]
    )
    assert connections == []


def test_the_development_setting_still_refuses_metadata_and_multicast(connections):
    for url in ("http://169.254.169.254/", "http://[fd00:ec2::254]/", "http://239.1.1.1/"):
        with pytest.raises(http.Refused):
            http.post(url, BODY, {}, allow_private=True)
    assert connections == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "https://user:pw@example.com/",
        "https://example.com:99999/",
        "example.com/hook",
        "",
    ],
)
def test_malformed_or_unsupported_urls_are_refused_with_a_reason(url):
    with pytest.raises(http.Refused) as refused:
        http.check_url(url, resolver=lambda h, p: ["93.184.216.34"])
    assert str(refused.value).endswith(".")


def test_it_connects_to_the_address_it_checked_not_a_second_lookup(receiver, connections):
    """A rebinding DNS answers a public address to the check and an internal one afterwards; the
    request still goes to the checked address (here the loopback receiver, allowed in
    development) with the typed name in the Host header."""
    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])
    lookups: list[str] = []

    def rebinding(host, p):
        lookups.append(host)
        return next(answers)

    answer = http.post(
        f"http://rebind.test:{port}/hooks/backstop", BODY, {"Content-Type": "application/json"},
        allow_private=True, resolver=rebinding,
    )  # fmt: skip
    assert answer.status == 200 and answer.address == "127.0.0.1"
    assert lookups == ["rebind.test"]  # one lookup: the connection used its answer
    assert connections == [("127.0.0.1", port)]
    assert receiver.requests[0].headers["host"] == f"rebind.test:{port}"
    assert receiver.requests[0].body == BODY


def test_a_redirect_to_a_private_address_is_not_followed(receiver, connections):
    receiver.answer(302, headers={"Location": "http://10.0.0.1/internal"})
    answer = http.post(receiver.url, BODY, {}, allow_private=True)
    assert answer.status == 302
    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    assert connections == [("127.0.0.1", port)]  # never 10.0.0.1
    assert len(receiver.requests) == 1


def test_it_keeps_only_the_first_2_kb_of_the_answer(receiver):
    receiver.answer(500, body=b"x" * 10_000)
    answer = http.post(receiver.url, BODY, {}, allow_private=True)
    assert answer.status == 500 and len(answer.excerpt) == 2048


def test_a_receiver_that_never_answers_is_a_timeout(receiver):
    import threading

    receiver.hang = threading.Event()
    with pytest.raises(http.SendFailed, match=r"No answer within 0\.5 seconds"):
        http.post(receiver.url, BODY, {}, allow_private=True, timeout=0.5)
    receiver.hang.set()


def test_nothing_listening_is_a_send_failure_not_a_crash():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(http.SendFailed, match="connection failed"):
        http.post(f"http://127.0.0.1:{port}/", BODY, {}, allow_private=True)


def _tls_receiver(tmp_path, name: str):
    """An HTTPS receiver on 127.0.0.1 whose certificate names only ``name``; records the SNI."""
    import datetime
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    seen: dict = {"sni": [], "host": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen["host"].append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            return None

    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert_path, key_path)
    server_tls.sni_callback = lambda sock, sni, ctx: seen["sni"].append(sni)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client_tls = ssl.create_default_context(cafile=str(cert_path))
    return server, client_tls, seen


def test_over_https_it_sends_the_name_as_sni_and_checks_the_certificate_against_it(tmp_path, connections):
    server, client_tls, seen = _tls_receiver(tmp_path, "hooks.acme.test")
    port = server.server_address[1]
    try:
        answer = http.post(
            f"https://hooks.acme.test:{port}/hook", BODY, {}, allow_private=True,
            resolver=lambda host, p: ["127.0.0.1"], tls=client_tls,
        )  # fmt: skip
        assert answer.status == 204
        assert seen["sni"] == ["hooks.acme.test"] and seen["host"] == [f"hooks.acme.test:{port}"]
        assert connections == [("127.0.0.1", port)]
        # Another name on the same address: the certificate doesn't name it, so no request is made.
        with pytest.raises(http.SendFailed, match="connection failed"):
            http.post(
                f"https://other.acme.test:{port}/hook", BODY, {}, allow_private=True,
                resolver=lambda host, p: ["127.0.0.1"], tls=client_tls,
            )  # fmt: skip
        assert seen["host"] == [f"hooks.acme.test:{port}"]
    finally:
        server.shutdown()


def test_an_installed_transport_answers_instead_of_the_network():
    """What ``backstop demo`` relies on: no name is resolved and no socket opened while a
    transport is installed, and the URL's own rules still apply."""
    sent: list[tuple[str, bytes]] = []

    class Recorder:
        def send(self, target, body, headers, timeout):
            sent.append((target.url, body))
            return http.Answer(status=202, excerpt=b"kept")

    def no_lookup(host, port):
        raise AssertionError(f"{host} was looked up")

    http.install_transport(Recorder())
    try:
        answer = http.post("https://hooks.demo.invalid/backstop", BODY, {}, resolver=no_lookup)
        with pytest.raises(http.Refused, match="https://"):
            http.post("ftp://hooks.demo.invalid/x", BODY, {})
    finally:
        http.install_transport(None)
    assert answer.status == 202 and sent == [("https://hooks.demo.invalid/backstop", BODY)]
    with pytest.raises(http.Refused, match="loopback"):  # the guard is back once it is removed
        http.post("https://127.0.0.1/hook", BODY, {})
