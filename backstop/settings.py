"""Every setting Backstop reads, parsed strictly from the environment in one place.

Each variable is documented in docs/configuration.md (a test keeps the two in step). Secrets may
also be given as ``<NAME>_FILE`` pointing at a file holding the value (Docker/Kubernetes secrets).
"""

from __future__ import annotations

import difflib
import os
import re
import secrets
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ConfigError(Exception):
    """A misconfiguration, explained in one sentence that includes the fix."""


def _parse_port(name: str, raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number; set it to a port between 1 and 65535.")
    if not 1 <= port <= 65535:
        raise ConfigError(f"{name}={raw!r} is out of range; set it to a port between 1 and 65535.")
    return port


def _parse_positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number; set it to a number such as 60.")
    if value < 1:
        raise ConfigError(f"{name}={raw!r} must be at least 1; set it to a number such as 60.")
    return value


def _parse_url(name: str, raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{name}={raw!r} is not a web address; set it to the URL people use to reach "
            "Backstop, such as https://backstop.example.com."
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f"{name}={raw!r} has a query or fragment; set it to the bare address, such as "
            "https://backstop.example.com."
        )
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ConfigError(f"{name}={raw!r} has a malformed port; fix the number after the colon.")
    return raw.strip().rstrip("/")


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not true or false; set it to true or false.")


def _parse_choice(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ConfigError(f"{name}={raw!r} is not one of {', '.join(choices)}; pick one of them.")
        return value

    return parse


def _parse_prefixed(prefixes: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip()
        if not value.startswith(prefixes):
            shown = " or ".join(f"{p}…" for p in prefixes)
            raise ConfigError(
                f"{name} should start with {shown}; copy the value again from the Stripe Dashboard."
            )
        return value

    return parse


def _parse_str(name: str, raw: str) -> str:
    return raw.strip()


def _parse_sender(name: str, raw: str) -> str:
    # Checked here so a typo stops the server at start, not the first dunning email.
    from email.utils import parseaddr

    _, address = parseaddr(raw.strip())
    if "\n" in raw or "\r" in raw or not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", address):
        raise ConfigError(
            f"{name}={raw!r} is not an email address; set it to an address SES or your SMTP server "
            "may send from, such as billing@mail.example.com or 'Example <billing@mail.example.com>'."
        )
    return raw.strip()


def _parse_smtp_url(name: str, raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("smtp", "smtps", "smtp+plain") or not parts.hostname:
        raise ConfigError(
            f"{name} is not an SMTP address; set it like smtp://user:password@smtp.example.com:587 "
            "(STARTTLS), smtps://…:465 (TLS) or smtp+plain://127.0.0.1:25 (a relay on this machine)."
        )
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ConfigError(f"{name} has a malformed port; fix the number after the host's colon.")
    return raw.strip()


def _parse_resolvers(name: str, raw: str) -> tuple[str, ...]:
    import ipaddress

    out = []
    for item in (p.strip() for p in raw.split(",")):
        if not item:
            continue
        host, _, port = item.rpartition(":") if item.count(":") == 1 else (item, "", "")
        try:
            ipaddress.ip_address(host)
            if port:
                _parse_port(name, port)
        except (ValueError, ConfigError):
            raise ConfigError(
                f"{name}={raw!r} must list IP addresses of DNS servers, optionally with a port, "
                "such as 1.1.1.1,8.8.8.8 or 127.0.0.1:5353."
            )
        out.append(item)
    return tuple(out)


def _parse_topic_arns(name: str, raw: str) -> tuple[str, ...]:
    arns = tuple(p.strip() for p in raw.split(",") if p.strip())
    for arn in arns:
        if not re.fullmatch(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}", arn):
            raise ConfigError(
                f"{name} holds {arn!r}, which is not an SNS topic ARN; list ARNs such as "
                "arn:aws:sns:us-east-1:123456789012:ses-feedback, separated by commas."
            )
    return arns


def _parse_proxies(name: str, raw: str) -> tuple[str, ...]:
    import ipaddress

    out = []
    for item in (p.strip() for p in raw.split(",")):
        if not item:
            continue
        try:
            ipaddress.ip_network(item, strict=False) if "/" in item else ipaddress.ip_address(item)
        except ValueError:
            raise ConfigError(
                f"{name} holds {item!r}, which is not an IP address or network; list the addresses of "
                "the reverse proxies in front of Backstop, such as 172.31.250.10 or 10.0.0.0/8."
            )
        out.append(item)
    return tuple(out)


@dataclass(frozen=True)
class Var:
    name: str
    attr: str
    parse: Callable[[str, str], Any]
    secret: bool = False


VARIABLES: tuple[Var, ...] = (
    Var("BACKSTOP_DATA_DIR", "data_dir", lambda n, r: Path(r).expanduser()),
    Var("BACKSTOP_HOST", "host", _parse_str),
    Var("BACKSTOP_PORT", "port", _parse_port),
    Var("BACKSTOP_BASE_URL", "base_url", _parse_url),
    Var("BACKSTOP_SECRET_KEY", "secret_key", _parse_str, secret=True),
    Var("BACKSTOP_LOG_LEVEL", "log_level", _parse_choice(("debug", "info", "warning", "error"))),
    Var("BACKSTOP_API_RATE_LIMIT", "api_rate_limit", _parse_positive_int),
    Var("BACKSTOP_JOBS_WORKERS", "jobs_workers", _parse_positive_int),
    Var("BACKSTOP_SECURE_COOKIES", "secure_cookies", _parse_bool),
    Var("BACKSTOP_TRUSTED_PROXIES", "trusted_proxies", _parse_proxies),
    Var("BACKSTOP_STRIPE_CLIENT_ID", "stripe_client_id", _parse_prefixed(("ca_",))),
    Var(
        "BACKSTOP_STRIPE_SECRET_KEY",
        "stripe_secret_key",
        _parse_prefixed(("sk_test_", "sk_live_")),
        secret=True,
    ),
    Var("BACKSTOP_STRIPE_WEBHOOK_SECRET", "stripe_webhook_secret", _parse_prefixed(("whsec_",)), secret=True),
    Var("BACKSTOP_STRIPE_API_BASE", "stripe_api_base", _parse_url),
    Var("BACKSTOP_STRIPE_CONNECT_BASE", "stripe_connect_base", _parse_url),
    Var("BACKSTOP_STRIPE_RATE_LIMIT", "stripe_rate_limit", _parse_positive_int),
    Var(
        "BACKSTOP_STRIPE_PUBLISHABLE_KEY",
        "stripe_publishable_key",
        _parse_prefixed(("pk_test_", "pk_live_")),
    ),
    Var("BACKSTOP_STRIPE_JS_URL", "stripe_js_url", _parse_url),
    Var("BACKSTOP_EMAIL_TRANSPORT", "email_transport", _parse_choice(("outbox", "ses", "smtp"))),
    Var("BACKSTOP_SHARED_SENDER", "shared_sender", _parse_sender),
    Var("BACKSTOP_SMTP_URL", "smtp_url", _parse_smtp_url, secret=True),
    Var("BACKSTOP_SES_CONFIGURATION_SET", "ses_configuration_set", _parse_str),
    Var("BACKSTOP_DNS_RESOLVERS", "dns_resolvers", _parse_resolvers),
    Var("BACKSTOP_SNS_TOPIC_ARNS", "sns_topic_arns", _parse_topic_arns),
    Var("BACKSTOP_SNS_TEST_CERT_HOST", "sns_test_cert_host", _parse_str),
    Var("BACKSTOP_WEBHOOKS_ALLOW_PRIVATE", "webhooks_allow_private", _parse_bool),
)
KNOWN_NAMES = frozenset(v.name for v in VARIABLES) | {f"{v.name}_FILE" for v in VARIABLES if v.secret}


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("./data")
    host: str = "127.0.0.1"
    port: int = 8750
    base_url: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    log_level: str = "info"
    api_rate_limit: int = 60
    jobs_workers: int = 2
    secure_cookies: bool | None = None
    trusted_proxies: tuple[str, ...] = ()
    email_transport: str = "outbox"
    shared_sender: str | None = None
    smtp_url: str | None = field(default=None, repr=False)
    ses_configuration_set: str | None = None
    dns_resolvers: tuple[str, ...] = ()
    sns_topic_arns: tuple[str, ...] = ()
    sns_test_cert_host: str | None = None
    stripe_client_id: str | None = None
    stripe_secret_key: str | None = field(default=None, repr=False)
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    stripe_api_base: str | None = None
    stripe_connect_base: str | None = None
    stripe_rate_limit: int = 20
    stripe_publishable_key: str | None = None
    stripe_js_url: str = "https://js.stripe.com/v3/"
    webhooks_allow_private: bool = False

    @property
    def stripe_platform_configured(self) -> bool:
        """Connect OAuth is offered only when the operator set up platform credentials."""
        return bool(self.stripe_client_id and self.stripe_secret_key)

    @property
    def public_url(self) -> str:
        """The address links in emails and pages point at."""
        if self.base_url:
            return self.base_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def cookies_secure(self) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.public_url.startswith("https://")

    @property
    def db_path(self) -> Path:
        return self.data_dir / "backstop.db"

    @property
    def jobs_db_path(self) -> Path:
        return self.data_dir / "jobs.db"

    @property
    def secret_key_path(self) -> Path:
        return self.data_dir / "secret_key"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        unknown = sorted(k for k in env if k.startswith("BACKSTOP_") and k not in KNOWN_NAMES)
        if unknown:
            name = unknown[0]
            close = difflib.get_close_matches(name, KNOWN_NAMES, n=1)
            hint = f"did you mean {close[0]}?" if close else "see docs/configuration.md."
            raise ConfigError(f"Unknown setting {name}; remove it or fix the name ({hint})")
        values: dict[str, Any] = {}
        for var in VARIABLES:
            raw = env.get(var.name)
            if var.secret and f"{var.name}_FILE" in env:
                if raw is not None:
                    raise ConfigError(f"Both {var.name} and {var.name}_FILE are set; keep only one of them.")
                raw = _read_secret_file(f"{var.name}_FILE", env[f"{var.name}_FILE"])
            if raw is None or raw.strip() == "":
                continue
            values[var.attr] = var.parse(var.name, raw)
        if bool(values.get("stripe_client_id")) != bool(values.get("stripe_secret_key")):
            raise ConfigError(
                "Connect OAuth needs both BACKSTOP_STRIPE_CLIENT_ID and BACKSTOP_STRIPE_SECRET_KEY; "
                "set both, or neither to connect workspaces with restricted keys."
            )
        return cls(**values)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _read_secret_file(name: str, path: str) -> str:
    try:
        value = Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(
            f"{name} points at {path}, which cannot be read ({exc.strerror}); "
            "fix the path or the file's permissions."
        )
    # An empty file is a mistake (a secret not mounted yet), not a request for the default.
    if not value:
        raise ConfigError(f"{name} points at {path}, which is empty; put the secret in that file.")
    return value


MIN_SECRET_KEY_LENGTH = 32


def ensure_secret_key(settings: Settings) -> Settings:
    """Return settings with a secret key: the configured one, or one kept in the data dir.

    A key generated here is written with mode 0600 so only the service's user can read it.
    """
    if settings.secret_key:
        if len(settings.secret_key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                f"BACKSTOP_SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters; "
                "generate a longer one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'."
            )
        return settings
    path = settings.secret_key_path
    if path.exists():
        from backstop.lib.filemodes import private_file

        private_file(path)  # a key copied in with a wider mode is made 0600
        try:
            key = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"The secret key file {path} cannot be read ({exc.strerror}); make it a file this "
                "user can read, or set BACKSTOP_SECRET_KEY."
            )
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                f"{path} holds a key shorter than {MIN_SECRET_KEY_LENGTH} characters; "
                "delete the file to have a new one generated (sessions and stored secrets "
                "encrypted with it will stop working)."
            )
        return replace(settings, secret_key=key)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return replace(settings, secret_key=key)
