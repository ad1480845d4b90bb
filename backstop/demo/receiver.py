"""The demo's webhook receiver: it stands where Demo Co's endpoint would be, inside the process.

``backstop demo`` installs it as the outbound HTTP transport (``backstop.connectors.http``), so
every webhook delivery is signed, recorded and answered exactly as Backstop would handle a real
one, but no host is resolved and no connection is opened. It keeps what it received, and its
answers follow a script for the replayed year: a few 500s that a retry gets through, and one
outage long enough for deliveries to fail for good. Live, it answers 200.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from backstop.connectors.http import Answer, Target

DEMO_ENDPOINT_URL = "https://hooks.demo.invalid/backstop"


@dataclass
class Received:
    url: str
    body: bytes
    headers: dict[str, str]
    status: int


@dataclass
class DemoReceiver:
    # [start, end) POSIX seconds during which the receiver answers 503 (the replayed outage).
    outages: list[tuple[float, float]] = field(default_factory=list)
    error_rate: float = 0.0  # share of other requests answered 500 (set while replaying)
    rand: random.Random = field(default_factory=lambda: random.Random(11))  # noqa: S311 - sample data
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, target: Target, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
        from backstop import clock

        now = clock.now_ts()
        if any(start <= now < end for start, end in self.outages):
            status, text = 503, b"Service Unavailable: hooks.demo.invalid is down for maintenance."
        elif self.rand.random() < self.error_rate:
            status, text = 500, b'{"error":"internal error while saving the event"}'
        else:
            status, text = 200, b'{"received":true}'
        with self.lock:
            self.received.append(Received(target.url, body, dict(headers), status))
        return Answer(
            status=status,
            excerpt=text,
            headers={"content-type": "application/json"},
            elapsed_ms=self.rand.randint(35, 280),
            address="",
        )
