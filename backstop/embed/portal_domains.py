"""Settings → Portal domain: serve the hosted pages (cancel, portal, update card, payment wall)
from the founder's own subdomain, e.g. ``portal.yourcompany.com``.

Ownership is proven with a TXT record at ``_backstop-verify.<host>`` holding a random
``backstop-verify-…`` value; traffic arrives through a CNAME to the instance's host. Verified
domains are re-checked periodically (``embed.recheck_portal_domains``); a domain whose records
are definitely gone (not merely unanswered) stops being served.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList
from sqlite_utils import Database

from backstop import clock
from backstop.connectors import dns as dnslookup
from backstop.db import all_rows, one, write_transaction
from backstop.lib.crypto import random_token
from backstop.settings import Settings
from backstop.workspaces.errors import ValidationError

log = logging.getLogger("backstop.embed")

LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


def instance_host(settings: Settings) -> str:
    return (urlsplit(settings.public_url).hostname or "").lower()


def normalize_host(raw: str, settings: Settings) -> str:
    value = (raw or "").strip().lower().rstrip(".")
    for prefix in ("https://", "http://"):
        if value.startswith(prefix):
            value = value[len(prefix) :].split("/", 1)[0]
    if not value:
        raise ValidationError("Enter a subdomain, such as portal.yourcompany.com.", "host")
    try:
        value = value.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError(f"“{raw[:80]}” isn't a valid domain name.", "host") from None
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(LABEL_RE.match(label) for label in labels):
        raise ValidationError(
            f"“{raw[:80]}” isn't a valid domain name: use letters, digits, dashes and dots, "
            "such as portal.yourcompany.com.",
            "host",
        )
    org = _psl().privatesuffix(value)
    if org is None:
        raise ValidationError(f"{value} is a public suffix, not a domain you own.", "host")
    if org == value:
        raise ValidationError(
            f"{value} is your main (apex) domain, which can't point at Backstop with a CNAME. "
            f"Use a subdomain such as portal.{value}.",
            "host",
        )
    if value == instance_host(settings):
        raise ValidationError(
            f"{value} is this Backstop's own address; choose a subdomain of your company's domain.", "host"
        )
    return value


@dataclass
class RecordCheck:
    kind: str  # CNAME | TXT
    name: str
    expected: str
    found: list[str] = field(default_factory=list)
    problem: str | None = None  # nxdomain | nodata | timeout | error
    ok: bool = False

    @property
    def definite(self) -> bool:
        """A wrong or missing record, as opposed to a resolver that didn't answer."""
        return not self.ok and self.problem not in ("timeout", "error")


@dataclass
class PortalDomain:
    workspace_id: int
    host: str
    verify_token: str
    verified_at: str | None
    last_checked_at: str | None
    checks: list[RecordCheck]

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    @property
    def txt_name(self) -> str:
        return f"_backstop-verify.{self.host}"


def _from_row(row: dict) -> PortalDomain:
    raw = json.loads(row["last_result"]) if row["last_result"] else []
    return PortalDomain(
        row["workspace_id"], row["host"], row["verify_token"], row["verified_at"], row["last_checked_at"],
        [RecordCheck(**c) for c in raw],
    )  # fmt: skip


def get(db: Database, workspace_id: int) -> PortalDomain | None:
    row = one(db, "SELECT * FROM portal_domains WHERE workspace_id = ?", [workspace_id])
    return _from_row(row) if row else None


def add(db: Database, settings: Settings, workspace_id: int, raw: str) -> PortalDomain:
    host = normalize_host(raw, settings)
    with write_transaction(db):
        if one(db, "SELECT 1 AS x FROM portal_domains WHERE workspace_id = ?", [workspace_id]):
            raise ValidationError("This workspace already has a portal domain; remove it first.", "host")
        if one(db, "SELECT 1 AS x FROM portal_domains WHERE host = ?", [host]):
            raise ValidationError(f"{host} is already used by another workspace on this Backstop.", "host")
        db.execute(
            "INSERT INTO portal_domains (workspace_id, host, verify_token, created_at) VALUES (?, ?, ?, ?)",
            [workspace_id, host, f"backstop-verify-{random_token(18)}", clock.iso()],
        )
    return get(db, workspace_id)


def remove(db: Database, workspace_id: int) -> bool:
    with write_transaction(db):
        cur = db.execute("DELETE FROM portal_domains WHERE workspace_id = ?", [workspace_id])
    return cur.rowcount > 0


def look_up(settings: Settings, domain: PortalDomain) -> list[RecordCheck]:
    resolver = dnslookup.make_resolver(settings.dns_resolvers)
    target = instance_host(settings)
    cname = dnslookup.cname(resolver, domain.host)
    txt = dnslookup.txt(resolver, domain.txt_name)
    return [
        RecordCheck("CNAME", domain.host, target, cname.values, cname.problem, target in cname.values),
        RecordCheck(
            "TXT",
            domain.txt_name,
            domain.verify_token,
            txt.values,
            txt.problem,
            domain.verify_token in txt.values,
        ),
    ]


def verify(db: Database, settings: Settings, workspace_id: int) -> PortalDomain | None:
    """Look the records up now and record what was seen. Verified when both are right; a
    verified domain is withdrawn only when a record is definitely wrong or missing."""
    domain = get(db, workspace_id)
    if domain is None:
        return None
    checks = look_up(settings, domain)
    all_ok = all(c.ok for c in checks)
    withdrawn = any(c.definite for c in checks)
    now = clock.iso()
    with write_transaction(db):
        if all_ok:
            verified = domain.verified_at or now
        elif domain.verified and not withdrawn:
            verified = domain.verified_at  # the resolver didn't answer: keep serving
        else:
            verified = None
        db.execute(
            "UPDATE portal_domains SET verified_at = ?, last_checked_at = ?, last_result = ? "
            "WHERE workspace_id = ? AND host = ?",
            [verified, now, json.dumps([asdict(c) for c in checks]), workspace_id, domain.host],
        )
    if domain.verified and verified is None:
        log.warning("portal domain %s no longer verifies; its pages stop being served", domain.host)
    return get(db, workspace_id)


def recheck_all(db: Database, settings: Settings) -> int:
    """Every portal domain, verified or waiting: the periodic task's body. Returns how many."""
    rows = all_rows(db, "SELECT workspace_id FROM portal_domains ORDER BY workspace_id")
    for row in rows:
        try:
            verify(db, settings, row["workspace_id"])
        except Exception:
            log.exception("re-checking the portal domain of workspace %s failed", row["workspace_id"])
    return len(rows)


def workspace_for_host(db: Database, host: str) -> int | None:
    row = one(
        db, "SELECT workspace_id FROM portal_domains WHERE host = ? AND verified_at IS NOT NULL", [host]
    )
    return row["workspace_id"] if row else None


def is_verified_host(db: Database, host: str) -> bool:
    return workspace_for_host(db, (host or "").strip().lower().rstrip(".")) is not None


def public_base(db: Database, settings: Settings, workspace_id: int) -> str:
    """Where this workspace's hosted pages live: its verified portal domain, else the instance."""
    row = one(
        db,
        "SELECT host FROM portal_domains WHERE workspace_id = ? AND verified_at IS NOT NULL",
        [workspace_id],
    )
    return f"https://{row['host']}" if row else settings.public_url
