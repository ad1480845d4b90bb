"""Backtest a retry policy on the workspace's own failed invoices.

``load_snapshot`` reads the evidence once into a frozen ``Snapshot``: every failed subscription
invoice of the period with its attempts (time, outcome, decline code where known), the times its
customer set a new default card, and whether and when it was finally paid. Everything after that
is pure: ``replay`` runs one policy's rules (``backstop.recovery.policy``: the schedule per
decline class, the attempt cap counting every attempt, never-retry codes, the retry on a new card)
over the snapshot and counts what would have happened; ``compare`` puts two policies side by side.

The evidence decides each replayed charge, and only the evidence:

- a charge on the card that finally paid succeeds at or after the moment that card was actually
  paid; before it, it is counted as declined (with the latest decline code known by then);
- a charge on an old card, after the customer set the new card that paid, is never counted;
- an invoice the evidence never saw paid is never recovered.

What a backtest can't know is stated in ``LIMITS``, on the page and in the JSON.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.db import all_rows
from backstop.lib.money import money
from backstop.recovery import policy as rules
from backstop.recovery.campaigns import get_policy
from backstop.recovery.policy import RetryPolicy, RetryState
from backstop.stripe_sync import lookups

DEFAULT_DAYS = 90
DAYS_RANGE = (1, 365)
# A decline Stripe reports within this long of a retry Backstop recorded is that same retry.
SAME_ATTEMPT = timedelta(minutes=15)

RETRY = "retry"  # recovered by a retry on the card that failed
NEW_CARD = "new_card"  # recovered by charging the new card the customer set
LOST = "lost"
OPEN = "open"  # unpaid and still inside the retry window: the outcome isn't known yet

RESULT_LABELS = {
    RETRY: "Recovered by a retry on the same card",
    NEW_CARD: "Recovered after the customer set a new card",
    LOST: "Lost",
    OPEN: "Still open (too early to tell)",
}
LOST_REASONS = {
    "not_paid": "Never paid in the evidence: no retry could have recovered it.",
    "paid_after_retries": "The card paid later, after this policy had stopped retrying it.",
    "new_card_not_charged": "The customer set a new card that paid, but this policy made no charge after it.",
}

LIMITS = (
    "A retry at another time might have failed or worked: the backtest counts a retry on the same card "
    "as paid only at or after the moment that card was actually paid, and as declined before it.",
    "A customer who set a new card might not have done so without the dunning emails, or might have done "
    "it on another day: the backtest keeps every card change at the time it happened.",
    "Stripe's Smart Retries choose their own times: with “Let Stripe retry” Backstop makes no retries, so "
    "the backtest counts none for that policy.",
    "The mirror holds no decline code for Stripe's own attempts: an attempt without a known code is judged "
    "by the latest code known before it.",
    "A card issuer may change its answer with the number or rhythm of attempts; the backtest can't "
    "measure that, and no retry ever passes the card networks' limits.",
    "Invoices still unpaid inside the retry window are left out of the rates: their outcome isn't known yet.",
)


# -- the frozen evidence ------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    at: datetime
    succeeded: bool
    decline_code: str | None  # None when the evidence doesn't say (Stripe's own attempts)
    by: str  # "stripe" or "backstop"


@dataclass(frozen=True)
class InvoiceHistory:
    invoice_id: str
    customer_id: str | None
    amount: int  # in the currency's minor unit
    currency: str
    first_failed_at: datetime
    decline_code: str | None
    advice_code: str | None
    attempts: tuple[Attempt, ...] = ()  # every attempt after the first failure, oldest first
    card_changes: tuple[datetime, ...] = ()  # new default cards after the first failure
    paid_at: datetime | None = None
    final: bool = False  # void, uncollectible, deleted or given up: unpaid for good

    # Derived once: the card (0: the one that failed, n: the n-th new one) of the payment and of
    # each attempt. Replays ask for these many times per invoice.
    paid_generation: int | None = field(init=False, repr=False, compare=False, default=None)
    attempt_cards: tuple[int, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        if self.paid_at is not None:
            object.__setattr__(self, "paid_generation", self.generation(self.paid_at))
        object.__setattr__(self, "attempt_cards", tuple(self.generation(a.at) for a in self.attempts))

    def generation(self, at: datetime) -> int:
        """How many new default cards the customer had set by ``at`` (0: the card that failed)."""
        return sum(1 for c in self.card_changes if c <= at)

    @property
    def observed(self) -> str:
        """What actually happened."""
        if self.paid_at is None:
            return LOST if self.final else OPEN
        return NEW_CARD if self.paid_generation else RETRY


@dataclass(frozen=True)
class Snapshot:
    workspace_id: int
    since: datetime
    until: datetime
    invoices: tuple[InvoiceHistory, ...]

    @property
    def days(self) -> int:
        return round((self.until - self.since).total_seconds() / 86400)


# -- replaying one policy -------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    invoice_id: str
    result: str
    retries: int = 0  # scheduled retries the policy makes
    card_retries: int = 0  # charges of a new card the policy makes
    blocked_by_cap: int = 0
    blocked_by_network: int = 0
    recovered_at: datetime | None = None
    days: float | None = None
    reason: str | None = None  # for a lost invoice, a key of LOST_REASONS


def _known_code(inv: InvoiceHistory, at: datetime, gen: int, current: str | None) -> str | None:
    """The decline code of a charge at ``at`` on card ``gen``: the latest code the evidence knows
    for that card by then, else ``current``."""
    code = current
    for attempt, card in zip(inv.attempts, inv.attempt_cards, strict=True):
        if attempt.at > at:
            break
        if attempt.decline_code and not attempt.succeeded and card == gen:
            code = attempt.decline_code
    return code


def _pays(inv: InvoiceHistory, at: datetime, gen: int) -> bool:
    """Whether the evidence says a charge at ``at`` on card ``gen`` is paid."""
    if inv.paid_at is None or gen != inv.paid_generation:
        return False
    if at >= inv.paid_at:
        return True
    if gen == 0:
        return False
    # A new card that paid: good from when it was set, unless the evidence saw it declined later.
    return not any(
        not a.succeeded and at <= a.at < inv.paid_at and card == gen
        for a, card in zip(inv.attempts, inv.attempt_cards, strict=True)
    )


def _stop_reason(policy: RetryPolicy, state: RetryState) -> tuple[str | None, datetime | None]:
    """Why the schedule makes no further retry: ("cap", when the stopped retry was due),
    ("network", None), or (None, None) when the schedule is simply done."""
    if state.our_attempts >= policy.retries_planned(state.decline_class):
        return ("network", None) if state.decline_class == rules.NEVER else (None, None)
    due = state.last_attempt_at + timedelta(days=policy.rule(state.decline_class).gap(state.our_attempts))
    if due > state.first_failed_at + timedelta(days=policy.window_days):
        return None, None
    return ("cap", due) if not rules.under_cap(policy, state, due) else (None, None)


def replay_invoice(inv: InvoiceHistory, policy: RetryPolicy, until: datetime) -> Outcome:
    """One invoice under ``policy``: the first failure happened; every later charge is the policy's,
    up to ``until`` (a retry due later hasn't happened yet)."""
    t0 = inv.first_failed_at
    code = inv.decline_code
    decline_class = rules.classify(code, inv.advice_code)
    made = [t0]
    ours = retries = card_retries = card_blocked = gen = 0
    cap_stops: set[datetime] = set()  # each retry the cap stopped, once however often it is asked
    network_stop = False
    changes = [c for c in inv.card_changes if c > t0]
    window_end = t0 + timedelta(days=policy.window_days)

    def outcome(result: str, at: datetime | None = None, reason: str | None = None) -> Outcome:
        return Outcome(
            inv.invoice_id,
            result,
            retries,
            card_retries,
            len(cap_stops) + card_blocked,
            int(network_stop),
            at,
            round((at - t0).total_seconds() / 86400, 2) if at else None,
            reason,
        )

    while True:
        state = RetryState(decline_class, ours, len(made), t0, made[-1], made)
        due = rules.next_retry_at(policy, state)
        future = due is not None and due > until  # not due yet: the evidence stops at ``until``
        if future:
            due = None
        elif due is None and not policy.let_stripe_retry:
            why, stopped = _stop_reason(policy, state)
            if why == "cap" and stopped is not None and stopped <= until:
                cap_stops.add(stopped)
            network_stop = network_stop or why == "network"
        change = changes[gen] if gen < len(changes) else None
        if change is not None and (due is None or change <= due):
            gen += 1
            if rules.retry_on_new_card(policy, state, change):
                card_retries += 1
                made.append(change)
                if _pays(inv, change, gen):
                    return outcome(NEW_CARD, change)
                code = _known_code(inv, change, gen, None)
                decline_class = rules.classify(code)
            elif policy.retry_on_new_card and not policy.let_stripe_retry and change <= window_end:
                card_blocked += 1  # the cap left no room for the new card
            continue
        if due is None:
            break
        ours += 1
        retries += 1
        made.append(due)
        if _pays(inv, due, gen):
            return outcome(RETRY if gen == 0 else NEW_CARD, due)
        code = _known_code(inv, due, gen, code)
        decline_class = rules.classify(code)

    if inv.paid_at is None:
        if not inv.final and until < window_end:
            return outcome(OPEN)
        return outcome(LOST, reason="not_paid")
    return outcome(LOST, reason="new_card_not_charged" if inv.paid_generation else "paid_after_retries")


def _percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (the smallest value with ``share`` of values at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass(frozen=True)
class PolicyReport:
    policy: RetryPolicy
    invoices: int
    retries: int
    card_retries: int
    blocked_by_cap: int
    blocked_by_network: int
    counts: dict[str, int]  # by result
    amounts: dict[str, dict[str, int]]  # by result, then currency
    lost_reasons: dict[str, int]
    days_median: float | None
    days_p90: float | None
    outcomes: tuple[Outcome, ...] = field(repr=False, default=())

    @property
    def decided(self) -> int:
        return self.invoices - self.counts[OPEN]

    @property
    def recovered(self) -> int:
        return self.counts[RETRY] + self.counts[NEW_CARD]

    @property
    def recovery_rate(self) -> float | None:
        return round(self.recovered / self.decided, 4) if self.decided else None

    def outcome(self, invoice_id: str) -> Outcome:
        return next(o for o in self.outcomes if o.invoice_id == invoice_id)

    def to_dict(self) -> dict:
        return {
            "policy": json.loads(self.policy.to_json()),
            "invoices": self.invoices,
            "retries_run": self.retries,
            "new_card_retries_run": self.card_retries,
            "blocked_by_cap": self.blocked_by_cap,
            "blocked_by_network_rules": self.blocked_by_network,
            "recovered_by_retry": {"invoices": self.counts[RETRY], "amounts": self.amounts[RETRY]},
            "recovered_with_new_card": {"invoices": self.counts[NEW_CARD], "amounts": self.amounts[NEW_CARD]},
            "lost": {
                "invoices": self.counts[LOST],
                "amounts": self.amounts[LOST],
                "reasons": self.lost_reasons,
            },
            "still_open": {"invoices": self.counts[OPEN], "amounts": self.amounts[OPEN]},
            "recovery_rate": self.recovery_rate,
            "days_to_recovery": {"median": self.days_median, "p90": self.days_p90},
        }


def replay(snapshot: Snapshot, policy: RetryPolicy) -> PolicyReport:
    """Every invoice of the snapshot under ``policy``, and the totals."""
    outcomes = tuple(replay_invoice(inv, policy, snapshot.until) for inv in snapshot.invoices)
    counts = dict.fromkeys(RESULT_LABELS, 0)
    amounts: dict[str, dict[str, int]] = {key: defaultdict(int) for key in RESULT_LABELS}
    reasons = dict.fromkeys(LOST_REASONS, 0)
    days = []
    for inv, outcome in zip(snapshot.invoices, outcomes, strict=True):
        counts[outcome.result] += 1
        amounts[outcome.result][inv.currency] += inv.amount
        if outcome.reason:
            reasons[outcome.reason] += 1
        if outcome.days is not None:
            days.append(outcome.days)
    return PolicyReport(
        policy=policy,
        invoices=len(outcomes),
        retries=sum(o.retries for o in outcomes),
        card_retries=sum(o.card_retries for o in outcomes),
        blocked_by_cap=sum(o.blocked_by_cap for o in outcomes),
        blocked_by_network=sum(o.blocked_by_network for o in outcomes),
        counts=counts,
        amounts={key: dict(sorted(value.items())) for key, value in amounts.items()},
        lost_reasons=reasons,
        days_median=round(statistics.median(days), 2) if days else None,
        days_p90=_percentile(days, 0.9),
        outcomes=outcomes,
    )


@dataclass(frozen=True)
class Comparison:
    snapshot: Snapshot
    reports: dict[str, PolicyReport]  # "current", and "draft" when one was given

    def observed(self) -> dict[str, int]:
        found = dict.fromkeys(RESULT_LABELS, 0)
        for inv in self.snapshot.invoices:
            found[inv.observed] += 1
        return found

    def to_dict(self, workspace_slug: str | None = None) -> dict:
        happened = self.observed()
        return {
            "workspace": workspace_slug,
            "period": {
                "days": self.snapshot.days,
                "since": clock.iso(self.snapshot.since),
                "until": clock.iso(self.snapshot.until),
            },
            "invoices": len(self.snapshot.invoices),
            "what_happened": {
                "paid_on_same_card": happened[RETRY],
                "paid_with_new_card": happened[NEW_CARD],
                "never_paid": happened[LOST],
                "still_open": happened[OPEN],
            },
            "policies": {name: report.to_dict() for name, report in self.reports.items()},
            "rules": {
                "recovered_by_retry": "Paid by a later retry on the same card, at or after the moment the "
                "evidence shows that card paid.",
                "recovered_with_new_card": "Paid by charging the new default card the customer set.",
                "blocked_by_cap": "Retries the schedule wanted that the attempt cap stopped (the first "
                "failure and every retry count).",
                "blocked_by_network_rules": "Invoices whose retries stopped on a decline the card networks "
                "forbid retrying (lost, stolen, fraudulent …).",
            },
            "limits": list(LIMITS),
        }


def compare(snapshot: Snapshot, current: RetryPolicy, draft: RetryPolicy | None = None) -> Comparison:
    reports = {"current": replay(snapshot, current)}
    if draft is not None:
        reports["draft"] = replay(snapshot, draft)
    return Comparison(snapshot, reports)


def _amounts_text(amounts: dict[str, int]) -> str:
    return " + ".join(money(v, c) for c, v in amounts.items()) if amounts else "none"


def _days_text(value: float | None) -> str:
    if value is None:
        return "no recovery"
    return f"{value:g} day{'' if value == 1 else 's'}"


def _rate_text(report: PolicyReport) -> str:
    if report.recovery_rate is None:
        return "no decided invoice yet"
    return f"{report.recovery_rate * 100:.1f}% of {report.decided:,}"


def _invoices_text(report: PolicyReport, result: str) -> str:
    count = report.counts[result]
    return f"{count:,} ({_amounts_text(report.amounts[result])})" if count else "0"


# (key in the JSON, label a person reads, the text of one policy's figure)
SUMMARY_ROWS: tuple[tuple[str, str, Callable[[PolicyReport], str]], ...] = (
    ("retries_run", "Retries that would run", lambda r: f"{r.retries:,}"),
    ("new_card_retries_run", "Charges of a new card", lambda r: f"{r.card_retries:,}"),
    ("blocked_by_cap", "Retries stopped by the attempt cap", lambda r: f"{r.blocked_by_cap:,}"),
    (
        "blocked_by_network_rules",
        "Invoices stopped by network rules (never-retry declines)",
        lambda r: f"{r.blocked_by_network:,}",
    ),
    ("recovered_by_retry", "Recovered by a retry on the same card", lambda r: _invoices_text(r, RETRY)),
    ("recovered_with_new_card", "Recovered after a new card", lambda r: _invoices_text(r, NEW_CARD)),
    ("lost", "Lost", lambda r: _invoices_text(r, LOST)),
    ("still_open", "Still open (too early to tell)", lambda r: _invoices_text(r, OPEN)),
    ("recovery_rate", "Recovery rate (of decided invoices)", _rate_text),
    ("days_median", "Days to recovery, median", lambda r: _days_text(r.days_median)),
    ("days_p90", "Days to recovery, 90th percentile", lambda r: _days_text(r.days_p90)),
)


def summary_rows(comparison: Comparison) -> list[dict]:
    """The comparison as rows a person reads: ``key``, ``label`` and one text per policy, in the
    order of ``comparison.reports``."""
    return [
        {"key": key, "label": label, "values": [text(report) for report in comparison.reports.values()]}
        for key, label, text in SUMMARY_ROWS
    ]


# -- reading the evidence -----------------------------------------------------------------------


def _ts(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


def _campaign_history(db: Database, workspace_id: int, since: datetime) -> tuple[list[dict], dict, dict]:
    """Backstop's campaigns of the period, their attempts, and their timeline facts."""
    since_iso = clock.iso(since)
    found = all_rows(
        db,
        "SELECT id, invoice_id, customer_id, subscription_id, amount_due, currency, decline_code, "
        "advice_code, status, first_failed_at, closed_at FROM campaigns WHERE workspace_id = ? "
        "AND first_failed_at >= ? ORDER BY first_failed_at, id",
        [workspace_id, since_iso],
    )
    attempts: dict[int, list[dict]] = defaultdict(list)
    for row in all_rows(
        db,
        "SELECT a.campaign_id, a.attempted_at, a.outcome, a.decline_code FROM payment_attempts a "
        "JOIN campaigns c ON c.id = a.campaign_id WHERE c.workspace_id = ? AND c.first_failed_at >= ? "
        "ORDER BY a.attempted_at, a.id",
        [workspace_id, since_iso],
    ):
        attempts[row["campaign_id"]].append(row)
    facts: dict[int, dict] = defaultdict(lambda: {"card_changes": []})
    for row in all_rows(
        db,
        "SELECT e.campaign_id, e.at, e.kind, json_extract(e.detail, '$.decline_code') AS decline_code "
        "FROM campaign_events e JOIN campaigns c "
        "ON c.id = e.campaign_id WHERE c.workspace_id = ? AND c.first_failed_at >= ? "
        "AND e.kind IN ('opened', 'card_updated') ORDER BY e.id",
        [workspace_id, since_iso],
    ):
        if row["kind"] == "opened":
            facts[row["campaign_id"]]["opened"] = {"decline_code": row["decline_code"]}
        else:
            facts[row["campaign_id"]]["card_changes"].append(clock.parse(row["at"]))
    return found, attempts, facts


def load_snapshot(
    db: Database, workspace_id: int, days: int = DEFAULT_DAYS, now: datetime | None = None
) -> Snapshot:
    """Every failed subscription invoice whose first failure falls in the last ``days`` days, from
    the Stripe mirror (through ``stripe_sync.lookups``) and Backstop's own campaign history."""
    until = now or clock.now()
    since = until - timedelta(days=days)
    since_ts = int(since.timestamp())
    failures = lookups.payment_failures_since(db, workspace_id, since_ts)
    found, attempts, facts = _campaign_history(db, workspace_id, since)
    by_invoice = {c["invoice_id"]: c for c in found}
    ids = sorted(set(failures) | set(by_invoice))
    mirror = lookups.invoices_by_id(db, workspace_id, ids)
    card_changes = lookups.default_card_changes_since(db, workspace_id, since_ts)
    invoices = []
    for invoice_id in ids:
        invoice = mirror.get(invoice_id) or {}
        campaign = by_invoice.get(invoice_id)
        if campaign is None and not invoice.get("subscription_id"):
            continue  # one-off invoices get no recovery campaign, so no policy applies
        history = _history(
            invoice_id,
            invoice,
            campaign,
            [_ts(t) for t in failures.get(invoice_id, [])],
            attempts.get(campaign["id"], []) if campaign else [],
            facts.get(campaign["id"], {}) if campaign else {},
            [
                _ts(t)
                for t in card_changes.get(
                    invoice.get("customer_id") or (campaign or {}).get("customer_id"), []
                )
            ],
        )
        if history is not None and history.first_failed_at >= since:
            invoices.append(history)
    invoices.sort(key=lambda h: (h.first_failed_at, h.invoice_id))
    return Snapshot(workspace_id, since, until, tuple(invoices))


def _history(
    invoice_id: str,
    invoice: dict,
    campaign: dict | None,
    failed_at: list[datetime],
    ours: list[dict],
    facts: dict,
    customer_card_changes: list[datetime],
) -> InvoiceHistory | None:
    opened = facts.get("opened") or {}
    backstop_attempts = [
        Attempt(clock.parse(a["attempted_at"]), a["outcome"] == "succeeded", a["decline_code"], "backstop")
        for a in ours
        if a["outcome"] in ("succeeded", "declined")
    ]
    # Stripe reports Backstop's declined retries as failures too: those are the same attempts.
    stripe_attempts = [
        Attempt(t, False, None, "stripe")
        for t in failed_at
        if not any(abs(t - a.at) <= SAME_ATTEMPT for a in backstop_attempts)
    ]
    starts = [a.at for a in stripe_attempts]
    if campaign:
        starts.append(clock.parse(campaign["first_failed_at"]))
    if not starts:
        return None
    first = min(starts)
    code = opened.get("decline_code") or (campaign or {}).get("decline_code")
    everything = sorted(
        [a for a in (*stripe_attempts, *backstop_attempts) if a.at > first], key=lambda a: a.at
    )
    paid_at = None
    if invoice.get("status") == "paid":
        paid_at = _ts(invoice.get("paid_at"))
    if paid_at is None and campaign and campaign["status"] == "recovered":
        paid_at = clock.parse(campaign["closed_at"]) if campaign["closed_at"] else None
    if paid_at is None and invoice.get("status") == "paid":
        paid_at = next((a.at for a in everything if a.succeeded), everything[-1].at if everything else first)
    changes = sorted({c for c in (*facts.get("card_changes", []), *customer_card_changes) if c > first})
    final = paid_at is None and (
        invoice.get("status") in ("void", "uncollectible")
        or bool(invoice.get("deleted"))
        or (campaign is not None and campaign["status"] in ("lost", "abandoned"))
    )
    return InvoiceHistory(
        invoice_id=invoice_id,
        customer_id=invoice.get("customer_id") or (campaign or {}).get("customer_id"),
        amount=int(invoice.get("amount_due") or (campaign or {}).get("amount_due") or 0),
        currency=(invoice.get("currency") or (campaign or {}).get("currency") or "usd").lower(),
        first_failed_at=first,
        decline_code=code,
        advice_code=(campaign or {}).get("advice_code"),
        attempts=tuple(everything),
        card_changes=tuple(changes),
        paid_at=paid_at,
        final=final,
    )


def backtest(
    db: Database,
    workspace_id: int,
    draft: RetryPolicy | None = None,
    days: int = DEFAULT_DAYS,
    now: datetime | None = None,
    current: RetryPolicy | None = None,
) -> Comparison:
    """The workspace's saved policy (or ``current``) and ``draft`` over the last ``days`` days."""
    snapshot = load_snapshot(db, workspace_id, days, now)
    return compare(snapshot, current or get_policy(db, workspace_id), draft)
