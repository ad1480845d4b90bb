"""Who may receive what, and from which address: rules without I/O, tested on their own."""

from __future__ import annotations

import re
from dataclasses import dataclass

from backstop.email.kinds import MARKETING, TRANSACTIONAL

EMAIL_RE = re.compile(r"^[^@\s<>\"(),;:\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z]{2,63}$")
OUTBOX_SENDER = "outbox@backstop.invalid"


@dataclass(frozen=True)
class Suppression:
    unsubscribed: bool = False
    hard_bounced: bool = False
    complained: bool = False


def suppression_reason(category: str, state: Suppression) -> str | None:
    """Why this address must not get mail of this category, or None when it may."""
    if state.complained:
        return "The customer marked an earlier email as spam, so Backstop never emails them again."
    if state.hard_bounced:
        return "This address bounced permanently (it doesn't exist or refuses mail)."
    if category == MARKETING and state.unsubscribed:
        return "The customer unsubscribed; only messages about payments still reach them."
    if category not in (MARKETING, TRANSACTIONAL):
        raise ValueError(f"unknown category {category!r}")
    return None


@dataclass(frozen=True)
class DomainState:
    domain: str
    from_local: str
    status: str  # pending | verified | failed


@dataclass(frozen=True)
class SenderChoice:
    address: str | None  # None: blocked
    reason: str | None = None  # why blocked


def choose_sender(transport: str, shared_address: str | None, domain: DomainState | None) -> SenderChoice:
    """The From address, or why the message must wait.

    A custom domain that isn't verified blocks the send: falling back to the shared sender
    would change the From address customers see without anyone deciding it.
    """
    if domain is not None:
        if domain.status == "verified":
            return SenderChoice(f"{domain.from_local}@{domain.domain}")
        if domain.status == "failed":
            return SenderChoice(
                None,
                f"SES gave up verifying {domain.domain}: fix the three CNAME records and add the "
                "domain again under Settings → Send domain, or remove it to send from the shared sender.",
            )
        return SenderChoice(
            None,
            f"Waiting for {domain.domain} to be verified: add its three CNAME records, then click "
            "Verify DNS under Settings → Send domain (or remove the domain to send from the shared "
            "sender).",
        )
    if shared_address:
        return SenderChoice(shared_address)
    if transport == "outbox":
        return SenderChoice(OUTBOX_SENDER)
    return SenderChoice(
        None,
        "No sender address: the operator sets BACKSTOP_SHARED_SENDER, or you verify your own "
        "send domain under Settings → Send domain.",
    )


def header_problem(value: str, label: str, max_length: int = 200) -> str | None:
    """Why ``value`` can't go in an email header, in words for the person who typed it."""
    if "\r" in value or "\n" in value:
        return f"The {label} can't contain line breaks."
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return f"The {label} can't contain control characters."
    if len(value) > max_length:
        return f"Keep the {label} under {max_length} characters."
    return None


def flatten_header(value: str, max_length: int = 200) -> str:
    """Data from elsewhere (a customer's name from Stripe) made safe for a header: line breaks
    and control characters become spaces, never part of another header."""
    cleaned = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in value or "")
    return " ".join(cleaned.split())[:max_length]


def valid_address(address: str) -> bool:
    return bool(address) and len(address) <= 254 and EMAIL_RE.match(address) is not None
