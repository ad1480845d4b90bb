"""Injected faults and the request log.

    fake.faults.rate_limit(count=2, path="/v1/customers", retry_after=1)   # 429 + Retry-After
    fake.faults.server_error(count=1)                                      # 500 api_error
    fake.faults.slow(0.5, count=3, path="/v1/invoices")                    # answer late
    fake.faults.disconnect(count=1)                                        # drop the connection
    fake.faults.latency = 0.1                                              # every request, until reset

A fault with `path` matches requests whose path starts with it (or a compiled regex); `method`
narrows it further. Faults are used up in the order they were added.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    kind: str  # "rate_limit", "server_error", "slow", "disconnect"
    remaining: int
    path: str | re.Pattern[str] | None = None
    method: str | None = None
    retry_after: float | None = None
    delay: float = 0.0
    should_retry: bool | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        if self.path is None:
            return True
        if isinstance(self.path, re.Pattern):
            return bool(self.path.search(path))
        return path.startswith(self.path)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Fault] = []
        self.latency = 0.0

    def add(self, kind: str, count: int = 1, **options: Any) -> Fault:
        fault = Fault(kind, count, **options)
        with self._lock:
            self._queue.append(fault)
        return fault

    def rate_limit(
        self,
        count: int = 1,
        *,
        path: str | re.Pattern[str] | None = None,
        method: str | None = None,
        retry_after: float | None = 1,
        should_retry: bool | None = None,
    ) -> Fault:
        """429s. The SDK retries a 429 only when `Stripe-Should-Retry: true` comes with it."""
        return self.add(
            "rate_limit", count, path=path, method=method, retry_after=retry_after, should_retry=should_retry
        )

    def server_error(
        self,
        count: int = 1,
        *,
        path: str | re.Pattern[str] | None = None,
        method: str | None = None,
        should_retry: bool | None = None,
    ) -> Fault:
        return self.add("server_error", count, path=path, method=method, should_retry=should_retry)

    def slow(
        self,
        seconds: float,
        count: int = 1,
        *,
        path: str | re.Pattern[str] | None = None,
        method: str | None = None,
    ) -> Fault:
        return self.add("slow", count, path=path, method=method, delay=seconds)

    def disconnect(
        self, count: int = 1, *, path: str | re.Pattern[str] | None = None, method: str | None = None
    ) -> Fault:
        return self.add("disconnect", count, path=path, method=method)

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._queue:
                if fault.remaining > 0 and fault.matches(method, path):
                    fault.remaining -= 1
                    return fault
            self._queue = [f for f in self._queue if f.remaining > 0]
        return None

    def pending(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._queue)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self.latency = 0.0


@dataclass
class LoggedRequest:
    method: str
    path: str
    params: dict[str, Any]
    account: str | None
    idempotency_key: str | None
    api_key: str | None
    stripe_version: str | None
    status: int | None = None
    fault: str | None = None
    replayed: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)  # when it arrived (time.monotonic)


class RequestLog:
    """Every request the fake received, in order (faulted ones included, marked with `fault`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[LoggedRequest] = []

    def append(self, item: LoggedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def __iter__(self):
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __getitem__(self, index: int) -> LoggedRequest:
        with self._lock:
            return self._items[index]

    def filter(
        self,
        method: str | None = None,
        path: str | re.Pattern[str] | None = None,
        *,
        account: str | None = None,
    ) -> list[LoggedRequest]:
        """Requests by method and path (an exact path, or a regex matched with `search`)."""
        out = []
        for item in self:
            if method and item.method != method.upper():
                continue
            if isinstance(path, re.Pattern):
                if not path.search(item.path):
                    continue
            elif path is not None and item.path != path:
                continue
            if account is not None and item.account != account:
                continue
            out.append(item)
        return out

    def busiest_second(self, api_key: str | None = None) -> int:
        """The most requests that arrived within any one second (with ``api_key``: its only),
        as Stripe's rate limiter counts them."""
        times = sorted(r.at for r in self if api_key is None or r.api_key == api_key)
        most, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= 1.0:
                start += 1
            most = max(most, end - start + 1)
        return most

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
