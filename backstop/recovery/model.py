"""The recovery campaign as a typed object: its statuses (defined once), the transitions allowed
between them, and the facts derived from its columns.

The SQL CHECK on ``campaigns.status``, the API's schema and the admin's labels all come from
``CampaignStatus``; ``tests/recovery/test_model.py`` fails if the database's CHECK drifts from it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, Literal


class CampaignStatus(StrEnum):
    IN_FLIGHT = "in_flight"
    RECOVERED = "recovered"
    LOST = "lost"
    ABANDONED = "abandoned"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def is_open(self) -> bool:
        return self is CampaignStatus.IN_FLIGHT


_LABELS = {
    CampaignStatus.IN_FLIGHT: "In flight",
    CampaignStatus.RECOVERED: "Recovered",
    CampaignStatus.LOST: "Lost",
    CampaignStatus.ABANDONED: "Abandoned",
}

# Which status may follow which. A closed campaign stays closed: a later payment of an abandoned
# invoice is the customer's business, not a recovery.
TRANSITIONS: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    CampaignStatus.IN_FLIGHT: frozenset(
        {CampaignStatus.RECOVERED, CampaignStatus.LOST, CampaignStatus.ABANDONED}
    ),
    CampaignStatus.RECOVERED: frozenset(),
    CampaignStatus.LOST: frozenset(),
    CampaignStatus.ABANDONED: frozenset(),
}

STATUSES: tuple[str, ...] = tuple(s.value for s in CampaignStatus)
STATUS_LABELS: dict[str, str] = {s.value: s.label for s in CampaignStatus}
CLOSED = tuple(s for s in CampaignStatus if not s.is_open)
# For API schemas (Litestar/msgspec need a Literal, not an Enum, to keep the plain strings).
StatusLiteral = Literal[STATUSES]  # type: ignore[valid-type]


class InvalidTransition(ValueError):
    pass


def check_transition(current: str, new: str) -> CampaignStatus:
    """The one rule for changing a campaign's status; returns the new status."""
    before, after = CampaignStatus(current), CampaignStatus(new)
    if after not in TRANSITIONS[before]:
        raise InvalidTransition(f"A campaign can't go from {before.value} to {after.value}.")
    return after


def sql_check(column: str = "status") -> str:
    return f"CHECK ({column} IN ({', '.join(repr(s) for s in STATUSES)}))"


def total_attempts(stripe_attempts: int | None, ours: int | None) -> int:
    """How many times the invoice was charged. Stripe's ``attempt_count`` (kept in
    ``stripe_attempts``) already counts Backstop's retries, so it is the total, not a part of
    it; Backstop's own count only matters when Stripe's hasn't caught up yet."""
    return max(stripe_attempts or 0, ours or 0)


@dataclass(frozen=True)
class Campaign:
    id: int
    workspace_id: int
    invoice_id: str
    customer_id: str | None
    subscription_id: str | None
    customer_email: str | None
    customer_name: str | None
    amount_due: int
    currency: str
    decline_code: str | None
    advice_code: str | None
    decline_class: str
    stripe_attempts: int
    our_attempts: int
    status: CampaignStatus
    close_reason: str | None
    took_over: bool
    first_failed_at: str
    opened_at: str
    closed_at: str | None
    dunning_holdout: bool | None = None  # None: opened while the dunning holdout was off

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Campaign:
        values = {f.name: row[f.name] for f in fields(cls)}
        values["status"] = CampaignStatus(values["status"])
        values["took_over"] = bool(values["took_over"])
        if values["dunning_holdout"] is not None:
            values["dunning_holdout"] = bool(values["dunning_holdout"])
        return cls(**values)

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def held_out(self) -> bool:
        """In the dunning holdout: retried, but sent no dunning emails."""
        return bool(self.dunning_holdout)
