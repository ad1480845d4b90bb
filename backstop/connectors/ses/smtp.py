"""SMTP through ``BACKSTOP_SMTP_URL``: smtp:// (STARTTLS required), smtps:// (TLS from the first
byte) or smtp+plain:// (no encryption: only for a relay on the same machine).

Certificates are checked against the system's trust store (``SSL_CERT_FILE`` adds another).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from backstop.connectors.ses import MaybeSent, NotSent, OutgoingEmail, Rejected

DEFAULT_PORTS = {"smtp": 587, "smtps": 465, "smtp+plain": 25}


@dataclass(frozen=True)
class SmtpTarget:
    security: str  # starttls | tls | plain
    host: str
    port: int
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        security = {"smtp": "starttls", "smtps": "tls", "smtp+plain": "plain"}[parts.scheme]
        return cls(
            security=security,
            host=parts.hostname or "",
            port=parts.port or DEFAULT_PORTS[parts.scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class SmtpMailer:
    name = "smtp"

    def __init__(self, url: str, timeout: float = 20, ssl_context: ssl.SSLContext | None = None) -> None:
        self.target = SmtpTarget.from_url(url)
        self.timeout = timeout
        self.ssl_context = ssl_context

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        t = self.target
        try:
            if t.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    t.host, t.port, timeout=self.timeout, context=self._context()
                )
            else:
                client = smtplib.SMTP(t.host, t.port, timeout=self.timeout)
            client.ehlo()
            if t.security == "starttls":
                if not client.has_extn("starttls"):
                    client.quit()
                    raise NotSent(
                        f"{t.host} does not offer STARTTLS, so Backstop won't send the password "
                        "or mail in clear; use smtps:// or a server with STARTTLS."
                    )
                client.starttls(context=self._context())
                client.ehlo()
            if t.username:
                _login(client, t.username, t.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise NotSent(f"{t.host} refused the SMTP username or password ({exc.smtp_code}).")
        except ssl.SSLError as exc:
            raise NotSent(f"TLS with {t.host} failed: {exc.reason or exc}.")
        except (OSError, smtplib.SMTPException) as exc:
            if isinstance(exc, NotSent):
                raise
            raise NotSent(f"Could not connect to the SMTP server {t.host}:{t.port}: {exc}")
        return client

    def send(self, mail: OutgoingEmail) -> str:
        client = self._connect()
        try:
            refused = client.sendmail(mail.sender, [mail.recipient], mail.raw)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _by_code(code, f"The SMTP server refused {mail.recipient}: {code} {_text(text)}")
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, f"The SMTP server answered {exc.smtp_code} {_text(exc.smtp_error)}")
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise MaybeSent(f"The SMTP connection broke while sending: {exc}")
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        if refused:
            code, text = next(iter(refused.values()))
            raise _by_code(code, f"The SMTP server refused {mail.recipient}: {code} {_text(text)}")
        return mail.message_id or f"smtp-{mail.recipient}"


def _login(client: smtplib.SMTP, username: str, password: str) -> None:
    # One mechanism, not smtplib's walk through every one offered: after a refused password the
    # others only repeat the refusal (and some servers stall on them).
    if "plain" in client.esmtp_features.get("auth", "").lower().split():
        client.user, client.password = username, password
        client.auth("PLAIN", client.auth_plain)
    else:
        client.login(username, password)


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _by_code(code: int, message: str) -> Exception:
    return NotSent(message) if 400 <= code < 500 else Rejected(message)
