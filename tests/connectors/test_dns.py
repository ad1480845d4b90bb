"""DNS lookups against a DNS server on loopback: found, missing (two ways), and no answer."""

# ruff: noqa: F401, F811 - fixtures imported from tests.email.fixtures are used as parameters
from __future__ import annotations

import socket

from backstop.connectors import dns as dnslookup
from tests.email.fixtures import dns_server


def test_it_reads_cname_and_txt_records(dns_server):
    dns_server.cname("abc._domainkey.mail.acme.test", "abc.dkim.amazonses.com")
    dns_server.txt("_dmarc.acme.test", "v=DMARC1; p=none")
    resolver = dns_server.resolver()
    assert dnslookup.cname(resolver, "abc._domainkey.mail.acme.test").values == ["abc.dkim.amazonses.com"]
    assert dnslookup.txt(resolver, "_dmarc.acme.test").values == ["v=DMARC1; p=none"]


def test_it_tells_a_missing_name_from_a_name_without_that_record(dns_server):
    dns_server.txt("abc._domainkey.mail.acme.test", "v=DKIM1; p=xyz")
    resolver = dns_server.resolver()
    assert dnslookup.cname(resolver, "nothing.mail.acme.test").problem == "nxdomain"
    assert dnslookup.cname(resolver, "abc._domainkey.mail.acme.test").problem == "nodata"


def test_a_silent_server_is_reported_as_a_timeout():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        resolver = dnslookup.make_resolver((f"127.0.0.1:{port}",), timeout=0.3)
        assert dnslookup.cname(resolver, "x.acme.test").problem == "timeout"
