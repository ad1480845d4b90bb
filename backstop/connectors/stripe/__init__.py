"""Talking to Stripe: the only package that imports the ``stripe`` SDK.

Everything leaves here as plain dicts and our own exceptions, so domains never see SDK types.
Calls are paced to at most the configured number in any second (Stripe's test mode allows about
25 requests a second per account, shared with the founder's own app) and retried on 429 and 5xx
with backoff.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

log = logging.getLogger("backstop.stripe")

DEFAULT_API_BASE = "https://api.stripe.com"
DEFAULT_CONNECT_BASE = "https://connect.stripe.com"


# A Stripe object id: its prefix, an underscore, then letters and digits ("seti_1Q2w…").
_ID_BODY = "[A-Za-z0-9]{1,250}"
_SEGMENT = re.compile(r"[A-Za-z0-9_\-]+")


def stripe_id(value: object, prefix: str) -> str | None:
    """``value`` if it is a Stripe id with this prefix (``"seti"``, ``"pm"``, ``"acct"``), else
    None. Every id that comes from a request is checked with this before it is used."""
    if isinstance(value, str) and re.fullmatch(f"{re.escape(prefix)}_{_ID_BODY}", value):
        return value
    return None


def stripe_path(*segments: str) -> str:
    """An API path from its segments, each quoted on its own: ``stripe_path("v1", "setup_intents",
    seti)``. A value can never add a segment, climb with ``..`` or start a query."""
    return "/" + "/".join(quote(str(seg), safe="") for seg in segments)


class UnsafeStripePath(ValueError):
    """A path whose segments aren't plain names and ids; nothing is sent."""


def _checked_path(path: str) -> str:
    """Every segment of a path sent to Stripe is a plain name or id (or was quoted by
    ``stripe_path``), so no caller can reach another endpoint than the one it spelled."""
    if not path.startswith("/"):
        raise UnsafeStripePath(f"Stripe paths start with a slash: {path!r}")
    for segment in path[1:].split("/"):
        if not _SEGMENT.fullmatch(segment) and not _quoted(segment):
            raise UnsafeStripePath(f"Refusing to call Stripe at {path!r}: {segment!r} isn't a plain segment.")
    return path


def _quoted(segment: str) -> bool:
    """A segment produced by ``stripe_path`` from an odd value: %-escapes and safe characters."""
    return (
        bool(segment)
        and segment not in (".", "..")
        and re.fullmatch(r"[A-Za-z0-9_.~%\-]+", segment) is not None
    )


class StripeFailure(Exception):
    """A Stripe call that did not succeed."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        decline_code: str | None = None,
        param: str | None = None,
        advice_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.decline_code = decline_code
        self.param = param
        self.advice_code = advice_code


class StripeUnavailable(StripeFailure):
    """Stripe was unreachable, rate-limiting or erroring after every retry: try again later."""


class StripeAuthFailed(StripeFailure):
    """The key or the Connect grant no longer works (revoked, deleted, deauthorized)."""


class StripePermissionMissing(StripeFailure):
    """A restricted key lacks a permission."""


class StripeNotFound(StripeFailure):
    pass


class StripeCardDeclined(StripeFailure):
    pass


class StripeInvalidRequest(StripeFailure):
    pass


# How far past a second the pacer looks: a request that reaches Stripe a few milliseconds later
# than the one sent a second after it must not make ``rate + 1`` in one second at Stripe's end.
PACING_GUARD = 0.05


class RequestPacer:
    """At most ``rate`` calls in any window of a second (plus ``PACING_GUARD``), however many
    threads call: it remembers when the last ``rate`` calls went out and blocks until the oldest
    of them is a window old. A token bucket would let twice ``rate`` through in the first second."""

    def __init__(
        self,
        rate: float,
        *,
        window: float = 1.0 + PACING_GUARD,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.limit = max(1, int(rate))
        self.window = window
        # Calls at least half their even spacing apart: a burst of ``rate`` calls at once would
        # bunch their arrivals at Stripe and leave the rest of the second idle.
        self.spacing = window / self.limit / 2
        self.clock = clock
        self.sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take a slot; return how long we waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                while self._sent and now - self._sent[0] >= self.window - 1e-9:  # (float rounding)
                    self._sent.popleft()
                gap = now - self._sent[-1] if self._sent else self.spacing
                if len(self._sent) < self.limit and gap >= self.spacing - 1e-9:
                    self._sent.append(now)
                    return waited
                if len(self._sent) < self.limit:
                    pause = self.spacing - gap
                else:
                    pause = max(self.window - (now - self._sent[0]), self.spacing - gap)
            self.sleep(pause)
            waited += pause


_buckets: dict[str, RequestPacer] = {}
_buckets_lock = threading.Lock()


def bucket_for(key: str, rate: float) -> RequestPacer:
    """One pacer per Stripe account, shared by every task (and thread) of this process talking to it."""
    with _buckets_lock:
        bucket = _buckets.get(key)
        if bucket is None or bucket.rate != rate:
            bucket = _buckets[key] = RequestPacer(rate)
        return bucket


_http_clients: dict[float, Any] = {}
# Set only by ``backstop demo``: every gateway of that process answers from its in-memory stand-in.
_installed_transport: Any = None


def install_transport(client: Any) -> None:
    """Send every Stripe call this process makes through ``client``, an HTTP client for the
    ``stripe`` SDK. The demo installs its in-process stand-in here, so it can't reach Stripe."""
    global _installed_transport
    _installed_transport = client


def _shared_http_client(timeout: float) -> Any:
    """One pooled HTTP client for every gateway: a gateway is made per task, and a client of its
    own would build a TLS context and leave its connections open each time."""
    import stripe

    with _buckets_lock:
        client = _http_clients.get(timeout)
        if client is None:
            # Every call here is synchronous (jobs, the CLI, sync handlers); the SDK's HTTPX
            # client refuses sync calls unless asked to allow them.
            client = _http_clients[timeout] = stripe.HTTPXClient(timeout=timeout, allow_sync_methods=True)
        return client


@dataclass
class StripeConfig:
    api_key: str
    account: str | None = None  # acct_… when calling on behalf of a Connect account
    api_base: str | None = None
    connect_base: str | None = None
    rate: float = 20.0
    max_attempts: int = 5
    timeout: float = 30.0
    bucket_key: str = ""
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


class StripeGateway:
    def __init__(self, config: StripeConfig) -> None:
        import stripe

        self.config = config
        self._stripe = stripe
        addresses = {
            "api": (config.api_base or DEFAULT_API_BASE).rstrip("/"),
            "connect": (config.connect_base or DEFAULT_CONNECT_BASE).rstrip("/"),
        }
        self._client = stripe.StripeClient(
            config.api_key,
            base_addresses=addresses,
            max_network_retries=0,
            http_client=_installed_transport or _shared_http_client(config.timeout),
        )
        self._bucket = bucket_for(config.bucket_key or config.account or config.api_key[-12:], config.rate)
        self.calls = 0
        self._count_lock = threading.Lock()

    # -- requests ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        params: dict | None = None,
        *,
        idempotency_key: str | None = None,
        base: str = "api",
    ) -> dict:
        path = _checked_path(path)
        options: dict[str, Any] = {}
        if self.config.account and base == "api":
            options["stripe_account"] = self.config.account
        if idempotency_key:
            options["idempotency_key"] = idempotency_key
        attempt = 0
        while True:
            attempt += 1
            self._bucket.acquire()
            with self._count_lock:
                self.calls += 1
            try:
                result = self._client.raw_request(method, path, base=base, **options, **(params or {}))
                # raw_request hands back the HTTP response, not an object: read its JSON body.
                return json.loads(result.body)
            except Exception as exc:  # translated below; unknown errors propagate
                failure, retry_after = self._translate(exc)
                if not isinstance(failure, StripeUnavailable) or attempt >= self.config.max_attempts:
                    raise failure from exc
                delay = retry_after if retry_after is not None else min(30.0, 0.5 * 2 ** (attempt - 1))
                delay += random.uniform(0, delay / 4)  # noqa: S311 - jitter, not security
                log.warning(
                    "Stripe %s %s failed (%s); retry %d in %.1fs",
                    method.upper(),
                    path,
                    failure.message,
                    attempt,
                    delay,
                )
                self.config.sleep(delay)

    def get(self, path: str, params: dict | None = None) -> dict:
        return self.request("get", path, params)

    def post(self, path: str, params: dict | None = None, *, idempotency_key: str | None = None) -> dict:
        return self.request("post", path, params, idempotency_key=idempotency_key)

    def list_pages(
        self, path: str, params: dict | None = None, *, starting_after: str | None = None, limit: int = 100
    ) -> Iterator[tuple[list[dict], bool]]:
        """Yield (objects, has_more) page by page, resuming after ``starting_after``."""
        cursor = starting_after
        while True:
            query = {**(params or {}), "limit": limit}
            if cursor:
                query["starting_after"] = cursor
            page = self.get(path, query)
            data = page.get("data") or []
            yield data, bool(page.get("has_more"))
            if not page.get("has_more") or not data:
                return
            cursor = data[-1]["id"]

    # -- errors -----------------------------------------------------------------------------

    def _translate(self, exc: Exception) -> tuple[StripeFailure, float | None]:
        s = self._stripe
        if not isinstance(exc, s.StripeError):
            if isinstance(exc, OSError):
                return StripeUnavailable(f"Stripe could not be reached ({exc})"), None
            raise exc
        err = exc.error
        details = {
            "status": exc.http_status,
            "code": exc.code,
            "decline_code": getattr(err, "decline_code", None) if err else None,
            "param": getattr(err, "param", None) if err else None,
            "advice_code": getattr(err, "advice_code", None) if err else None,
        }
        message = exc.user_message or str(exc) or exc.__class__.__name__
        retry_after = None
        headers = exc.headers or {}
        if headers.get("retry-after") or headers.get("Retry-After"):
            try:
                retry_after = float(headers.get("retry-after") or headers.get("Retry-After"))
            except ValueError:
                retry_after = None
        if isinstance(exc, s.RateLimitError) or exc.http_status == 429:
            return StripeUnavailable(message, **details), retry_after
        if isinstance(exc, s.APIConnectionError) or (exc.http_status or 0) >= 500:
            return StripeUnavailable(message, **details), retry_after
        if isinstance(exc, s.AuthenticationError):
            return StripeAuthFailed(message, **details), None
        if isinstance(exc, s.PermissionError):
            return StripePermissionMissing(message, **details), None
        if isinstance(exc, s.CardError):
            return StripeCardDeclined(message, **details), None
        if exc.http_status == 404 or exc.code == "resource_missing":
            return StripeNotFound(message, **details), None
        if exc.code == "account_invalid" or exc.http_status == 401:
            return StripeAuthFailed(message, **details), None
        return StripeInvalidRequest(message, **details), None


class StripeOAuth:
    """Connect OAuth with the platform's credentials: consent URL, code exchange, deauthorize."""

    def __init__(
        self, client_id: str, secret_key: str, *, api_base: str | None = None, connect_base: str | None = None
    ) -> None:
        import stripe

        self._stripe = stripe
        self.client_id = client_id
        self._client = stripe.StripeClient(
            secret_key,
            client_id=client_id,
            base_addresses={
                "api": (api_base or DEFAULT_API_BASE).rstrip("/"),
                "connect": (connect_base or DEFAULT_CONNECT_BASE).rstrip("/"),
            },
            max_network_retries=2,
        )

    def authorize_url(self, state: str, redirect_uri: str) -> str:
        return self._client.oauth.authorize_url(
            {"scope": "read_write", "state": state, "redirect_uri": redirect_uri, "response_type": "code"}
        )

    def exchange_code(self, code: str) -> dict:
        """Return stripe_user_id, livemode and scope for an authorization code."""
        try:
            token = self._client.oauth.token({"grant_type": "authorization_code", "code": code})
        except self._stripe.oauth_error.OAuthError as exc:
            raise StripeAuthFailed(exc.user_message or str(exc), code=exc.code) from exc
        except self._stripe.StripeError as exc:
            raise StripeUnavailable(exc.user_message or str(exc), status=exc.http_status) from exc
        data = token.to_dict() if hasattr(token, "to_dict") else dict(token)
        return {
            "stripe_user_id": data.get("stripe_user_id"),
            "livemode": bool(data.get("livemode")),
            "scope": data.get("scope"),
        }

    def deauthorize(self, stripe_user_id: str) -> None:
        try:
            self._client.oauth.deauthorize({"client_id": self.client_id, "stripe_user_id": stripe_user_id})
        except self._stripe.oauth_error.OAuthError as exc:
            # Already disconnected on Stripe's side: nothing left to undo.
            log.info("deauthorize for %s: %s", stripe_user_id, exc)
        except self._stripe.StripeError as exc:
            raise StripeUnavailable(exc.user_message or str(exc), status=exc.http_status) from exc
