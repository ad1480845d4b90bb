"""The HTTP side: a stdlib threading server on 127.0.0.1 that the real `stripe` SDK can talk to.

Per request: log it, apply injected faults, authenticate the key, resolve the account (the key's own,
or a connected account named by `Stripe-Account`), check restricted-key permissions, replay or
reject by `Idempotency-Key`, then run the handler under the state lock.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import errors, permissions
from . import resources as _resources  # noqa: F401 - registers the routes
from .encoding import decode_pairs
from .faults import Faults, LoggedRequest, RequestLog
from .router import Ctx, match
from .scenarios import Helpers
from .shapes import API_VERSION
from .state import CURRENT_REQUEST, PLATFORM_ACCOUNT, Key, State
from .webhooks import Webhooks

Response = tuple[int, Any, dict[str, str]]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeStripe/1.0"
    # Headers and body go out in separate writes; without this, Nagle plus delayed ACKs add ~40 ms
    # to every keep-alive request.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self.server.fake.handle(self, "GET")

    def do_POST(self) -> None:
        self.server.fake.handle(self, "POST")

    def do_DELETE(self) -> None:
        self.server.fake.handle(self, "DELETE")

    def do_OPTIONS(self) -> None:
        # Browsers (Stripe.js-style calls with a publishable key) preflight cross-origin requests.
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
        self.send_header(
            "Access-Control-Allow-Headers", "Authorization, Content-Type, Stripe-Version, Stripe-Account"
        )
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the request log is the record
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeStripe) -> None:
        self.fake = fake
        super().__init__(address, _Handler)


class FakeStripe(Helpers):
    """The server plus its state. `start()` binds 127.0.0.1 (port 0 picks a free one)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, seed: int | None = None) -> None:
        self.host, self.port = host, port
        self._seed = seed
        self.state = State(seed)
        self.faults = Faults()
        self.requests = RequestLog()
        self.webhooks = Webhooks(self)
        self.state.event_listeners.append(self.webhooks.on_event)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeStripe:
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-stripe", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.webhooks.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeStripe:
        return self.start() if self._server is None else self

    def __exit__(self, *_: Any) -> None:
        self.stop()

    def reset(self, seed: int | None = None) -> None:
        """Forget everything (objects, keys added, events, faults, the request log); keep serving."""
        self.webhooks.reset()
        with self.state.lock:
            fresh = State(seed if seed is not None else self._seed)
            fresh.event_listeners.append(self.webhooks.on_event)
            self.state = fresh
        self.faults.clear()
        self.requests.clear()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- request handling ----------------------------------------------------------------------

    def handle(self, h: _Handler, method: str) -> None:
        parts = urlsplit(h.path)
        path = parts.path.rstrip("/") or "/"
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if method == "POST" and raw:
            pairs += parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        params = decode_pairs(pairs)
        record = LoggedRequest(
            method,
            path,
            params,
            h.headers.get("Stripe-Account"),
            h.headers.get("Idempotency-Key"),
            _bearer(h.headers.get("Authorization")),
            h.headers.get("Stripe-Version"),
            headers=dict(h.headers.items()),
        )
        self.requests.append(record)
        if self.faults.latency:
            time.sleep(self.faults.latency)
        fault = self.faults.take(method, path)
        response: Response | None = None
        if fault is not None:
            record.fault = fault.kind
            if fault.kind == "slow":
                time.sleep(fault.delay)
            elif fault.kind == "disconnect":
                h.close_connection = True
                with contextlib.suppress(OSError):
                    h.connection.shutdown(socket.SHUT_RDWR)
                return
            elif fault.kind in ("rate_limit", "server_error"):
                err = (
                    errors.rate_limited(fault.retry_after)
                    if fault.kind == "rate_limit"
                    else errors.api_error()
                )
                if fault.should_retry is not None:
                    err.headers["Stripe-Should-Retry"] = str(fault.should_retry).lower()
                response = (err.status, err.body, err.headers)
        if response is None:
            response = self.dispatch(method, path, params, record)
        record.status = response[0]
        self._write(h, record, *response)

    def dispatch(self, method: str, path: str, params: dict[str, Any], record: LoggedRequest) -> Response:
        state = self.state
        request_id = state.ids.new("req", 14)
        cache_key: tuple[str, bool, str] | None = None
        fingerprint = json.dumps([method, path, params], sort_keys=True)
        try:
            route, path_params = match(method, path)
            key = None if route.handler.__name__ == "authorize" else self._authenticate(record.api_key)
            if key is not None and key.kind == "publishable" and not route.publishable:
                raise errors.StripeError(
                    401,
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "code": "secret_key_required",
                            "message": "This API call cannot be made with a publishable API key. Please use a "
                            "secret API key. You can find a list of your API keys at "
                            "https://dashboard.stripe.com/account/apikeys.",
                        }
                    },
                )
            account = self._account_for(key, record.account)
            if key is not None:
                permissions.check(key, route.resource, route.access, account)
            livemode = bool(key and key.livemode)
            if method == "POST" and record.idempotency_key:
                cache_key = (account, livemode, record.idempotency_key)
                saved = state.idempotency.get(cache_key)
                if saved is not None:
                    if saved["fingerprint"] != fingerprint:
                        raise errors.idempotency(
                            "Keys for idempotent requests can only be used with the same parameters they were "
                            f"first used with. Try using a key other than '{record.idempotency_key}' if you meant "
                            "to execute a different request."
                        )
                    record.replayed = True
                    headers = {
                        **saved["headers"],
                        "Idempotent-Replayed": "true",
                        "Original-Request": saved["id"],
                    }
                    return saved["status"], saved["body"], headers
            ctx = Ctx(
                state=state,
                store=state.store(account, livemode),
                params=params,
                path=path_params,
                method=method,
                url_path=path,
                key=key,
                account=account,
                request_id=request_id,
                base_url=self.url,
            )
            token = CURRENT_REQUEST.set({"id": request_id, "idempotency_key": record.idempotency_key})
            try:
                with state.lock:
                    result = route.handler(ctx)
            finally:
                CURRENT_REQUEST.reset(token)
            status, body, headers = result if isinstance(result, tuple) else (200, result, {})
        except errors.StripeError as exc:
            status, body, headers = exc.status, exc.body, dict(exc.headers)
        except Exception as exc:  # a bug in the fake: say so loudly, answer like Stripe's 500
            traceback.print_exc(file=sys.stderr)
            status, body, headers = 500, errors.api_error(f"fake Stripe crashed: {exc!r}").body, {}
        headers = {"Request-Id": request_id, **headers}
        if cache_key is not None and (status < 400 or status == 402 or status >= 500):
            state.idempotency[cache_key] = {
                "fingerprint": fingerprint,
                "status": status,
                "body": body,
                "headers": headers,
                "id": request_id,
            }
        return status, body, headers

    def _authenticate(self, secret: str | None) -> Key:
        if not secret:
            raise errors.authentication(
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
                "https://stripe.com/docs/api#authentication for details, or we can help at "
                "https://support.stripe.com/."
            )
        key = self.state.keys.get(secret)
        if key is None:
            raise errors.authentication(f"Invalid API Key provided: {errors.mask_key(secret)}")
        if key.revoked:
            err = errors.authentication(f"Expired API Key provided: {errors.mask_key(secret)}")
            err.body["error"]["code"] = "api_key_expired"
            raise err
        return key

    def _account_for(self, key: Key | None, header: str | None) -> str:
        if key is None:
            return PLATFORM_ACCOUNT
        if not header or header == key.account:
            return key.account
        connected = self.state.accounts.get(header)
        if key.account != PLATFORM_ACCOUNT or connected is None or not connected.authorized:
            raise errors.permission(
                f"The provided key '{errors.mask_key(key.secret)}' does not have access to account '{header}' "
                "(or that account does not exist). Application access may have been revoked.",
                code="account_invalid",
            )
        return header

    def _write(
        self, h: _Handler, record: LoggedRequest, status: int, body: Any, headers: dict[str, str]
    ) -> None:
        payload = b"" if status in (204, 302) else json.dumps(body, indent=2).encode("utf-8")
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.send_header("Stripe-Version", record.stripe_version or API_VERSION)
            h.send_header("Access-Control-Allow-Origin", "*")
            if record.idempotency_key:
                h.send_header("Idempotency-Key", record.idempotency_key)
            for name, value in headers.items():
                h.send_header(name, value)
            h.end_headers()
            h.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        import base64

        try:
            return base64.b64decode(value).decode("utf-8").split(":", 1)[0] or None
        except ValueError:
            return None
    return None
