"""The retry policy, rule by rule."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from backstop.lib.forms import FieldErrors
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


def test_it_explains_bad_settings_in_words_next_to_their_fields():
    bad = replace(
        RetryPolicy().with_rule("soft", gaps_days=(0,), terminal_action="nuke"),
        max_attempts=20,
        dunning_days=(0, 7, 3, 14),
    )
    errors = bad.validate()
    assert set(errors) == {"soft_terminal_action", "max_attempts", "dunning_days"}
    assert not RetryPolicy().validate()


def test_each_class_follows_its_own_rule():
    policy = RetryPolicy().with_rule("hard", retries=2, gaps_days=(2, 4))
    first = rules.next_retry_at(policy, state("hard"))
    assert first == T0 + timedelta(days=2)
    second = rules.next_retry_at(policy, state("hard", our=1, total=2, last=first, attempts=[T0, first]))
    assert second == T0 + timedelta(days=6)
    assert rules.next_retry_at(policy, state("hard", our=2, total=3, last=second)) is None
    # The last gap repeats when there are fewer gaps than retries.
    assert policy.with_rule("soft", retries=3, gaps_days=(2,)).rule("soft").retry_days() == [2, 4, 6]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"cls": "never", "retries": 1}, "never_retries", "Visa forbids any new attempt"),
        ({"cls": "soft", "retries": 15}, "soft_retries", "Visa allows at most 15 retries"),
        ({"cls": "hard", "retries": 2, "gaps_days": (0,)}, "hard_gaps_days", "Mastercard charges fees"),
        ({"cls": "soft", "retries": 2, "gaps_days": (20, 20)}, "soft_gaps_days", "after the 30-day window"),
        ({"cls": "soft", "retries": 1, "gaps_days": (1, 2)}, "soft_gaps_days", "at most one gap per retry"),
    ],
)
def test_a_rule_past_a_network_ceiling_is_refused_with_the_reason(change, field, words):
    cls = change.pop("cls")
    policy = replace(RetryPolicy(max_attempts=15).with_rule(cls, **change))
    errors = policy.validate()
    assert list(errors) == [field] and words in errors[field]


def test_the_form_parses_into_a_policy_or_raises_field_errors():
    form = rules.policy_form(RetryPolicy())
    policy = rules.parse_retry_policy(RetryPolicy(), {**form, "hard_retries": "2", "hard_gaps_days": "2, 4"})
    assert policy.rule("hard") == rules.ClassRule(2, (2, 4), "cancel")
    with pytest.raises(FieldErrors) as words:
        rules.parse_retry_policy(RetryPolicy(), {**form, "window_days": "forty"})
    assert words.value.errors == {"window_days": "Retry window: enter a whole number."}
    with pytest.raises(FieldErrors) as ceiling:
        rules.parse_retry_policy(RetryPolicy(), {**form, "window_days": "40"})
    assert ceiling.value["window_days"].startswith("Retry window: 1 to 30 days. Visa and Mastercard")


def test_it_round_trips_through_json_and_reads_a_policy_saved_before_rules_per_class():
    policy = RetryPolicy().with_rule("soft", gaps_days=(2, 4), retries=2, terminal_action="mark_unpaid")
    assert RetryPolicy.from_json(policy.to_json()) == policy
    assert RetryPolicy.from_json('{"max_attempts": 5}').rule("soft").retries == 3


def test_the_readable_table_states_the_days_and_what_stripe_would_do():
    rows = {r["class"]: r for r in rules.policy_table(RetryPolicy())}
    assert rows["soft"]["retries"] == "3 retries, on days 3, 8, 15 after the first failure"
    assert rows["never"]["retries"] == "No retries: wait for a new card"
    assert "8 times within 2 weeks" in rows["soft"]["stripe"]
