"""The hosted "Restart <plan>" page a win-back email links to: `/win-back/{token}`.

GET only shows the offer (mail scanners open links); the page's button POSTs (with the CSRF
token) and creates the new subscription on the old price with the card on file.
"""

from __future__ import annotations

from litestar import Request, route
from litestar.params import FromPath
from litestar.response import Template

from backstop.email.branding import get_branding
from backstop.recovery import winback
from backstop.stripe_sync import connection
from backstop.web import headers
from backstop.web.deps import DB
from backstop.web.state import app_state

STATUS_CODES = {"invalid": 404, "expired": 410, "unreachable": 503, "declined": 402, "failed": 400}


@route(
    "/win-back/{token:str}",
    http_method=["GET", "POST"],
    sync_to_thread=True,
    include_in_schema=False,
    status_code=200,
)
def winback_page(request: Request, token: FromPath[str], db: DB) -> Template:
    state_ = app_state(request)
    state, workspace_id, row = winback.read_restart_token(db, state_.settings.secret_key, token)
    message = None
    if state == "ok":
        state = "restarted" if row["status"] == "restarted" else "offer"
        if state == "offer" and winback.card_on_file(db, row) is None:
            state = "no_card"
        if state == "offer" and request.method == "POST":
            try:
                winback.restart(
                    db,
                    row,
                    lambda ws: connection.gateway(
                        db, state_.box, state_.settings, ws, max_attempts=2, timeout=10.0
                    ),
                )
                state = "restarted"
            except winback.RestartFailed as exc:
                state, message = exc.state, exc.message
            except Exception:  # a missing connection: the customer can only try later
                state = "unreachable"
            row = winback.read_restart_token(db, state_.settings.secret_key, token)[2]
    return Template(
        "public/winback.html",
        context={
            "state": state,
            "row": row,
            "card": winback.card_on_file(db, row) if row else None,
            "branding": get_branding(db, workspace_id) if workspace_id else None,
            "token": token,
            "message": message,
        },
        status_code=STATUS_CODES.get(state, 200),
        headers=headers.customer_page(app_state(request).settings),
    )


handlers = [winback_page]
