"""Error pages and error bodies: HTML for people, the API error shape for programs."""

from __future__ import annotations

import logging

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.response import Redirect, Template

from backstop.web import headers
from backstop.web.admin.common import LoginRequired, login_redirect
from backstop.web.api.errors import ApiError, error_response
from backstop.web.state import app_state
from backstop.workspaces.errors import NotFound, PermissionDenied

log = logging.getLogger("backstop.web")

_HTML_MESSAGES = {
    400: (
        "That request didn't make sense",
        "Something in the form or link was malformed. Go back and try again.",
    ),
    403: ("Not allowed", "You don't have permission to do that here."),
    404: ("Page not found", "There is nothing at this address, or you don't have access to it."),
    405: ("Not allowed", "That page can't be used this way."),
    413: ("Too large", "What you sent is larger than Backstop accepts."),
    429: ("Slow down", "Too many requests in a short time. Wait a minute and try again."),
    500: (
        "Something went wrong",
        "Backstop hit an unexpected error. Nothing you entered was lost; try again.",
    ),
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/stripe/webhooks", "/hooks/"))


def _html(request: Request, status: int, detail: str | None = None) -> Template:
    title, text = _HTML_MESSAGES.get(status, _HTML_MESSAGES[500 if status >= 500 else 400])
    # Error pages come from exception handlers, which the admin router's after_request hook
    # never sees, so they carry the same headers themselves.
    return Template(
        "error.html",
        context={"status": status, "title": title, "text": detail or text},
        status_code=status,
        headers=headers.admin(app_state(request).settings),
    )


def handle_login_required(request: Request, exc: LoginRequired) -> Redirect:
    return login_redirect(request)


def handle_not_found(request: Request, exc: NotFound) -> Response:
    if _is_api(request):
        return error_response(404, "No such object in this workspace.")
    return _html(request, 404)


def handle_permission(request: Request, exc: PermissionDenied) -> Response:
    if _is_api(request):
        return error_response(403, str(exc))
    return _html(request, 403, str(exc))


def handle_overflow(request: Request, exc: OverflowError) -> Response:
    """An id too large for SQLite's 64-bit integers names nothing that can exist: a 404."""
    if _is_api(request):
        return error_response(404, "No such object in this workspace.")
    return _html(request, 404)


def handle_too_deep(request: Request, exc: RecursionError) -> Response:
    """JSON nested thousands deep: the decoder gives up with RecursionError. Nobody sends that by
    accident, and it is the sender's mistake, not ours."""
    message = "The body is nested too deeply; send a flatter JSON document."
    if _is_api(request) or "json" in (request.headers.get("content-type") or ""):
        return error_response(400, message)
    return _html(request, 400, message)


def handle_api_error(request: Request, exc: ApiError) -> Response:
    return error_response(exc.status, exc.message, exc.type, exc.headers)


def handle_http(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if _is_api(request):
        message = exc.detail if status < 500 else "The API hit an unexpected error; try again."
        extra = getattr(exc, "extra", None)
        if status == 400 and extra:
            parts = [f"{e.get('key')}: {e.get('message')}" for e in extra if isinstance(e, dict)]
            if parts:
                message = "Invalid request: " + "; ".join(parts)
        return error_response(status, message, headers=exc.headers or {})
    if isinstance(exc, PermissionDeniedException) and "CSRF" in (exc.detail or ""):
        return _html(
            request,
            403,
            "This form expired or came from another site. Go back, reload the page and submit it again.",
        )
    if isinstance(exc, NotAuthorizedException):
        return login_redirect(request)
    return _html(request, status)


def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if _is_api(request):
        return error_response(500, "The API hit an unexpected error; try again.", "api_error")
    return _html(request, 500)


EXCEPTION_HANDLERS = {
    LoginRequired: handle_login_required,
    NotFound: handle_not_found,
    PermissionDenied: handle_permission,
    ApiError: handle_api_error,
    OverflowError: handle_overflow,
    RecursionError: handle_too_deep,
    HTTPException: handle_http,
    Exception: handle_unexpected,
}
