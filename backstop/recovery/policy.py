"""The retry policy: decline-code rules a founder can read, as pure functions.

Nothing here does I/O, so every rule is tested on its own. The numbers come from card-network
rules and Stripe's guidance (see docs/recovery.md): soft declines are worth retrying later; hard
declines get one polite retry and then wait for a new card; some codes must never be retried on
the same card. Each class has its own rule (retries, gaps, end action) that a workspace can
change, inside ceilings no setting can pass: the card networks' retry limits, stated in words.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

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


# -- card-network ceilings ----------------------------------------------------------------------
# Hard limits no setting can pass; each comes with the sentence the Retry policy page shows.
ATTEMPT_CEILING = 15  # attempts per invoice in 30 days, Stripe's included
WINDOW_CEILING = 30  # days
MIN_GAP_DAYS = 1
CEILING_WORDS = {
    "attempts": (
        "Visa allows at most 15 retries of a declined card in 30 days under its older rule (20 since "
        "May 2025), and Mastercard charges excessive-retry fees past 35 declines of one amount in 30 "
        "days; Backstop stops at 15 attempts per invoice in 30 days, Stripe's own included, to stay "
        "under both."
    ),
    "never": (
        "Visa forbids any new attempt on a card whose issuer will never approve it (lost, stolen, "
        "closed account, pick up card), and Mastercard forbids retrying after the advice “do not try "
        "again” or “stop recurring payments”: these declines wait for a new card."
    ),
    "gap": (
        "Mastercard charges fees for more than 10 declines of one card in a day, so retries are at "
        "least a day apart."
    ),
    "window": "Visa and Mastercard count retries over 30 days, so the retry window is at most 30 days.",
}
CLASS_LABELS = {SOFT: "Soft declines", HARD: "Hard declines", NEVER: "Never-retry declines"}


@dataclass(frozen=True)
class ClassRule:
    """What Backstop does for one decline class: how many retries, how far apart, and what
    happens to the subscription when the campaign ends without a payment."""

    retries: int
    gaps_days: tuple[int, ...]  # one gap per retry, each from the previous attempt; the last repeats
    terminal_action: str = "cancel"

    def gap(self, n: int) -> int:
        """Days before retry number ``n + 1`` (counted from the attempt before it)."""
        return self.gaps_days[min(n, len(self.gaps_days) - 1)]

    def retry_days(self) -> list[int]:
        """The days after the first failure on which the retries fall."""
        days, elapsed = [], 0
        for n in range(self.retries):
            elapsed += self.gap(n)
            days.append(elapsed)
        return days


DEFAULT_RULES: dict[str, ClassRule] = {
    SOFT: ClassRule(3, (3, 5, 7)),
    HARD: ClassRule(1, (3,)),
    NEVER: ClassRule(0, ()),
}


def _rules_default() -> dict[str, ClassRule]:
    return dict(DEFAULT_RULES)


@dataclass(frozen=True)
class RetryPolicy:
    rules: dict[str, ClassRule] = field(default_factory=_rules_default)
    max_attempts: int = 6  # per invoice in the window, Stripe's own attempts included
    window_days: int = 30
    retry_on_new_card: bool = True
    let_stripe_retry: bool = False  # then Backstop only emails
    dunning_days: tuple[int, ...] = (0, 3, 7, 14)  # after the first failure
    final_grace_days: int = 7  # after the last email or retry, the campaign is lost

    def rule(self, decline_class: str) -> ClassRule:
        return self.rules.get(decline_class) or DEFAULT_RULES.get(decline_class) or DEFAULT_RULES[SOFT]

    def terminal_action(self, decline_class: str) -> str:
        return self.rule(decline_class).terminal_action

    def with_rule(self, decline_class: str, **changes: Any) -> RetryPolicy:
        """This policy with one class's rule changed."""
        rules = dict(self.rules)
        rules[decline_class] = replace(self.rule(decline_class), **changes)
        return replace(self, rules=rules)

    def validate(self) -> FieldErrors:
        """What is wrong with these settings, by the form field that sets each (empty if nothing)."""
        errors: dict[str, str] = {}
        if not 1 <= self.max_attempts <= ATTEMPT_CEILING:
            errors["max_attempts"] = f"Attempt cap: 1 to {ATTEMPT_CEILING}. " + CEILING_WORDS["attempts"]
        if not 1 <= self.window_days <= WINDOW_CEILING:
            errors["window_days"] = f"Retry window: 1 to {WINDOW_CEILING} days. " + CEILING_WORDS["window"]
        for cls in CLASSES:
            errors.update(self._rule_errors(cls, self.rule(cls)))
        days = list(self.dunning_days)
        if len(days) != 4 or days != sorted(days) or len(set(days)) != 4 or days[0] < 0 or days[-1] > 30:
            errors["dunning_days"] = "Dunning: four emails on increasing days between day 0 and day 30."
        if not 1 <= self.final_grace_days <= 30:
            errors["final_grace_days"] = "Final grace: 1 to 30 days after the last step."
        return FieldErrors(errors)

    def _rule_errors(self, cls: str, rule: ClassRule) -> dict[str, str]:
        label = CLASS_LABELS[cls]
        if rule.terminal_action not in TERMINAL_ACTIONS:
            return {f"{cls}_terminal_action": f"{label}: pick cancel, mark unpaid or leave past due."}
        if cls == NEVER and rule.retries:
            return {f"{cls}_retries": f"{label} can't be retried. " + CEILING_WORDS["never"]}
        most = max(0, min(self.max_attempts, ATTEMPT_CEILING) - 1)
        if rule.retries < 0 or rule.retries > ATTEMPT_CEILING - 1:
            return {
                f"{cls}_retries": f"{label}: 0 to {ATTEMPT_CEILING - 1} retries. " + CEILING_WORDS["attempts"]
            }
        if rule.retries > most:
            return {
                f"{cls}_retries": (
                    f"{label}: at most {most} retr{'y' if most == 1 else 'ies'} with an attempt cap of "
                    f"{self.max_attempts}: the first failed charge counts as an attempt too."
                )
            }
        if rule.retries and not rule.gaps_days:
            return {f"{cls}_gaps_days": f"{label}: give the days between retries, such as 3, 5, 7."}
        if len(rule.gaps_days) > max(rule.retries, 1) and cls != NEVER:
            return {
                f"{cls}_gaps_days": (
                    f"{label}: {len(rule.gaps_days)} gaps for {rule.retries} retr"
                    f"{'y' if rule.retries == 1 else 'ies'}; give at most one gap per retry."
                )
            }
        if any(g < MIN_GAP_DAYS for g in rule.gaps_days):
            return {f"{cls}_gaps_days": f"{label}: each gap is at least 1 day. " + CEILING_WORDS["gap"]}
        last = (rule.retry_days() or [0])[-1]
        if last > self.window_days:
            return {
                f"{cls}_gaps_days": (
                    f"{label}: the last retry would fall on day {last}, after the {self.window_days}-day "
                    "window; shorten the gaps or retry less."
                )
            }
        return {}

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | None) -> RetryPolicy:
        if not raw:
            return cls()
        data = json.loads(raw)
        known = {f for f in cls.__dataclass_fields__} - {"rules"}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        rules = _rules_default()
        for name, rule in (data.get("rules") or {}).items():
            if name in CLASSES and isinstance(rule, dict):
                rules[name] = ClassRule(
                    int(rule.get("retries", 0)),
                    tuple(int(g) for g in rule.get("gaps_days") or ()),
                    rule.get("terminal_action", "cancel"),
                )
        return replace(cls(), rules=rules, **values)

    def retries_planned(self, decline_class: str) -> int:
        if self.let_stripe_retry or decline_class == NEVER:
            return 0
        return self.rule(decline_class).retries


# -- reading the settings forms ------------------------------------------------------------------


def _whole(form: Mapping[str, Any], name: str, errors: FieldErrors, label: str) -> int:
    try:
        return int(str(form.get(name) or "").strip())
    except ValueError:
        errors.add(name, f"{label}: enter a whole number.")
        return -1


def _days_list(form: Mapping[str, Any], name: str, errors: FieldErrors, label: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in str(form.get(name) or "").replace(",", " ").split())
    except ValueError:
        errors.add(name, f"{label}: whole numbers of days separated by commas, such as 3, 5, 7.")
        return ()


def parse_retry_policy(current: RetryPolicy, form: Mapping[str, Any]) -> RetryPolicy:
    """The Retry policy form (a rule per decline class, then the limits for every class) on top
    of ``current``; raises ``FieldErrors`` with one sentence per field, including a rule past a
    card-network ceiling and why."""
    errors = FieldErrors()
    rules = {}
    for cls in CLASSES:
        label = CLASS_LABELS[cls]
        if cls == NEVER:  # never-retry declines have no retry fields; a posted count is still judged
            retries = (
                _whole(form, "never_retries", errors, f"{label}, retries") if form.get("never_retries") else 0
            )
            gaps: tuple[int, ...] = ()
        else:
            retries = _whole(form, f"{cls}_retries", errors, f"{label}, retries")
            gaps = _days_list(form, f"{cls}_gaps_days", errors, f"{label}, days between retries")
        rules[cls] = ClassRule(retries, gaps, str(form.get(f"{cls}_terminal_action") or ""))
    policy = replace(
        current,
        rules=rules,
        max_attempts=_whole(form, "max_attempts", errors, "Attempt cap"),
        window_days=_whole(form, "window_days", errors, "Retry window"),
        retry_on_new_card=form.get("retry_on_new_card") == "1",
        let_stripe_retry=form.get("let_stripe_retry") == "1",
        final_grace_days=_whole(form, "final_grace_days", errors, "Final grace"),
    )
    errors.raise_if_any()  # the rules can't be judged on numbers that didn't parse
    policy.validate().raise_if_any()
    return policy


def parse_dunning_days(
    current: RetryPolicy, form: Mapping[str, Any], steps: tuple[int, ...] = (1, 2, 3, 4)
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


def policy_form(policy: RetryPolicy) -> dict[str, Any]:
    """A policy as the form's values."""
    values: dict[str, Any] = {
        "max_attempts": policy.max_attempts,
        "window_days": policy.window_days,
        "retry_on_new_card": policy.retry_on_new_card,
        "let_stripe_retry": policy.let_stripe_retry,
        "final_grace_days": policy.final_grace_days,
    }
    for cls in CLASSES:
        rule = policy.rule(cls)
        values[f"{cls}_retries"] = rule.retries
        values[f"{cls}_gaps_days"] = ", ".join(str(g) for g in rule.gaps_days)
        values[f"{cls}_terminal_action"] = rule.terminal_action
    return values


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
    gap = policy.rule(state.decline_class).gap(state.our_attempts)
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


def _retry_words(rule: ClassRule) -> str:
    if not rule.retries:
        return "No retries: wait for a new card"
    days = ", ".join(str(d) for d in rule.retry_days())
    count = f"{rule.retries} retr{'y' if rule.retries == 1 else 'ies'}"
    return f"{count}, on day{'s' if rule.retries != 1 else ''} {days} after the first failure"


# What Stripe's own Smart Retries would do for each class, in the words the page shows.
STRIPE_WOULD = {
    SOFT: "Retried up to 8 times within 2 weeks (Stripe's recommended setting), at times its model picks.",
    HARD: (
        "Retried on the same schedule as soft declines, except codes Stripe treats as hard declines "
        "(such as incorrect_number or authentication_required): those are not retried at all."
    ),
    NEVER: (
        "Not retried for lost, stolen or pick-up cards and revoked authorizations; other codes here "
        "(restricted_card, fraudulent) would still be retried on the same card."
    ),
}


def policy_table(policy: RetryPolicy) -> list[dict]:
    """The policy as rows a founder can read: one per decline class."""
    examples = {
        SOFT: "insufficient_funds, generic_decline, do_not_honor, processing_error, try_again_later",
        HARD: "expired_card, incorrect_number, incorrect_cvc, card_not_supported, authentication_required",
        NEVER: "lost_card, stolen_card, pickup_card, restricted_card, revocation_of_authorization, fraudulent",
    }
    rows = []
    for cls in CLASSES:
        rule = policy.rule(cls)
        if policy.let_stripe_retry:
            retries = "Stripe's own Smart Retries (Backstop only emails)"
        else:
            retries = _retry_words(rule)
            if cls == HARD and rule.retries:
                retries += ", then wait for a new card"
        rows.append(
            {
                "class": cls,
                "label": CLASS_LABELS[cls],
                "examples": examples[cls],
                "retries": retries,
                "end": TERMINAL_ACTIONS.get(rule.terminal_action, rule.terminal_action),
                "stripe": STRIPE_WOULD[cls],
            }
        )
    return rows


# -- a policy as a file --------------------------------------------------------------------------
# The file format is the JSON the Retry policy page saves (``RetryPolicy.to_json``): a field left
# out keeps the value of the policy it is read on top of.

_FILE_FIELDS = {
    "max_attempts": "max_attempts",
    "window_days": "window_days",
    "final_grace_days": "final_grace_days",
    "dunning_days": "dunning_days",
}


def _file_path(form_field: str) -> str:
    """Where in the file a form field's value lives: ``soft_gaps_days`` → ``rules.soft.gaps_days``."""
    for cls in CLASSES:
        if form_field.startswith(f"{cls}_"):
            return f"rules.{cls}.{form_field[len(cls) + 1 :]}"
    return form_field


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def policy_from_document(current: RetryPolicy, data: Any) -> RetryPolicy:
    """A policy file's decoded JSON on top of ``current``; raises ``FieldErrors`` keyed by the
    file's field (``rules.soft.gaps_days``), one sentence each."""
    errors = FieldErrors()
    if not isinstance(data, dict):
        raise FieldErrors({"form": 'A policy file is a JSON object, such as {"max_attempts": 6}.'})
    known = {*_FILE_FIELDS, "rules", "retry_on_new_card", "let_stripe_retry"}
    for name in sorted(set(data) - known):
        errors.add(name, f"{name} isn't a retry policy field; the fields are {', '.join(sorted(known))}.")
    values: dict[str, Any] = {}
    for name in ("max_attempts", "window_days", "final_grace_days"):
        if name in data:
            if not _is_whole(data[name]):
                errors.add(name, f"{name} must be a whole number.")
            else:
                values[name] = data[name]
    if "dunning_days" in data:
        days = data["dunning_days"]
        if not isinstance(days, list) or not all(_is_whole(d) for d in days):
            errors.add(
                "dunning_days", "dunning_days must be a list of whole numbers of days, such as [0, 3, 7, 14]."
            )
        else:
            values["dunning_days"] = tuple(days)
    for name in ("retry_on_new_card", "let_stripe_retry"):
        if name in data:
            if not isinstance(data[name], bool):
                errors.add(name, f"{name} must be true or false.")
            else:
                values[name] = data[name]
    rules = dict(current.rules)
    given = data.get("rules", {})
    if not isinstance(given, dict):
        errors.add("rules", "rules must be an object with a rule for soft, hard and never.")
        given = {}
    for cls in sorted(given):
        rule = given[cls]
        if cls not in CLASSES:
            errors.add(
                f"rules.{cls}", f"rules.{cls} isn't a decline class; the classes are soft, hard and never."
            )
            continue
        if not isinstance(rule, dict):
            errors.add(
                f"rules.{cls}", f"rules.{cls} must be an object with retries, gaps_days and terminal_action."
            )
            continue
        base = current.rule(cls)
        for name in sorted(set(rule) - {"retries", "gaps_days", "terminal_action"}):
            errors.add(
                f"rules.{cls}.{name}",
                f"rules.{cls}.{name} isn't a rule field; use retries, gaps_days or terminal_action.",
            )
        retries, gaps, action = base.retries, base.gaps_days, base.terminal_action
        if "retries" in rule:
            if _is_whole(rule["retries"]):
                retries = rule["retries"]
            else:
                errors.add(f"rules.{cls}.retries", f"rules.{cls}.retries must be a whole number.")
        if "gaps_days" in rule:
            if isinstance(rule["gaps_days"], list) and all(_is_whole(g) for g in rule["gaps_days"]):
                gaps = tuple(rule["gaps_days"])
            else:
                errors.add(
                    f"rules.{cls}.gaps_days",
                    f"rules.{cls}.gaps_days must be a list of whole numbers of days, such as [3, 5, 7].",
                )
        if "terminal_action" in rule:
            if isinstance(rule["terminal_action"], str):
                action = rule["terminal_action"]
            else:
                errors.add(f"rules.{cls}.terminal_action", f"rules.{cls}.terminal_action must be a string.")
        rules[cls] = ClassRule(retries, gaps, action)
    errors.raise_if_any()
    policy = replace(current, rules=rules, **values)
    problems = policy.validate()
    if problems:
        raise FieldErrors({_file_path(name): message for name, message in problems.items()})
    return policy


def policy_from_file_text(current: RetryPolicy, text: str) -> RetryPolicy:
    """A policy file's text on top of ``current``; raises ``FieldErrors`` (``form`` for a file
    that isn't JSON)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        where = f" at line {line}, column {exc.colno}" if line else ""  # type: ignore[attr-defined]
        raise FieldErrors({"form": f"The policy file isn't valid JSON{where}."}) from exc
    return policy_from_document(current, data)
