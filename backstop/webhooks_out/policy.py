"""When to try a failed delivery again, when to give up, when to disable an endpoint.

Pure rules, tested without I/O. The schedule doubles from 30 seconds to a ceiling of 6 hours with
random jitter (±20 %), and keeps trying until at least 72 hours have passed since the first
attempt; an endpoint whose every attempt failed for 5 days is disabled.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

FIRST_RETRY = timedelta(seconds=30)
MAX_INTERVAL = timedelta(hours=6)
RETRY_FOR = timedelta(hours=72)
DISABLE_AFTER = timedelta(days=5)
JITTER = 0.2


def retry_delay(attempts: int, rand: random.Random | None = None) -> timedelta:
    """Wait after the ``attempts``-th failed attempt (1-based)."""
    base = min(
        MAX_INTERVAL.total_seconds(), FIRST_RETRY.total_seconds() * 2.0 ** min(max(attempts - 1, 0), 30)
    )
    spread = (rand or random).uniform(-JITTER, JITTER)
    return timedelta(seconds=base * (1 + spread))


def next_attempt_at(
    first_attempt_at: datetime, now: datetime, attempts: int, rand: random.Random | None = None
) -> datetime | None:
    """When to try again, or None to give up: after 72 hours of trying (the last try may start a
    little past the mark, never before it)."""
    if now - first_attempt_at >= RETRY_FOR:
        return None
    return now + retry_delay(attempts, rand)


def should_disable(failing_since: datetime | None, now: datetime) -> bool:
    return failing_since is not None and now - failing_since >= DISABLE_AFTER
