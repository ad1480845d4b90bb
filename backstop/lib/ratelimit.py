"""A fixed-window counter per key, in memory: one process serves everything."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from backstop import clock


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until the window starts over


class FixedWindowLimiter:
    def __init__(self, limit: int, window_seconds: int = 60) -> None:
        self.limit = limit
        self.window = window_seconds
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> Verdict:
        now = clock.now_ts()
        window_id = int(now // self.window)
        reset_after = max(1, math.ceil((window_id + 1) * self.window - now))
        with self._lock:
            current_window, count = self._counts.get(key, (window_id, 0))
            if current_window != window_id:
                count = 0
            if count >= self.limit:
                self._counts[key] = (window_id, count)
                return Verdict(False, self.limit, 0, reset_after)
            count += 1
            self._counts[key] = (window_id, count)
            if len(self._counts) > 10_000:
                self._counts = {k: v for k, v in self._counts.items() if v[0] == window_id}
            return Verdict(True, self.limit, self.limit - count, reset_after)
