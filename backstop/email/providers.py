"""The outside services email needs, built from settings: transport, SES identities, DNS, SNS.

Tests replace ``domain_identities`` with a double when SES itself can't be asked (moto never
marks a domain verified); everything else is the real thing pointed at local servers.
"""

from __future__ import annotations

import functools
import threading

import dns.resolver

from backstop.connectors import dns as dnslookup
from backstop.connectors.ses import Mailer
from backstop.connectors.ses.outbox import OutboxMailer
from backstop.connectors.ses.ses import SesIdentities, SesMailer
from backstop.connectors.ses.smtp import SmtpMailer
from backstop.connectors.ses.sns import SnsVerifier
from backstop.settings import Settings

_lock = threading.Lock()
_mailers: dict[tuple, Mailer] = {}


def mailer_for(settings: Settings) -> Mailer:
    """One mailer per configuration, reused: an SES client is slow to build and thread-safe."""
    key = (settings.email_transport, settings.smtp_url, settings.ses_configuration_set)
    with _lock:
        mailer = _mailers.get(key)
        if mailer is None:
            if settings.email_transport == "ses":
                mailer = SesMailer(settings.ses_configuration_set)
            elif settings.email_transport == "smtp":
                if not settings.smtp_url:
                    raise RuntimeError("BACKSTOP_EMAIL_TRANSPORT=smtp needs BACKSTOP_SMTP_URL")
                mailer = SmtpMailer(settings.smtp_url)
            else:
                mailer = OutboxMailer()
            _mailers[key] = mailer
    return mailer


def domain_identities(settings: Settings) -> SesIdentities:
    return SesIdentities()


def dns_resolver(settings: Settings) -> dns.resolver.Resolver:
    return dnslookup.make_resolver(settings.dns_resolvers)


@functools.cache
def _verifier(test_host: str | None) -> SnsVerifier:
    return SnsVerifier(test_host)


def sns_verifier(settings: Settings) -> SnsVerifier:
    return _verifier(settings.sns_test_cert_host)
