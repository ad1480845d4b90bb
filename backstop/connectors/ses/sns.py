"""Amazon SNS messages: check the signature against the certificate SNS names, and fetch that
certificate (or a subscription's confirm URL) without letting a forged message steer the fetch.

Only https URLs on ``sns.<region>.amazonaws.com`` are fetched, each name resolved once, every
address checked to be public, and the connection made to that checked address (so a DNS answer
cannot change between check and use). A configured test host is the one exception.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import re
import socket
import ssl
import threading
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SNS_HOST_RE = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
MAX_BODY = 64 * 1024

NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SUBSCRIPTION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


def _describe(url: str, parts, netloc: str) -> str:
    """What is wrong with a URL, in words: empty, another scheme, no host, or its host."""
    shown = repr(url[:80])
    if not url:
        return "an empty URL"
    if not parts.scheme:
        return f"{shown}, which has no scheme"
    if parts.scheme not in ("http", "https"):
        return f"{shown}, a {parts.scheme}: URL"
    if not netloc:
        return f"{shown}, which has no host"
    return netloc


class SnsError(Exception):
    """Why a message was not trusted or a fetch was refused, in one sentence."""


def string_to_sign(message: dict) -> bytes:
    kind = message.get("Type")
    keys = NOTIFICATION_KEYS if kind == "Notification" else SUBSCRIPTION_KEYS
    parts = []
    for key in keys:
        if key in message and message[key] is not None:
            parts.append(f"{key}\n{message[key]}\n")
        elif key != "Subject":
            raise SnsError(f"The SNS message has no {key}.")
    return "".join(parts).encode()


class SnsVerifier:
    def __init__(self, test_host: str | None = None, timeout: float = 10) -> None:
        self.test_host = test_host.lower() if test_host else None
        self.timeout = timeout
        self._certs: dict[str, x509.Certificate] = {}
        self._lock = threading.Lock()

    def check_url(self, url: str) -> tuple[str, str, int, str]:
        """(scheme, host, port, path) of a URL SNS may point us at; SnsError otherwise."""
        parts = urlsplit(url or "")
        host = (parts.hostname or "").lower()
        try:
            port = parts.port
        except ValueError:
            raise SnsError("The SNS URL has a malformed port.")
        netloc = f"{host}:{port}" if port else host
        if self.test_host and netloc == self.test_host and parts.scheme in ("http", "https"):
            return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), _path(parts)
        if parts.scheme != "https" or not SNS_HOST_RE.match(host) or port not in (None, 443):
            raise SnsError(
                f"Refusing {_describe(url, parts, netloc)}: SNS URLs must be https on sns.<region>.amazonaws.com."
            )
        return "https", host, 443, _path(parts)

    def fetch(self, url: str) -> bytes:
        scheme, host, port, path = self.check_url(url)
        address = self._resolve(
            host, port, allow_private=self.test_host is not None and host in self.test_host
        )
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = _PinnedHTTPS(host, port, address, self.timeout)
        else:
            conn = _PinnedHTTP(host, port, address, self.timeout)
        try:
            conn.request("GET", path, headers={"User-Agent": "Backstop-SNS/1", "Accept": "*/*"})
            response = conn.getresponse()
            if response.status != 200:
                raise SnsError(f"{host} answered {response.status} for {path}.")
            body = response.read(MAX_BODY + 1)
        except OSError as exc:
            raise SnsError(f"Could not fetch from {host}: {exc}")
        finally:
            conn.close()
        if len(body) > MAX_BODY:
            raise SnsError(f"{host} sent more than {MAX_BODY // 1024} KB.")
        return body

    def _resolve(self, host: str, port: int, allow_private: bool) -> str:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise SnsError(f"{host} does not resolve: {exc}")
        addresses = [info[4][0] for info in infos]
        if not allow_private:
            for addr in addresses:
                ip = ipaddress.ip_address(addr)
                if not ip.is_global:
                    raise SnsError(f"{host} resolves to a non-public address ({addr}); refused.")
        return addresses[0]

    def certificate(self, url: str) -> x509.Certificate:
        self.check_url(url)
        with self._lock:
            cached = self._certs.get(url)
        if cached is not None:
            return cached
        if not urlsplit(url).path.endswith(".pem"):
            raise SnsError("The SNS signing certificate URL must end in .pem.")
        try:
            cert = x509.load_pem_x509_certificate(self.fetch(url))
        except ValueError:
            raise SnsError("The SNS signing certificate is not a PEM certificate.")
        with self._lock:
            self._certs[url] = cert
        return cert

    def verify(self, message: dict) -> None:
        """Raise SnsError unless ``message`` carries a valid SNS signature."""
        version = str(message.get("SignatureVersion", ""))
        algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(version)  # noqa: S303 - SNS v1 is SHA1
        if algorithm is None:
            raise SnsError(f"Unknown SNS SignatureVersion {version!r}.")
        try:
            signature = base64.b64decode(message.get("Signature", ""), validate=True)
        except ValueError:
            raise SnsError("The SNS signature is not base64.")
        key = self.certificate(message.get("SigningCertURL", "")).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise SnsError("The SNS certificate does not hold an RSA key.")
        try:
            key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm)
        except InvalidSignature:
            raise SnsError("The SNS signature does not match the message.")


def _path(parts) -> str:
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
