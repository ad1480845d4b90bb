"""DNS lookups with dnspython: the system's resolver, or the servers BACKSTOP_DNS_RESOLVERS names.

Each lookup says what it found, or exactly why nothing: the name doesn't exist, it exists with
no record of that type, or the resolver didn't answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.nameserver
import dns.resolver


@dataclass(frozen=True)
class Answer:
    values: list[str] = field(default_factory=list)
    problem: str | None = None  # nxdomain | nodata | timeout | error

    @property
    def found(self) -> bool:
        return bool(self.values)


# A resolver that answers every lookup instead of the network (``backstop demo``), or None.
_installed: dns.resolver.Resolver | None = None


def install_resolver(resolver: dns.resolver.Resolver | None) -> None:
    """Make every lookup go to ``resolver``; None goes back to the network."""
    global _installed
    _installed = resolver


class Unreachable(dns.resolver.Resolver):
    """A resolver that asks nobody: every name is unknown, and no query leaves the process."""

    def __init__(self) -> None:
        super().__init__(configure=False)

    def resolve(self, qname, rdtype="A", *args, **kwargs):
        raise dns.resolver.NXDOMAIN(qnames=[dns.name.from_text(str(qname))])


def make_resolver(nameservers: tuple[str, ...] = (), timeout: float = 4.0) -> dns.resolver.Resolver:
    if _installed is not None:
        return _installed
    if not nameservers:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        servers = []
        for item in nameservers:
            host, _, port = item.rpartition(":") if item.count(":") == 1 else (item, "", "")
            servers.append(dns.nameserver.Do53Nameserver(host, int(port) if port else 53))
        resolver.nameservers = servers
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.cache = None
    return resolver


def _lookup(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> Answer:
    try:
        answer = resolver.resolve(name, rdtype, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return Answer(problem="nxdomain")
    except (dns.resolver.LifetimeTimeout, dns.exception.Timeout):
        return Answer(problem="timeout")
    except (dns.resolver.NoNameservers, dns.exception.DNSException):
        return Answer(problem="error")
    if answer.rrset is None:
        # A CNAME query can be answered by a chain ending elsewhere: keep only our own type.
        return Answer(problem="nodata")
    return Answer(values=[_text(rdata, rdtype) for rdata in answer.rrset])


def _text(rdata, rdtype: str) -> str:
    if rdtype == "TXT":
        return b"".join(rdata.strings).decode(errors="replace")
    return rdata.to_text().rstrip(".").lower()


def cname(resolver: dns.resolver.Resolver, name: str) -> Answer:
    return _lookup(resolver, name, "CNAME")


def txt(resolver: dns.resolver.Resolver, name: str) -> Answer:
    return _lookup(resolver, name, "TXT")
