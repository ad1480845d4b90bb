"""Real stand-ins for email's outside world, all on 127.0.0.1: a DNS server answering the
records a test sets, SES through moto (in-process, or moto_server for several processes), an
SMTP server (aiosmtpd) with STARTTLS, and certificates made with ``cryptography``.

Test modules import the fixtures they use from here.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from dnslib import AAAA, CNAME, QTYPE, RR, TXT, A
from dnslib.server import BaseResolver, DNSServer

from backstop.connectors import dns as dnslookup
from backstop.connectors.ses.ses import IdentityStatus, SesIdentities
from backstop.email import providers
from tests.conftest import VENV_BIN, free_port

REGION = "us-east-1"
SHARED_SENDER = "billing@shared.backstop.test"


# --- DNS -------------------------------------------------------------------------------------


class _Records(BaseResolver):
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        for value in self.records.get((name, qtype), []):
            rdata = {"CNAME": lambda v: CNAME(v + "."), "A": A, "AAAA": AAAA}.get(qtype, TXT)(value)
            reply.add_answer(RR(request.q.qname, request.q.qtype, rdata=rdata, ttl=60))
        if not reply.rr and not any(n == name for n, _ in self.records):
            reply.header.rcode = 3  # NXDOMAIN: no record of any type under this name
        return reply


@dataclass
class LocalDns:
    port: int
    records: _Records

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def resolver(self):
        return dnslookup.make_resolver((self.address,), timeout=2)

    def cname(self, name: str, target: str) -> None:
        self.records.records[(name.lower(), "CNAME")] = [target.lower()]

    def txt(self, name: str, value: str) -> None:
        self.records.records[(name.lower(), "TXT")] = [value]

    def a(self, name: str, *addresses: str) -> None:
        """A and AAAA records: IPv6 addresses go to AAAA."""
        for qtype, family in (
            ("A", [x for x in addresses if ":" not in x]),
            ("AAAA", [x for x in addresses if ":" in x]),
        ):
            if family:
                self.records.records[(name.lower(), qtype)] = list(family)

    def remove(self, name: str) -> None:
        for key in [k for k in self.records.records if k[0] == name.lower()]:
            del self.records.records[key]


@pytest.fixture
def dns_server() -> Iterator[LocalDns]:
    records = _Records()
    port = free_port()
    server = DNSServer(records, port=port, address="127.0.0.1")
    server.start_thread()
    try:
        yield LocalDns(port, records)
    finally:
        server.stop()


def publish_dkim(dns: LocalDns, domain: str, tokens: list[str]) -> None:
    for token in tokens:
        dns.cname(f"{token}._domainkey.{domain}", f"{token}.dkim.amazonses.com")


# --- SES -------------------------------------------------------------------------------------


@pytest.fixture
def aws_env(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SES", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    providers._mailers.clear()
    yield
    providers._mailers.clear()


@pytest.fixture
def ses(aws_env) -> Iterator[object]:
    """SES in-process (moto), with the shared sender verified as SES requires."""
    from moto import mock_aws
    from moto.ses.models import ses_backends

    with mock_aws():
        boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SHARED_SENDER)
        yield ses_backends["123456789012"][REGION]


class DnsBackedIdentities(SesIdentities):
    """SES as moto plays it, plus the two things moto leaves out. Its v2 identities carry no DKIM
    tokens, so they come from v1 VerifyDomainDkim; and it never verifies a domain, which real SES
    does once it sees the three CNAMEs: this double looks them up in the test's DNS server."""

    def __init__(self, resolver, client=None) -> None:
        super().__init__(client)
        self.resolver = resolver
        self.tokens: dict[str, list[str]] = {}

    def create(self, domain: str) -> list[str]:
        tokens = super().create(domain)
        if not tokens:
            v1 = boto3.client("ses", region_name=REGION, endpoint_url=self.client.meta.endpoint_url)
            tokens = v1.verify_domain_dkim(Domain=domain)["DkimTokens"]
        self.tokens[domain] = tokens
        return tokens

    def status(self, domain: str) -> IdentityStatus:
        seen = super().status(domain)
        if seen.dkim_status == "MISSING":
            return seen
        published = all(
            f"{t}.dkim.amazonses.com" in dnslookup.cname(self.resolver, f"{t}._domainkey.{domain}").values
            for t in self.tokens.get(domain, [])
        )
        return IdentityStatus(published, "SUCCESS" if published else "PENDING")


@pytest.fixture
def identities(ses, dns_server, monkeypatch) -> DnsBackedIdentities:
    double = DnsBackedIdentities(dns_server.resolver())
    monkeypatch.setattr(providers, "domain_identities", lambda settings: double)
    return double


@dataclass
class MotoServer:
    url: str
    process: subprocess.Popen

    def reset(self) -> None:
        httpx.post(f"{self.url}/moto-api/reset", timeout=10)

    def sent(self) -> list[dict]:
        data = httpx.get(f"{self.url}/moto-api/data.json", timeout=10).json()
        ses = data.get("ses", {})
        return [*ses.get("RawMessage", []), *ses.get("Message", [])]

    def client(self, service: str = "ses"):
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="session")
def moto_server_process() -> Iterator[MotoServer]:
    port = free_port()
    process = subprocess.Popen(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = MotoServer(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.url}/moto-api/data.json", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("moto_server did not start")
    yield server
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def moto_server(moto_server_process, aws_env, monkeypatch) -> MotoServer:
    """moto_server, empty, with the shared sender verified; the SES transport points at it."""
    moto_server_process.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SES", moto_server_process.url)
    moto_server_process.client().verify_email_identity(EmailAddress=SHARED_SENDER)
    return moto_server_process


# --- Certificates ----------------------------------------------------------------------------


@dataclass
class TestCert:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    key_path: Path = field(default=Path())
    cert_path: Path = field(default=Path())

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def make_cert(directory: Path, common_name: str = "127.0.0.1") -> TestCert:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    made = TestCert(key, cert, directory / f"{common_name}.key", directory / f"{common_name}.pem")
    made.key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    made.cert_path.write_bytes(made.cert_pem)
    return made


@dataclass
class FileServer:
    """A tiny HTTP server on loopback serving the bytes a test puts at a path, and recording hits."""

    port: int
    files: dict[str, bytes]
    hits: list[str]

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    files: dict[str, bytes] = {}
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            return

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FileServer(server.server_address[1], files, hits)
    finally:
        server.shutdown()
        server.server_close()


def env_without_backstop() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("BACKSTOP_")}
