"""The shared two-proportion test: the numbers cancel flows and the dunning holdout both show."""

from __future__ import annotations

from dataclasses import dataclass

from backstop.lib import stats


@dataclass(frozen=True)
class Arm:
    key: str
    trials: int
    successes: int


def test_it_says_how_many_more_each_arm_needs_until_decided():
    c = stats.compare(Arm("emails", 200, 120), Arm("holdout", 50, 20))
    assert round(c.z, 3) == 2.548 and round(c.p_value, 4) == 0.0108
    assert c.needed_per_arm == 95 and c.more_needed == {"emails": 0, "holdout": 45}
    assert not c.decided and not c.significant  # p < 0.05, but the holdout isn't there yet
    done = stats.compare(Arm("emails", 200, 120), Arm("holdout", 100, 40))
    assert done.decided and done.significant and round(done.p_value, 5) == 0.00106


def test_without_data_or_difference_there_is_nothing_to_plan():
    empty = stats.compare(Arm("a", 0, 0), Arm("b", 10, 5))
    assert (empty.z, empty.p_value, empty.needed_per_arm) == (None, None, None)
    assert empty.more_needed == {"a": 0, "b": 0} and not empty.decided
    same = stats.compare(Arm("a", 10, 5), Arm("b", 4, 2))
    assert same.needed_per_arm is None and same.p_value == 1.0 and not same.significant
