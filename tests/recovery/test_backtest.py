"""The policy backtest: 500 failed invoices with known answers under the saved policy and a draft.

The working for one invoice of each pattern (days after the first failure; the default policy
retries soft declines on days 3, 8, 15 and hard declines once on day 3, caps at 6 attempts and
retries a new card at once; BACKTEST_DRAFT retries soft declines on days 2, 6, 20, never retries
hard declines, caps at 4 attempts and also retries a new card at once):

- a: the same card paid on day 4. Default: day 3 declined, day 8 paid. Draft: day 2 declined,
  day 6 paid.
- b: Backstop's day-8 retry paid. Default: day 3 declined, day 8 paid. Draft: days 2 and 6
  declined, day 20 paid.
- c: expired card, new card on day 5 paid. Default: the hard retry on day 3 declined, the new card
  charged on day 5. Draft: no hard retry, the new card charged on day 5.
- d: stolen card, new card on day 10 paid: network rules stop any retry of the stolen card; the
  new card is charged on day 10 under both.
- e: never paid: default retries 3 times (3, 8, 15), draft 3 times (2, 6, 20); lost.
- f: the same card paid on day 20. Default: its last retry is day 15: lost, "paid after retries".
  Draft: days 2 and 6 declined, day 20 paid.
- g: failed yesterday: still open, no retry due yet under either.
- h: lost card, yet the same card paid on day 4: the networks forbid the retry under both; lost.
- i: a new card on day 1 that was declined, never paid. Default: new-card charge on day 1, retries
  on days 3, 8, 15 (5 attempts, under the cap of 6). Draft: new-card charge on day 1, retries on
  days 2 and 6, then day 20 is stopped by the cap of 4.
- j: the day-3 retry came back lost_card. Default: day 3 declined lost_card, then stop (network
  rules). Draft: day 2 declined (still insufficient_funds), day 6 judged lost_card, then stop.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from backstop import clock
from backstop.db import write_transaction
from backstop.recovery import backtest
from backstop.recovery.backtest import LOST, NEW_CARD, OPEN, RETRY
from backstop.recovery.policy import ClassRule, RetryPolicy, policy_from_document
from tests.builders import BACKTEST_DRAFT, put_backtest_history

NOW = clock.parse("2026-11-30T12:00:00+00:00")
DRAFT = policy_from_document(RetryPolicy(), BACKTEST_DRAFT)

# pattern → (result, days to recovery, retries, new-card retries, blocked by cap, by network, reason)
DEFAULT_EXPECTED = {
    "a_same_card_day4": (RETRY, 8.0, 2, 0, 0, 0, None),
    "b_backstop_paid_day8": (RETRY, 8.0, 2, 0, 0, 0, None),
    "c_expired_new_card": (NEW_CARD, 5.0, 1, 1, 0, 0, None),
    "d_stolen_new_card": (NEW_CARD, 10.0, 0, 1, 0, 1, None),
    "e_never_paid": (LOST, None, 3, 0, 0, 0, "not_paid"),
    "f_same_card_day20": (LOST, None, 3, 0, 0, 0, "paid_after_retries"),
    "g_still_open": (OPEN, None, 0, 0, 0, 0, None),
    "h_lost_card_paid_day4": (LOST, None, 0, 0, 0, 1, "paid_after_retries"),
    "i_new_card_declined": (LOST, None, 3, 1, 0, 0, "not_paid"),
    "j_turns_lost_card": (LOST, None, 1, 0, 0, 1, "not_paid"),
}
DRAFT_EXPECTED = {
    "a_same_card_day4": (RETRY, 6.0, 2, 0, 0, 0, None),
    "b_backstop_paid_day8": (RETRY, 20.0, 3, 0, 0, 0, None),
    "c_expired_new_card": (NEW_CARD, 5.0, 0, 1, 0, 0, None),
    "d_stolen_new_card": (NEW_CARD, 10.0, 0, 1, 0, 1, None),
    "e_never_paid": (LOST, None, 3, 0, 0, 0, "not_paid"),
    "f_same_card_day20": (RETRY, 20.0, 3, 0, 0, 0, None),
    "g_still_open": (OPEN, None, 0, 0, 0, 0, None),
    "h_lost_card_paid_day4": (LOST, None, 0, 0, 0, 1, "paid_after_retries"),
    "i_new_card_declined": (LOST, None, 2, 1, 1, 0, "not_paid"),
    "j_turns_lost_card": (LOST, None, 2, 0, 0, 1, "not_paid"),
}


@pytest.fixture
def history(db, acme):
    with write_transaction(db):
        patterns = put_backtest_history(db, acme.id, NOW, 500)
    return patterns


def _check(report, patterns, expected):
    for outcome in report.outcomes:
        result, days, retries, card, cap, network, reason = expected[patterns[outcome.invoice_id]]
        got = (
            outcome.result,
            outcome.days,
            outcome.retries,
            outcome.card_retries,
            outcome.blocked_by_cap,
            outcome.blocked_by_network,
            outcome.reason,
        )
        assert got == (result, days, retries, card, cap, network, reason), (
            outcome.invoice_id,
            patterns[outcome.invoice_id],
        )


def test_the_snapshot_holds_every_failed_invoice_of_the_period(db, acme, history):
    snapshot = backtest.load_snapshot(db, acme.id, 90, NOW)
    assert len(snapshot.invoices) == 500
    by_id = {inv.invoice_id: inv for inv in snapshot.invoices}
    first_a = next(i for i, p in history.items() if p == "a_same_card_day4")
    a = by_id[first_a]
    assert [x.by for x in a.attempts] == ["stripe"]  # the Smart Retry on day 1
    assert a.paid_at - a.first_failed_at == timedelta(days=4)
    first_c = next(i for i, p in history.items() if p == "c_expired_new_card")
    c = by_id[first_c]
    assert c.decline_code == "expired_card"
    assert [x.by for x in c.attempts] == ["backstop"]  # Stripe's report of that retry is the same attempt
    assert [t - c.first_failed_at for t in c.card_changes] == [timedelta(days=5)]
    assert c.observed == NEW_CARD


def test_each_invoice_gets_the_hand_computed_outcome_under_both_policies(db, acme, history):
    comparison = backtest.backtest(db, acme.id, DRAFT, days=90, now=NOW, current=RetryPolicy())
    _check(comparison.reports["current"], history, DEFAULT_EXPECTED)
    _check(comparison.reports["draft"], history, DRAFT_EXPECTED)


def test_the_totals_add_up_per_policy(db, acme, history):
    comparison = backtest.backtest(db, acme.id, DRAFT, days=90, now=NOW, current=RetryPolicy())
    current, draft = comparison.reports["current"], comparison.reports["draft"]
    # 50 invoices of each of the ten patterns
    assert current.counts == {RETRY: 100, NEW_CARD: 100, LOST: 250, OPEN: 50}
    assert draft.counts == {RETRY: 150, NEW_CARD: 100, LOST: 200, OPEN: 50}
    assert current.retries == 50 * (2 + 2 + 1 + 0 + 3 + 3 + 0 + 0 + 3 + 1)
    assert draft.retries == 50 * (2 + 3 + 0 + 0 + 3 + 3 + 0 + 0 + 2 + 2)
    assert (current.blocked_by_cap, draft.blocked_by_cap) == (0, 50)
    assert (current.blocked_by_network, draft.blocked_by_network) == (150, 150)
    assert current.recovery_rate == 0.4444  # 200 of 450 decided
    assert draft.recovery_rate == 0.5556
    assert current.amounts[RETRY] == {"usd": 100 * 4900}
    # days: 100 at 8, 50 at 5, 50 at 10 → median 8, p90 10
    assert (current.days_median, current.days_p90) == (8.0, 10.0)
    # draft: 50 at 6, 50 at 20 (b), 50 at 5, 50 at 10, 50 at 20 (f)
    assert (draft.days_median, draft.days_p90) == (10.0, 20.0)
    assert current.lost_reasons == {"not_paid": 150, "paid_after_retries": 100, "new_card_not_charged": 0}


def test_the_json_states_what_a_backtest_cannot_know(db, acme, history):
    data = backtest.backtest(db, acme.id, DRAFT, days=90, now=NOW).to_dict("acme")
    assert data["invoices"] == 500
    assert data["what_happened"] == {
        "paid_on_same_card": 200,
        "paid_with_new_card": 100,
        "never_paid": 150,
        "still_open": 50,
    }
    assert any("might have failed" in limit for limit in data["limits"])
    assert set(data["policies"]) == {"current", "draft"}


def test_a_shorter_period_leaves_older_invoices_out(db, acme, history):
    snapshot = backtest.load_snapshot(db, acme.id, 10, NOW)
    assert {history[i.invoice_id] for i in snapshot.invoices} == {"g_still_open"}


def test_another_workspaces_invoices_are_never_replayed(db, box, acme, olivia, history):
    from backstop.workspaces.workspaces import create_workspace

    other, _ = create_workspace(db, box, "Other", olivia.admin, "other")
    assert backtest.load_snapshot(db, other.id, 90, NOW).invoices == ()


def test_the_draft_file_reads_as_the_rules_the_working_assumes():
    assert DRAFT.rule("soft") == ClassRule(3, (2, 4, 14))
    assert DRAFT.rule("hard").retries == 0
    assert (DRAFT.max_attempts, DRAFT.window_days, DRAFT.retry_on_new_card) == (4, 30, True)


def test_let_stripe_retry_makes_no_retries_and_says_so(db, acme, history):
    stripe_retries = RetryPolicy(let_stripe_retry=True)
    report = backtest.backtest(db, acme.id, days=90, now=NOW, current=stripe_retries).reports["current"]
    assert (report.retries, report.card_retries, report.recovered) == (0, 0, 0)
    assert any("Let Stripe retry" in limit for limit in backtest.LIMITS)


@pytest.mark.parametrize(
    ("document", "field", "words"),
    [
        ([], "form", "is a JSON object"),
        ({"max_attempts": "six"}, "max_attempts", "whole number"),
        ({"max_attempts": 40}, "max_attempts", "1 to 15"),
        ({"retry_on_new_card": "yes"}, "retry_on_new_card", "true or false"),
        ({"colour": "red"}, "colour", "isn't a retry policy field"),
        ({"rules": {"soft": {"gaps_days": "3,5"}}}, "rules.soft.gaps_days", "list of whole numbers"),
        ({"rules": {"never": {"retries": 2}}}, "rules.never.retries", "can't be retried"),
        ({"rules": {"soft": {"gaps_days": [3, 30, 30]}}}, "rules.soft.gaps_days", "after the 30-day window"),
        ({"rules": {"medium": {}}}, "rules.medium", "isn't a decline class"),
        ({"rules": {"hard": {"terminal_action": "explode"}}}, "rules.hard.terminal_action", "pick cancel"),
    ],
)
def test_a_bad_policy_file_names_the_field_and_why(document, field, words):
    from backstop.lib.forms import FieldErrors

    with pytest.raises(FieldErrors) as caught:
        policy_from_document(RetryPolicy(), document)
    assert field in caught.value
    assert words in caught.value[field]


def test_a_saved_policy_is_a_valid_policy_file():
    from backstop.recovery.policy import policy_from_file_text

    saved = RetryPolicy().with_rule("soft", retries=2, gaps_days=(4, 6))
    assert policy_from_file_text(RetryPolicy(), saved.to_json()) == saved
