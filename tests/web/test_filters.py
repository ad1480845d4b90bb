"""Times as a founder reads them: relative within a day (rounded to the nearest unit), the date
beyond that, and day counts rounded to the nearest day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from backstop.web.filters import in_days, reltime, when

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@time_machine.travel(NOW, tick=False)
def test_within_a_day_it_is_relative_and_rounds_to_the_nearest_unit():
    assert reltime(NOW - timedelta(seconds=10)) == "just now"
    assert reltime(NOW - timedelta(minutes=4, seconds=40)) == "5 minutes ago"
    assert reltime(NOW + timedelta(hours=2, minutes=40)) == "in 3 hours"
    assert reltime(NOW - timedelta(minutes=59, seconds=50)) == "1 hour ago"
    assert reltime((NOW - timedelta(hours=1)).isoformat()) == "1 hour ago"


@time_machine.travel(NOW, tick=False)
def test_a_day_or_more_away_is_a_date():
    assert reltime(NOW + timedelta(days=2, hours=14)) == "8 Dec"
    assert reltime(NOW + timedelta(hours=23, minutes=45)) == "6 Dec"
    assert reltime(NOW - timedelta(days=40)) == "26 Oct"
    assert reltime(NOW - timedelta(days=365)) == "5 Dec 2025"
    assert when(NOW + timedelta(days=3)) == "on 8 Dec" and when(NOW + timedelta(hours=3)) == "in 3 hours"
    assert reltime(None) == "never"


@time_machine.travel(NOW, tick=False)
def test_day_counts_round_to_the_nearest_day():
    assert in_days(NOW + timedelta(days=2, hours=14)) == "in 3 days"
    assert in_days(NOW + timedelta(days=2, hours=11)) == "in 2 days"
    assert in_days(NOW - timedelta(days=6, hours=13)) == "7 days ago"
    assert in_days(NOW + timedelta(hours=20)) == "tomorrow"
