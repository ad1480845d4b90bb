"""The REST API's one error shape: ``{"error": {"type": …, "message": …}}``. Never a trace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Response

ErrorType = Literal[
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found",
    "rate_limit_exceeded",
    "api_error",
]
ERROR_TYPES: tuple[str, ...] = get_args(ErrorType)

_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_exceeded",
}


@dataclass
class ErrorDetail:
    type: ErrorType
    message: str


@dataclass
class ErrorBody:
    """The body of every error answer, as the OpenAPI document describes it."""

    error: ErrorDetail


# Declared on every API operation so clients (and schema-driven test tools) know the error
# answers the authentication middleware and the exception handlers can give.
ERROR_RESPONSES = {
    400: ResponseSpec(
        ErrorBody, generate_examples=False, description="Invalid request (invalid_request_error)"
    ),
    401: ResponseSpec(
        ErrorBody,
        generate_examples=False,
        description="No token, a malformed header, or an unknown or revoked token",
    ),
    404: ResponseSpec(
        ErrorBody, generate_examples=False, description="No such object in this workspace (not_found)"
    ),
    429: ResponseSpec(
        ErrorBody,
        generate_examples=False,
        description="Over the rate limit; wait the seconds Retry-After gives",
    ),
}


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, type_: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_ or type_for_status(status)
        self.headers = headers or {}


def type_for_status(status: int) -> str:
    return _BY_STATUS.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_response(
    status: int, message: str, type_: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        {"error": {"type": type_ or type_for_status(status), "message": message}},
        status_code=status,
        headers=headers or {},
        media_type="application/json",
    )
