"""The REST API's one error shape: ``{"error": {"type": …, "message": …}}``. Never a trace."""

from __future__ import annotations

from litestar.response import Response

ERROR_TYPES = (
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found",
    "rate_limit_exceeded",
    "api_error",
)

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
