"""Outbound HTTP to addresses a workspace typed in, with the SSRF guard.

Every request resolves the host, refuses addresses inside the operator's network (loopback,
private, link-local, CGNAT, multicast, unspecified, reserved, cloud metadata), and then connects
to the exact address it checked: the URL handed to httpx carries the IP literal, while the Host
header and TLS SNI/certificate check carry the name. A DNS answer that changes between the check
and the connection (rebinding) therefore cannot move the request. Redirects are never followed.

``allow_private`` (BACKSTOP_WEBHOOKS_ALLOW_PRIVATE) permits plain http and private and loopback
addresses for development; cloud metadata, multicast, unspecified and reserved addresses stay
refused whatever the setting.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import httpx

Resolver = Callable[[str, int], list[str]]

METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
DEFAULT_TIMEOUT = 10.0
EXCERPT_BYTES = 2048


class Refused(Exception):
    """The URL may not be called; ``str()`` is one sentence a founder can act on."""


class SendFailed(Exception):
    """The request was made (or tried) and did not produce an HTTP answer: timeout, refused
    connection, TLS error."""


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str  # as typed, lower-case, without brackets
    port: int
    path: str  # path and query, at least "/"
    addresses: tuple[str, ...]


@dataclass
class Answer:
    status: int
    excerpt: bytes
    headers: dict[str, str] = field(default_factory=dict)
    elapsed_ms: int = 0
    address: str = ""


class Transport(Protocol):
    """Something other than the network that answers ``post`` (the demo's recording receiver)."""

    def send(self, target: Target, body: bytes, headers: dict[str, str], timeout: float) -> Answer: ...


_installed_transport: Transport | None = None


def install_transport(transport: Transport | None) -> None:
    """Answer every ``post`` with ``transport`` instead of the network (None restores it). With a
    transport installed no host is resolved and no connection is opened: ``backstop demo``
    installs its recording receiver here, so its webhook deliveries can't leave the process."""
    global _installed_transport
    _installed_transport = transport


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Refused(f"The host {host} could not be resolved ({exc.strerror}); check the address.") from None
    out: list[str] = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        if address not in out:
            out.append(address)
    return out


def dns_resolver(nameservers: tuple[str, ...], timeout: float = 4.0) -> Resolver:
    """A resolver asking the given DNS servers (BACKSTOP_DNS_RESOLVERS) for A and AAAA records."""
    import dns.exception
    import dns.resolver

    from backstop.connectors.dns import make_resolver

    def resolve(host: str, port: int) -> list[str]:
        try:
            ipaddress.ip_address(host)
            return [host]
        except ValueError:
            pass
        resolver = make_resolver(nameservers, timeout)
        out: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                out += [r.to_text() for r in resolver.resolve(host, rdtype)]
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
                continue
            except dns.exception.Timeout:
                raise Refused(f"The DNS servers did not answer for {host}; try again later.") from None
        if not out:
            raise Refused(f"The host {host} could not be resolved; check the address.")
        return out

    return resolve


def refusal_for(address: str, allow_private: bool) -> str | None:
    """Why ``address`` may not be called, or None."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "is a cloud metadata address"
    if ip.is_multicast:
        return "is a multicast address"
    if ip.is_unspecified:
        return "is an unspecified address"
    if ip.is_reserved and not ip.is_loopback:
        return "is a reserved address"
    if allow_private:
        return None
    if ip.is_loopback:
        return "is a loopback address"
    if ip.is_link_local:
        return "is a link-local address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT:
        return "is a carrier-grade NAT (100.64.0.0/10) address"
    if ip.is_private:
        return "is a private network address"
    if ip.is_reserved or not ip.is_global:
        return "is a reserved address"
    return None


def check_url(url: str, *, allow_private: bool = False, resolver: Resolver | None = None) -> Target:
    """Parse, resolve and vet ``url``; raise ``Refused`` with the reason. No connection is made."""
    raw = (url or "").strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise Refused("The URL is malformed; use an address such as https://example.com/webhooks.") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Refused(
            "The URL must start with https:// and name a host, such as https://example.com/webhooks."
        )
    if parts.scheme == "http" and not allow_private:
        raise Refused("The URL must use https://; plain http is allowed only in development.")
    if parts.username or parts.password:
        raise Refused("The URL must not contain a user name or password.")
    if len(raw) > 2000:
        raise Refused("The URL is longer than 2,000 characters.")
    host = parts.hostname.lower()
    port = port or (443 if parts.scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if _installed_transport is not None:  # nothing is resolved or connected to: no address to vet
        return Target(raw, parts.scheme, host, port, path, ())
    addresses = (resolver or system_resolver)(host, port)
    if not addresses:
        raise Refused(f"The host {host} could not be resolved; check the address.")
    for address in addresses:
        why = refusal_for(address, allow_private)
        if why:
            shown = host if host == address else f"{host} ({address})"
            raise Refused(f"{shown} {why}; webhooks can only be sent to the public internet.")
    return Target(raw, parts.scheme, host, port, path, tuple(addresses))


@functools.cache
def default_tls() -> ssl.SSLContext:
    """One verifying TLS context for every request: loading the CA bundle takes ~90 ms, far more
    than a delivery. SSLContext is safe to share between threads."""
    return ssl.create_default_context()


def _pinned_url(target: Target, address: str) -> str:
    literal = f"[{address}]" if ":" in address else address
    return f"{target.scheme}://{literal}:{target.port}{target.path}"


def _host_header(target: Target) -> str:
    name = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return name if target.port == default else f"{name}:{target.port}"


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool = False,
    resolver: Resolver | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    tls: ssl.SSLContext | None = None,
) -> Answer:
    """POST ``body`` to ``url`` after the guard; the answer is never a redirect followed.

    Raises ``Refused`` before any connection when the address is not allowed, ``SendFailed`` when
    no HTTP answer came back in ``timeout`` seconds."""
    target = check_url(url, allow_private=allow_private, resolver=resolver)
    if _installed_transport is not None:
        return _installed_transport.send(target, body, headers, timeout)
    address = target.addresses[0]
    started = time.monotonic()
    deadline = started + timeout
    try:
        with httpx.Client(
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(timeout),
            verify=tls or default_tls(),
        ) as client:
            request = client.build_request(
                "POST",
                _pinned_url(target, address),
                content=body,
                headers={**headers, "Host": _host_header(target)},
                extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
            )
            response = client.send(request, stream=True)
            try:
                excerpt = b""
                for chunk in response.iter_raw():
                    excerpt += chunk
                    if len(excerpt) >= EXCERPT_BYTES or time.monotonic() > deadline:
                        break
                if time.monotonic() > deadline:
                    raise SendFailed(f"No complete answer within {timeout:g} seconds.")
                return Answer(
                    status=response.status_code,
                    excerpt=excerpt[:EXCERPT_BYTES],
                    headers={k.lower(): v for k, v in response.headers.items()},
                    elapsed_ms=int((time.monotonic() - started) * 1000),
                    address=address,
                )
            finally:
                response.close()
    except httpx.TimeoutException:
        raise SendFailed(f"No answer within {timeout:g} seconds.") from None
    except httpx.HTTPError as exc:
        raise SendFailed(f"The connection failed: {exc or type(exc).__name__}.") from None
