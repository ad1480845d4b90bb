"""The fake's notion of now, and its id generator.

Every timestamp the fake writes comes from `Clock.now()`, so a test can freeze or move Stripe's
time without touching the process clock. Webhook signatures deliberately use real time, as Stripe's
do even for objects on a test clock.
"""

from __future__ import annotations

import calendar
import random
import string
import threading
import time

DAY = 86_400
_ALPHABET = string.ascii_letters + string.digits


class Clock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frozen: int | None = None
        self._offset = 0

    def now(self) -> int:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return int(time.time()) + self._offset

    def freeze(self, at: int | None = None) -> int:
        """Stop the clock (at `at`, or at the current fake time)."""
        current = self.now() if at is None else int(at)
        with self._lock:
            self._frozen = current
        return current

    def unfreeze(self) -> None:
        with self._lock:
            if self._frozen is not None:
                self._offset = self._frozen - int(time.time())
            self._frozen = None

    def set(self, at: int) -> None:
        with self._lock:
            if self._frozen is not None:
                self._frozen = int(at)
            else:
                self._offset = int(at) - int(time.time())

    def advance(self, seconds: float = 0, *, days: float = 0) -> int:
        delta = int(seconds + days * DAY)
        with self._lock:
            if self._frozen is not None:
                self._frozen += delta
            else:
                self._offset += delta
        return self.now()


class Ids:
    """Stripe-looking ids (`cus_…`, `sub_…`); a seed makes a run reproducible."""

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def token(self, length: int = 24) -> str:
        with self._lock:
            return "".join(self._random.choice(_ALPHABET) for _ in range(length))

    def new(self, prefix: str, length: int = 24) -> str:
        return f"{prefix}_{self.token(length)}"


def add_interval(ts: int, interval: str, count: int = 1) -> int:
    """Move a timestamp by a billing interval, keeping the day of month where the month allows."""
    if interval == "day":
        return ts + count * DAY
    if interval == "week":
        return ts + count * 7 * DAY
    months = count * (12 if interval == "year" else 1)
    t = time.gmtime(ts)
    month_index = t.tm_mon - 1 + months
    year = t.tm_year + month_index // 12
    month = month_index % 12 + 1
    day = min(t.tm_mday, _days_in_month(year, month))
    return calendar.timegm((year, month, day, t.tm_hour, t.tm_min, t.tm_sec, 0, 0, 0))


def _days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]
