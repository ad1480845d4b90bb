"""The retry policy, rule by rule."""

from datetime import UTC, datetime, timedelta

import pytest

from backstop.recovery import policy as rules
from backstop.recovery.policy import RetryPolicy, RetryState

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def state(decline_class, our=0, total=1, last=T0, attempts=None):
    return RetryState(decline_class, our, total, T0, last, attempts or [T0])


@pytest.mark.parametrize(
    ("code", "advice", "expected"),
    [
        ("insufficient_funds", None, "soft"),
        ("do_not_honor", None, "soft"),
        ("something_new", None, "soft"),
        ("expired_card", None, "hard"),
        ("incorrect_cvc", None, "hard"),
        ("authentication_required", None, "hard"),
        ("stolen_card", None, "never"),
        ("lost_card", None, "never"),
        ("revocation_of_all_authorizations", None, "never"),
        ("insufficient_funds", "do_not_try_again", "never"),
        ("lost_card", "try_again_later", "never"),
        ("generic_decline", "confirm_card_data", "hard"),
    ],
)
def test_it_classifies_decline_codes_with_advice_codes_first(code, advice, expected):
    # An advice code outranks the decline code, except that "never" codes stay never.
    assert rules.classify(code, advice) == expected


def test_it_retries_soft_declines_on_days_3_8_and_15():
    policy = RetryPolicy()
    first = rules.next_retry_at(policy, state("soft"))
    assert first == T0 + timedelta(days=3)
    second = rules.next_retry_at(policy, state("soft", our=1, total=2, last=first, attempts=[T0, first]))
    assert second == T0 + timedelta(days=8)
    third = rules.next_retry_at(
        policy, state("soft", our=2, total=3, last=second, attempts=[T0, first, second])
    )
    assert third == T0 + timedelta(days=15)
    assert rules.next_retry_at(policy, state("soft", our=3, total=4, last=third)) is None


def test_it_gives_hard_declines_one_polite_retry_and_never_codes_none():
    policy = RetryPolicy()
    assert rules.next_retry_at(policy, state("hard")) == T0 + timedelta(days=3)
    assert rules.next_retry_at(policy, state("hard", our=1, total=2)) is None
    assert rules.next_retry_at(policy, state("never")) is None


def test_it_counts_stripes_own_attempts_toward_the_cap():
    policy = RetryPolicy()
    assert rules.next_retry_at(policy, state("soft", total=6)) is None
    assert rules.next_retry_at(policy, state("soft", total=5)) is not None


def test_it_only_emails_when_stripe_retries():
    policy = RetryPolicy(let_stripe_retry=True)
    assert rules.next_retry_at(policy, state("soft")) is None
    assert rules.retry_on_new_card(policy, state("soft"), T0) is False


def test_a_new_card_earns_a_retry_even_after_a_never_code_but_not_past_the_cap():
    policy = RetryPolicy()
    assert rules.retry_on_new_card(policy, state("never"), T0 + timedelta(days=2))
    assert not rules.retry_on_new_card(policy, state("never", total=6), T0 + timedelta(days=2))
    assert not rules.retry_on_new_card(policy, state("soft"), T0 + timedelta(days=31))


def test_it_sends_dunning_on_days_0_3_7_14_and_gives_up_a_week_after_the_last_step():
    policy = RetryPolicy()
    assert [t - T0 for t in rules.dunning_times(policy, T0)] == [timedelta(days=d) for d in (0, 3, 7, 14)]
    assert rules.terminal_at(policy, T0, T0 + timedelta(days=15)) == T0 + timedelta(days=22)
    assert rules.terminal_at(policy, T0, None) == T0 + timedelta(days=21)


def test_it_explains_bad_settings_in_words():
    bad = RetryPolicy(
        soft_gaps_days=(0,), max_attempts=20, dunning_days=(0, 7, 3, 14), terminal_action="nuke"
    )
    problems = bad.validate()
    assert set(problems) == {"soft_gaps_days", "max_attempts", "dunning_days", "terminal_action"}
    assert "gaps" in problems["soft_gaps_days"] and "cap" in problems["max_attempts"]
    assert "Dunning" in problems["dunning_days"] and "end" in problems["terminal_action"]
    assert not RetryPolicy().validate()


def test_it_round_trips_through_json():
    policy = RetryPolicy(soft_gaps_days=(2, 4), terminal_action="mark_unpaid")
    assert RetryPolicy.from_json(policy.to_json()) == policy


def test_the_readable_table_states_the_days():
    rows = {r["class"]: r["retries"] for r in rules.policy_table(RetryPolicy())}
    assert rows["soft"] == "Retry on days 3, 8, 15 after the first failure"
    assert rows["never"].startswith("Never retry")
