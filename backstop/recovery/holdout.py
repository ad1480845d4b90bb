"""The dunning holdout: what the dunning emails are worth, measured on the workspace's own data.

While it is on, a fixed share of newly opened campaigns is held out: Backstop retries their
charges exactly as for every other campaign but sends none of the four dunning emails. The
Recovery results then compare the recovery rate of the two arms with the same two-proportion
test cancel flows use (``backstop.lib.stats``).

Assignment is a hash of the workspace and the invoice id, decided once when the campaign opens
and stored on it (``campaigns.dunning_holdout``): reopening, replaying events or changing the
percent later never moves a campaign between arms. Campaigns opened while the holdout is off are
in neither arm, so the comparison is between campaigns of the same period.

Only the dunning emails are held back. Card-expiry warnings and trial reminders concern
customers whose payments haven't failed, and the win-back email goes out after a campaign has
already closed, so none of them changes a campaign's outcome: they go out as usual.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlite_utils import Database

from backstop import clock
from backstop.lib import stats
from backstop.lib.forms import FieldErrors
from backstop.recovery.policy import RetryPolicy

PERCENT_RANGE = (1, 50)
DEFAULT_PERCENT = 10
BUCKETS = 10_000  # assignment resolution: 0.01 %


def bucket(workspace_id: int, invoice_id: str) -> int:
    """A stable number in [0, BUCKETS) for the campaign of this invoice."""
    digest = hashlib.sha256(f"dunning-holdout:{workspace_id}:{invoice_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def is_held_out(workspace_id: int, invoice_id: str, percent: int | None) -> bool:
    return bool(percent) and bucket(workspace_id, invoice_id) < percent * BUCKETS // 100


def assignment(db: Database, workspace_id: int, invoice_id: str) -> int | None:
    """What a campaign opening now records: None while the holdout is off, else 1 (held out) or 0."""
    percent = get_percent(db, workspace_id)
    if not percent:
        return None
    return int(is_held_out(workspace_id, invoice_id, percent))


# -- settings -----------------------------------------------------------------------------------


def get_percent(db: Database, workspace_id: int) -> int | None:
    """The share held out, or None while the holdout is off."""
    row = db.execute(
        "SELECT holdout_percent FROM recovery_settings WHERE workspace_id = ?", [workspace_id]
    ).fetchone()
    return row[0] if row else None


def parse_form(form: dict) -> int | None:
    """``holdout_on`` ("1" when ticked) and ``holdout_percent`` → the percent, or None when off;
    raises ``FieldErrors``."""
    if form.get("holdout_on") != "1":
        return None
    low, high = PERCENT_RANGE
    raw = (form.get("holdout_percent") or "").strip().rstrip("%").strip()
    try:
        percent = int(raw)
        if not low <= percent <= high:
            raise ValueError
    except ValueError:
        raise FieldErrors(
            {"holdout_percent": f"Hold out a whole number from {low} to {high} percent of new campaigns."}
        ) from None
    return percent


def save_percent(db: Database, workspace_id: int, percent: int | None) -> None:
    db.execute(
        "INSERT INTO recovery_settings (workspace_id, policy, holdout_percent, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (workspace_id) DO UPDATE SET holdout_percent = excluded.holdout_percent, "
        "updated_at = excluded.updated_at",
        [workspace_id, RetryPolicy().to_json(), percent, clock.iso()],
    )


# -- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldoutArm:
    key: str  # "emails" or "holdout"
    label: str
    closed: int  # campaigns closed (recovered, lost or abandoned)
    recovered: int
    in_flight: int
    recovered_amounts: dict[str, int]

    @property
    def rate(self) -> float | None:
        return self.recovered / self.closed if self.closed else None

    # As a ``backstop.lib.stats.Arm``.
    @property
    def trials(self) -> int:
        return self.closed

    @property
    def successes(self) -> int:
        return self.recovered


@dataclass(frozen=True)
class HoldoutResults:
    percent: int | None  # the setting now
    emails: HoldoutArm
    holdout: HoldoutArm
    comparison: stats.Comparison

    @property
    def lift(self) -> float | None:
        """Recovery rate with the emails minus without, in points of a fraction (0.12 = 12 points)."""
        if self.emails.rate is None or self.holdout.rate is None:
            return None
        return self.emails.rate - self.holdout.rate

    @property
    def has_data(self) -> bool:
        return bool(
            self.emails.closed or self.holdout.closed or self.emails.in_flight or self.holdout.in_flight
        )


_LABELS = {"emails": "With dunning emails", "holdout": "Held out (retries only)"}


def results(db: Database, workspace_id: int) -> HoldoutResults:
    """Both arms over every campaign opened while the holdout was on, and whether they differ."""
    arms = {key: {"closed": 0, "recovered": 0, "in_flight": 0, "amounts": {}} for key in _LABELS}
    for held, status, currency, n, amount in db.execute(
        "SELECT dunning_holdout, status, currency, COUNT(*), SUM(amount_due) FROM campaigns "
        "WHERE workspace_id = ? AND dunning_holdout IS NOT NULL GROUP BY dunning_holdout, status, currency",
        [workspace_id],
    ):
        arm = arms["holdout" if held else "emails"]
        if status == "in_flight":
            arm["in_flight"] += n
            continue
        arm["closed"] += n
        if status == "recovered":
            arm["recovered"] += n
            arm["amounts"][currency] = arm["amounts"].get(currency, 0) + (amount or 0)
    built = {
        key: HoldoutArm(key, _LABELS[key], a["closed"], a["recovered"], a["in_flight"], a["amounts"])
        for key, a in arms.items()
    }
    return HoldoutResults(
        get_percent(db, workspace_id),
        built["emails"],
        built["holdout"],
        stats.compare(built["emails"], built["holdout"]),
    )
