"""Getting email out of the building: one ``Mailer`` protocol, three transports.

``outbox`` keeps messages (nothing leaves the machine), ``ses`` hands them to Amazon SES v2,
``smtp`` to any SMTP server. A transport raises one of three errors so the caller can decide
what is safe: ``NotSent`` (try again later), ``Rejected`` (trying again won't help) and
``MaybeSent`` (the provider may have accepted it; sending again could deliver it twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutgoingEmail:
    sender: str  # bare address for the envelope
    recipient: str  # bare address
    raw: bytes  # the complete RFC 5322 message, headers included
    message_id: str = ""  # the Message-ID header Backstop set


class Mailer(Protocol):
    name: str

    def send(self, mail: OutgoingEmail) -> str:
        """Hand the message over; return the provider's message id."""
        ...


class SendError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotSent(SendError):
    """The provider did not take the message (throttled, down, unreachable): safe to retry."""


class Rejected(SendError):
    """The provider refused the message for good (bad address, unverified sender, …)."""


class MaybeSent(SendError):
    """The connection broke after the message was handed over: it may have gone out."""
