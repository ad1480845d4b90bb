"""A workspace's own send domain: SES identity with Easy DKIM, the three CNAMEs, DNS checks.

The domain is verified when SES says so; Backstop's own DNS lookups explain what SES is waiting
for (record missing, or pointing somewhere else). Until then the workspace's mail is held.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import asdict, dataclass, field

import dns.resolver
from publicsuffixlist import PublicSuffixList
from sqlite_utils import Database

from backstop import clock
from backstop.connectors import dns as dnslookup
from backstop.connectors.ses.ses import IdentityError, SesIdentities
from backstop.db import all_rows, one, write_transaction
from backstop.email import messages
from backstop.email.policy import DomainState
from backstop.workspaces.errors import NotFound, ValidationError

LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
LOCAL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._+-]{0,62}[a-z0-9])?$")
DKIM_TARGET = "{token}.dkim.amazonses.com"


@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


def organisational_domain(domain: str) -> str | None:
    return _psl().privatesuffix(domain)


def validate_domain(raw: str) -> tuple[str, str]:
    """(domain, organisational domain) for a subdomain Backstop may send from."""
    value = (raw or "").strip().lower().rstrip(".")
    for prefix in ("https://", "http://"):
        if value.startswith(prefix):
            value = value[len(prefix) :].split("/", 1)[0]
    if not value:
        raise ValidationError("Enter a subdomain, such as mail.yourcompany.com.", "domain")
    if "@" in value:
        raise ValidationError(
            "Enter a domain, not an email address: for billing@mail.yourcompany.com, enter "
            "mail.yourcompany.com.",
            "domain",
        )
    try:
        value = value.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError(f"“{raw[:80]}” isn't a valid domain name.", "domain")
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(LABEL_RE.match(label) for label in labels):
        raise ValidationError(
            f"“{raw[:80]}” isn't a valid domain name: use letters, digits, dashes and dots, "
            "such as mail.yourcompany.com.",
            "domain",
        )
    org = organisational_domain(value)
    if org is None:
        raise ValidationError(f"{value} is a public suffix, not a domain you own.", "domain")
    if org == value:
        raise ValidationError(
            f"{value} is your main (apex) domain. Use a dedicated subdomain such as mail.{value}: "
            "its sending reputation then stays separate from your everyday and marketing mail, and "
            "Backstop's records can't clash with your existing ones.",
            "domain",
        )
    return value, org


def validate_from_local(raw: str) -> str:
    value = (raw or "billing").strip().lower()
    if not LOCAL_RE.match(value):
        raise ValidationError(
            "Use the part before the @ only, such as billing (letters, digits, dots, dashes).",
            "from_local",
        )
    return value


@dataclass
class RecordCheck:
    name: str
    expected: str
    state: str  # found | missing | wrong | unknown
    seen: list[str] = field(default_factory=list)
    detail: str = ""


@dataclass
class DomainCheck:
    checked_at: str
    ses_status: str
    ses_verified: bool
    ses_error: str | None
    records: list[RecordCheck]
    dmarc_name: str
    dmarc: str | None  # the DMARC record found, or None
    dmarc_suggestion: str


@dataclass
class SendDomain:
    id: int
    workspace_id: int
    domain: str
    from_local: str
    status: str
    tokens: list[str]
    created_at: str
    verified_at: str | None
    checked_at: str | None
    last_check: DomainCheck | None

    @property
    def org_domain(self) -> str:
        return organisational_domain(self.domain) or self.domain

    @property
    def records(self) -> list[tuple[str, str]]:
        return [(f"{t}._domainkey.{self.domain}", DKIM_TARGET.format(token=t)) for t in self.tokens]

    @property
    def from_address(self) -> str:
        return f"{self.from_local}@{self.domain}"

    def state(self) -> DomainState:
        return DomainState(self.domain, self.from_local, self.status)


def _load(row: dict) -> SendDomain:
    check = None
    if row["last_check"]:
        data = json.loads(row["last_check"])
        data["records"] = [RecordCheck(**r) for r in data["records"]]
        check = DomainCheck(**data)
    return SendDomain(
        id=row["id"],
        workspace_id=row["workspace_id"],
        domain=row["domain"],
        from_local=row["from_local"],
        status=row["status"],
        tokens=json.loads(row["dkim_tokens"]),
        created_at=row["created_at"],
        verified_at=row["verified_at"],
        checked_at=row["checked_at"],
        last_check=check,
    )


def get_send_domain(db: Database, workspace_id: int) -> SendDomain | None:
    row = one(db, "SELECT * FROM send_domains WHERE workspace_id = ?", [workspace_id])
    return _load(row) if row else None


def add_domain(
    db: Database, identities: SesIdentities, workspace_id: int, raw_domain: str, from_local: str = ""
) -> SendDomain:
    domain, _ = validate_domain(raw_domain)
    local = validate_from_local(from_local)
    if get_send_domain(db, workspace_id) is not None:
        raise ValidationError("This workspace already has a send domain; remove it first.", "domain")
    if one(db, "SELECT id FROM send_domains WHERE domain = ?", [domain]):
        raise ValidationError(
            f"{domain} is already the send domain of another workspace on this Backstop; each "
            "workspace needs its own subdomain.",
            "domain",
        )
    try:
        tokens = identities.create(domain)
    except IdentityError as exc:
        raise ValidationError(f"SES couldn't create the identity for {domain}: {exc}", "domain")
    if len(tokens) != 3:
        raise ValidationError(
            f"SES returned {len(tokens)} DKIM tokens for {domain} instead of three; try again in a minute.",
            "domain",
        )
    db.execute(
        "INSERT INTO send_domains (workspace_id, domain, from_local, status, dkim_tokens, created_at) "
        "VALUES (?, ?, ?, 'pending', ?, ?)",
        [workspace_id, domain, local, json.dumps(tokens), clock.iso()],
    )
    return get_send_domain(db, workspace_id)  # type: ignore[return-value]


def check_records(resolver: dns.resolver.Resolver, sd: SendDomain) -> list[RecordCheck]:
    out = []
    for name, expected in sd.records:
        answer = dnslookup.cname(resolver, name)
        if answer.found:
            state = "found" if expected in answer.values else "wrong"
            detail = "" if state == "found" else f"points to {', '.join(answer.values)} instead"
            out.append(RecordCheck(name, expected, state, answer.values, detail))
        elif answer.problem in ("nxdomain", "nodata"):
            detail = (
                "no record with this name yet"
                if answer.problem == "nxdomain"
                else ("the name exists but has no CNAME record (is it a TXT or A record?)")
            )
            out.append(RecordCheck(name, expected, "missing", [], detail))
        else:
            out.append(
                RecordCheck(name, expected, "unknown", [], f"the DNS lookup failed ({answer.problem})")
            )
    return out


def check_dmarc(resolver: dns.resolver.Resolver, domain: str, org: str) -> tuple[str, str | None]:
    """(name looked up, DMARC record or None): the subdomain's own policy first, then the
    organisational domain's, as receivers do."""
    for name in (f"_dmarc.{domain}", f"_dmarc.{org}"):
        answer = dnslookup.txt(resolver, name)
        for value in answer.values:
            if value.strip().lower().startswith("v=dmarc1"):
                return name, value
    return f"_dmarc.{org}", None


def verify_domain(
    db: Database, identities: SesIdentities, resolver: dns.resolver.Resolver, workspace_id: int
) -> tuple[SendDomain, list[int]]:
    """Ask SES and DNS; save what was seen. Returns the domain and the ids of messages released."""
    sd = get_send_domain(db, workspace_id)
    if sd is None:
        raise NotFound(workspace_id)
    try:
        ses = identities.status(sd.domain)
        ses_status, ses_verified, ses_error = ses.dkim_status, ses.verified, ses.error
    except IdentityError as exc:
        ses_status, ses_verified, ses_error = "UNKNOWN", False, str(exc)
    dmarc_name, dmarc = check_dmarc(resolver, sd.domain, sd.org_domain)
    check = DomainCheck(
        checked_at=clock.iso(),
        ses_status=ses_status,
        ses_verified=ses_verified,
        ses_error=ses_error,
        records=check_records(resolver, sd),
        dmarc_name=dmarc_name,
        dmarc=dmarc,
        dmarc_suggestion=f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{sd.org_domain}",
    )
    status = "verified" if ses_verified else ("failed" if ses_status == "FAILED" else "pending")
    released: list[int] = []
    with write_transaction(db):
        db.execute(
            "UPDATE send_domains SET status = ?, last_check = ?, checked_at = ?, "
            "verified_at = CASE WHEN ? = 'verified' THEN COALESCE(verified_at, ?) ELSE NULL END "
            "WHERE id = ?",
            [status, json.dumps(asdict(check)), check.checked_at, status, check.checked_at, sd.id],
        )
        if status == "verified":
            released = messages.release_held(db, workspace_id)
    return get_send_domain(db, workspace_id), released  # type: ignore[return-value]


def remove_domain(db: Database, identities: SesIdentities, workspace_id: int) -> list[int]:
    """Delete the identity and the domain; held mail goes out from the shared sender."""
    sd = get_send_domain(db, workspace_id)
    if sd is None:
        return []
    try:
        identities.delete(sd.domain)
    except IdentityError as exc:
        raise ValidationError(f"SES couldn't delete the identity for {sd.domain}: {exc}", "domain")
    with write_transaction(db):
        db.execute("DELETE FROM send_domains WHERE id = ?", [sd.id])
        return messages.release_held(db, workspace_id)


def pending_workspace_ids(db: Database) -> list[int]:
    return [
        r["workspace_id"]
        for r in all_rows(db, "SELECT workspace_id FROM send_domains WHERE status = 'pending'")
    ]
