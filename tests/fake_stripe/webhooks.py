"""Webhook delivery with real `Stripe-Signature` headers.

The signature is Stripe's scheme: `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the
endpoint secret>`. Events go to the webhook endpoints registered through the API (the platform's
own events to its endpoints; connected accounts' events to endpoints created with `connect=true`).

Delivery is on demand (`deliver_pending()`), or automatic in the background (`auto = True`), or by
hand to any URL (`send(event, url, secret)`); `signed(event, secret)` gives body and headers for an
in-process test client. Signatures use real time, as Stripe's do, unless a timestamp is given.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from .server import FakeStripe
    from .state import Store

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def signature_header(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    body = payload.encode("utf-8") if isinstance(payload, str) else payload
    t = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode("utf-8"), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def encode_event(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=2).encode("utf-8")


@dataclass
class Delivery:
    event_id: str
    event_type: str
    url: str
    endpoint: str | None
    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Webhooks:
    def __init__(self, fake: FakeStripe) -> None:
        self.fake = fake
        self.deliveries: list[Delivery] = []
        self.timeout = 10.0
        self._done: set[tuple[str, str]] = set()
        self._queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self.auto = False
        # One client for all deliveries: building one per request (TLS context included) costs ~30 ms.
        self._http = httpx.Client(timeout=self.timeout)

    # --- signing -----------------------------------------------------------------------------

    def signed(
        self, event: dict[str, Any], secret: str, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers Stripe would POST for `event` (for an in-process test client)."""
        body = encode_event(event)
        return body, {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature_header(body, secret, timestamp),
            "User-Agent": USER_AGENT,
        }

    def send(
        self,
        event: dict[str, Any],
        url: str,
        secret: str,
        *,
        timestamp: int | None = None,
        endpoint: str | None = None,
    ) -> Delivery:
        body, headers = self.signed(event, secret, timestamp)
        try:
            response = self._http.post(url, content=body, headers=headers, timeout=self.timeout)
            delivery = Delivery(event["id"], event["type"], url, endpoint, response.status_code)
        except httpx.HTTPError as exc:
            delivery = Delivery(
                event["id"], event["type"], url, endpoint, None, f"{type(exc).__name__}: {exc}"
            )
        with self._lock:
            self.deliveries.append(delivery)
            if delivery.ok and endpoint:
                self._done.add((endpoint, event["id"]))
        return delivery

    # --- routing events to endpoints ---------------------------------------------------------

    def _targets(self, store: Store, event: dict[str, Any]) -> list[tuple[str, str, str]]:
        state = self.fake.state
        platform = state.store(livemode=store.livemode)
        targets = []
        for we in platform.all("webhook_endpoint"):
            if we["status"] != "enabled" or state.endpoint_connect.get(we["id"], False) != store.connected:
                continue
            if any(p == "*" or fnmatch.fnmatchcase(event["type"], p) for p in we["enabled_events"]):
                targets.append((we["id"], we["url"], state.endpoint_secrets[we["id"]]))
        return targets

    def pending(self) -> list[tuple[dict[str, Any], str, str, str]]:
        """(event, endpoint id, url, secret) for every event not yet delivered successfully, oldest first."""
        with self.fake.state.lock:
            work = []
            for store in list(self.fake.state.stores.values()):
                for event in reversed(store.events()):
                    for endpoint, url, secret in self._targets(store, event):
                        if (endpoint, event["id"]) not in self._done:
                            work.append((event, endpoint, url, secret))
            work.sort(key=lambda w: w[0]["created"])
            return work

    def deliver_pending(self) -> list[Delivery]:
        """Send every undelivered event to its endpoints now (failed ones are tried again next time)."""
        return [self.send(ev, url, secret, endpoint=endpoint) for ev, endpoint, url, secret in self.pending()]

    # --- background delivery -----------------------------------------------------------------

    def on_event(self, store: Store, event: dict[str, Any]) -> None:
        """Listener the state calls for each new event (under the state lock: only queue here)."""
        if self.auto:
            for endpoint, url, secret in self._targets(store, event):
                self._queue.put((event, endpoint, url, secret))
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="fake-stripe-webhooks", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                event, endpoint, url, secret = item
                self.send(event, url, secret, endpoint=endpoint)
            finally:
                self._queue.task_done()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until queued background deliveries are sent (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def reset(self) -> None:
        self.wait_idle(1.0)
        with self._lock:
            self.deliveries.clear()
            self._done.clear()
        self.auto = False

    def stop(self) -> None:
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=2)
            self._worker = None
        self._http.close()
