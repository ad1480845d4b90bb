"""Stripe-style errors: `{"error": {type, code, decline_code, message, param}}` with its HTTP status."""

from __future__ import annotations

from typing import Any

DOCS = "https://stripe.com/docs/error-codes"


class StripeError(Exception):
    """Raised by handlers; the server turns it into the JSON body and status Stripe would send."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(
            body.get("error", {}).get("message") if isinstance(body.get("error"), dict) else body
        )
        self.status = status
        self.body = body
        self.headers = headers or {}


def _error(status: int, type_: str, message: str, **fields: Any) -> StripeError:
    error: dict[str, Any] = {"type": type_, "message": message}
    for key, value in fields.items():
        if value is not None:
            error[key] = value
    if "code" in error and "doc_url" not in error:
        error["doc_url"] = f"{DOCS}/{error['code']}"
    return StripeError(status, {"error": error})


def invalid_request(message: str, *, param: str | None = None, code: str | None = None) -> StripeError:
    return _error(400, "invalid_request_error", message, param=param, code=code)


def missing_param(param: str) -> StripeError:
    return invalid_request(f"Missing required param: {param}.", param=param, code="parameter_missing")


def unknown_param(param: str) -> StripeError:
    return invalid_request(f"Received unknown parameter: {param}", param=param, code="parameter_unknown")


def no_such(kind: str, object_id: str, param: str = "id") -> StripeError:
    label = kind.replace("_", " ").replace(".", " ")
    return _error(
        404,
        "invalid_request_error",
        f"No such {label}: '{object_id}'",
        param=param,
        code="resource_missing",
    )


def unknown_route(method: str, path: str) -> StripeError:
    return _error(
        404,
        "invalid_request_error",
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help "
        "at https://support.stripe.com/.",
    )


def card_error(
    code: str, decline_code: str | None, message: str, *, param: str | None = None, **extra: Any
) -> StripeError:
    return _error(402, "card_error", message, code=code, decline_code=decline_code, param=param, **extra)


def authentication(message: str) -> StripeError:
    return _error(401, "invalid_request_error", message)


def permission(message: str, code: str | None = None) -> StripeError:
    return _error(403, "invalid_request_error", message, code=code)


def idempotency(message: str, status: int = 400) -> StripeError:
    return _error(status, "idempotency_error", message)


def rate_limited(retry_after: float | None) -> StripeError:
    err = _error(
        429,
        "invalid_request_error",
        "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
        code="rate_limit",
    )
    if retry_after is not None:
        err.headers["Retry-After"] = str(int(retry_after) if float(retry_after).is_integer() else retry_after)
    return err


def api_error(message: str = "An unknown error occurred") -> StripeError:
    return _error(500, "api_error", message)


def oauth_error(error: str, description: str, status: int = 400) -> StripeError:
    # OAuth answers use a flat shape: the SDK recognises it by `error` being a string.
    return StripeError(status, {"error": error, "error_description": description})


def mask_key(key: str) -> str:
    prefix = key[:8] if key[:3] in ("sk_", "rk_", "pk_") else key[:3]
    return prefix + "*" * max(len(key) - len(prefix) - 4, 4) + key[-4:]
