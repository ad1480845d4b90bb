"""The retry policy: decline-code rules a founder can read, as pure functions.

Nothing here does I/O, so every rule is tested on its own. The numbers come from card-network
rules and Stripe's guidance (see docs/recovery.md): soft declines are worth retrying later; hard
declines get one polite retry and then wait for a new card; some codes must never be retried on
the same card. Backstop's own cap (6 attempts per invoice in 30 days, counting Stripe's) stays
well inside Visa's and Mastercard's excessive-retry limits.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta

from backstop.lib.forms import FieldErrors

SOFT = "soft"
HARD = "hard"
NEVER = "never"
CLASSES = (SOFT, HARD, NEVER)

NEVER_RETRY_CODES = frozenset(
    {
        "lost_card",
        "stolen_card",
        "pickup_card",
        "restricted_card",
        "revocation_of_authorization",
        "revocation_of_all_authorizations",
        "fraudulent",
        "merchant_blacklist",
        "security_violation",
        "highest_risk_level",
        "transaction_not_allowed",
        "invalid_account",
        "new_account_information_available",
    }
)
HARD_CODES = frozenset(
    {
        "expired_card",
        "incorrect_number",
        "incorrect_cvc",
        "invalid_cvc",
        "invalid_number",
        "invalid_expiry_month",
        "invalid_expiry_year",
        "card_not_supported",
        "currency_not_supported",
        "authentication_required",
        "incorrect_zip",
        "incorrect_address",
        "card_velocity_exceeded",
        "invalid_amount",
        "not_permitted",
        "service_not_allowed",
        "stop_payment_order",
        "testmode_decline",
        "withdrawal_count_limit_exceeded",
    }
)
SOFT_CODES = frozenset(
    {
        "insufficient_funds",
        "generic_decline",
        "do_not_honor",
        "processing_error",
        "try_again_later",
        "issuer_not_available",
        "approve_with_id",
        "call_issuer",
        "card_declined",
        "duplicate_transaction",
        "no_action_taken",
        "reenter_transaction",
    }
)

TERMINAL_ACTIONS = {
    "cancel": "Cancel the subscription",
    "mark_unpaid": "Mark the invoice uncollectible (subscription becomes unpaid)",
    "leave_past_due": "Leave the subscription past due",
}

# Words a customer reads on the update-card page and in emails, never the raw code.
CUSTOMER_MESSAGES = {
    "insufficient_funds": "Your bank declined the charge for insufficient funds.",
    "expired_card": "The card on file has expired.",
    "incorrect_cvc": "The card's security code didn't match.",
    "incorrect_number": "The card number on file isn't valid any more.",
    "lost_card": "Your bank declined the card on file.",
    "stolen_card": "Your bank declined the card on file.",
    "authentication_required": "Your bank needs you to confirm the payment.",
}


def classify(decline_code: str | None, advice_code: str | None = None) -> str:
    """soft, hard or never. A code card networks forbid retrying is always never; otherwise
    Stripe's advice code, when present, outranks the decline code."""
    code = (decline_code or "").strip()
    if advice_code == "do_not_try_again" or code in NEVER_RETRY_CODES:
        return NEVER
    if advice_code == "confirm_card_data":
        return HARD
    if advice_code == "try_again_later":
        return SOFT
    if code in HARD_CODES:
        return HARD
    return SOFT  # soft codes and anything unknown: retrying later is the safe default


def customer_message(decline_code: str | None) -> str:
    return CUSTOMER_MESSAGES.get(decline_code or "", "Your bank declined the charge.")


@dataclass(frozen=True)
class RetryPolicy:
    soft_gaps_days: tuple[int, ...] = (3, 5, 7)  # each gap counted from the previous attempt
    hard_retries: int = 1
    hard_gap_days: int = 3
    max_attempts: int = 6  # per invoice in 30 days, Stripe's own attempts included
    window_days: int = 30
    retry_on_new_card: bool = True
    let_stripe_retry: bool = False  # then Backstop only emails
    terminal_action: str = "cancel"
    dunning_days: tuple[int, ...] = (0, 3, 7, 14)  # after the first failure
    final_grace_days: int = 7  # after the last email or retry, the campaign is lost

    def validate(self) -> FieldErrors:
        """What is wrong with these settings, by the form field that sets each (empty if nothing)."""
        problems = FieldErrors()
        if not 1 <= len(self.soft_gaps_days) <= 5 or any(not 1 <= g <= 14 for g in self.soft_gaps_days):
            problems.add("soft_gaps_days", "Soft-decline gaps: give 1 to 5 gaps of 1–14 days each.")
        if not 0 <= self.hard_retries <= 2 or not 1 <= self.hard_gap_days <= 14:
            problems.add("hard_retries", "Hard declines: 0–2 polite retries, 1–14 days apart.")
        if not 1 <= self.max_attempts <= 8:
            problems.add(
                "max_attempts", "Attempt cap: 1 to 8 attempts per invoice (card networks fine more)."
            )
        if self.terminal_action not in TERMINAL_ACTIONS:
            problems.add(
                "terminal_action", "Pick what happens at the end: cancel, mark unpaid or leave past due."
            )
        days = list(self.dunning_days)
        if len(days) != 4 or days != sorted(days) or len(set(days)) != 4 or days[0] < 0 or days[-1] > 30:
            problems.add("dunning_days", "Dunning: four emails on increasing days between day 0 and day 30.")
        if not 1 <= self.final_grace_days <= 30:
            problems.add("final_grace_days", "Final grace: 1 to 30 days after the last step.")
        return problems

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | None) -> RetryPolicy:
        if not raw:
            return cls()
        data = json.loads(raw)
        known = {f for f in cls.__dataclass_fields__}
        data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        return replace(cls(), **data)

    def retries_planned(self, decline_class: str) -> int:
        if self.let_stripe_retry or decline_class == NEVER:
            return 0
        return len(self.soft_gaps_days) if decline_class == SOFT else self.hard_retries


@dataclass(frozen=True)
class RetryState:
    decline_class: str
    our_attempts: int  # scheduled retries Backstop already made for this invoice
    total_attempts: int  # the invoice's attempt_count: Stripe's and ours
    first_failed_at: datetime
    last_attempt_at: datetime
    attempts_in_window: list[datetime] = field(default_factory=list)


def under_cap(policy: RetryPolicy, state: RetryState, at: datetime) -> bool:
    recent = [t for t in state.attempts_in_window if t > at - timedelta(days=policy.window_days)]
    return max(state.total_attempts, len(recent)) < policy.max_attempts


def next_retry_at(policy: RetryPolicy, state: RetryState) -> datetime | None:
    """When to retry next on the schedule, or None when the schedule is done for this card."""
    if state.our_attempts >= policy.retries_planned(state.decline_class):
        return None
    gap = policy.soft_gaps_days[state.our_attempts] if state.decline_class == SOFT else policy.hard_gap_days
    due = state.last_attempt_at + timedelta(days=gap)
    if due > state.first_failed_at + timedelta(days=policy.window_days):
        return None
    if not under_cap(policy, state, due):
        return None
    return due


def retry_on_new_card(policy: RetryPolicy, state: RetryState, at: datetime) -> bool:
    """A new default card earns an immediate retry, whatever the old card's decline said."""
    if policy.let_stripe_retry or not policy.retry_on_new_card:
        return False
    if at > state.first_failed_at + timedelta(days=policy.window_days):
        return False
    return under_cap(policy, state, at)


def dunning_times(policy: RetryPolicy, first_failed_at: datetime) -> list[datetime]:
    return [first_failed_at + timedelta(days=d) for d in policy.dunning_days]


def terminal_at(
    policy: RetryPolicy, first_failed_at: datetime, last_planned: datetime | None = None
) -> datetime:
    """When the campaign is lost if nothing recovers it: after the last email (or the last
    scheduled retry, if later), plus the final grace period."""
    last = dunning_times(policy, first_failed_at)[-1]
    if last_planned and last_planned > last:
        last = last_planned
    return last + timedelta(days=policy.final_grace_days)


def policy_table(policy: RetryPolicy) -> list[dict]:
    """The policy as rows a founder can read: one per decline class."""
    soft_days, elapsed = [], 0
    for gap in policy.soft_gaps_days:
        elapsed += gap
        soft_days.append(elapsed)
    if policy.let_stripe_retry:
        retry_text = "Stripe's own Smart Retries (Backstop only emails)"
        soft = hard = never = retry_text
    else:
        soft = "Retry on days " + ", ".join(str(d) for d in soft_days) + " after the first failure"
        hard = (
            (
                f"{policy.hard_retries} polite retr{'y' if policy.hard_retries == 1 else 'ies'} after "
                f"{policy.hard_gap_days} days, then wait for a new card"
            )
            if policy.hard_retries
            else "Wait for a new card"
        )
        never = "Never retry this card; wait for a new one"
    return [
        {
            "class": SOFT,
            "label": "Soft declines",
            "examples": "insufficient_funds, generic_decline, do_not_honor, processing_error, try_again_later",
            "retries": soft,
        },
        {
            "class": HARD,
            "label": "Hard declines",
            "examples": "expired_card, incorrect_number, incorrect_cvc, card_not_supported, authentication_required",
            "retries": hard,
        },
        {
            "class": NEVER,
            "label": "Never retry",
            "examples": "lost_card, stolen_card, pickup_card, restricted_card, revocation_of_authorization, fraudulent",
            "retries": never,
        },
    ]


# -- reading the settings forms ------------------------------------------------------------------


def _whole(form: dict, name: str, errors: FieldErrors, label: str) -> int:
    try:
        return int((form.get(name) or "").strip())
    except ValueError:
        errors.add(name, f"{label}: enter a whole number.")
        return -1


def _days_list(form: dict, name: str, errors: FieldErrors, label: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in (form.get(name) or "").replace(",", " ").split())
    except ValueError:
        errors.add(name, f"{label}: whole numbers of days separated by commas, such as 3, 5, 7.")
        return ()


def parse_retry_policy(current: RetryPolicy, form: dict) -> RetryPolicy:
    """The Retry policy form on top of ``current``; raises ``FieldErrors``."""
    errors = FieldErrors()
    policy = replace(
        current,
        soft_gaps_days=_days_list(form, "soft_gaps_days", errors, "Soft-decline gaps"),
        hard_retries=_whole(form, "hard_retries", errors, "Polite retries"),
        hard_gap_days=_whole(form, "hard_gap_days", errors, "Days before the polite retry"),
        max_attempts=_whole(form, "max_attempts", errors, "Attempt cap"),
        retry_on_new_card=form.get("retry_on_new_card") == "1",
        let_stripe_retry=form.get("let_stripe_retry") == "1",
        terminal_action=form.get("terminal_action", ""),
        final_grace_days=_whole(form, "final_grace_days", errors, "Final grace"),
    )
    errors.raise_if_any()
    policy.validate().raise_if_any()
    return policy


def parse_dunning_days(
    current: RetryPolicy, form: dict, steps: tuple[int, ...] = (1, 2, 3, 4)
) -> RetryPolicy:
    """The day of each dunning email (fields ``day_<n>``) on top of ``current``; raises
    ``FieldErrors`` (an order problem is reported on ``days``)."""
    errors = FieldErrors()
    days = tuple(_whole(form, f"day_{step}", errors, f"Email {step}") for step in steps)
    errors.raise_if_any()
    policy = replace(current, dunning_days=days)
    if "dunning_days" in (problems := policy.validate()):
        raise FieldErrors({"days": problems["dunning_days"]})
    return policy
