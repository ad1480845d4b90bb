"""``/desktop-login/<token>``: the desktop window's way in, trading a one-time token for a session."""

from __future__ import annotations

from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Redirect, Template

from backstop.web.admin.common import set_session_cookie
from backstop.web.deps import DB
from backstop.workspaces import admins
from backstop.workspaces.login_tokens import LoginTokenRefused, Refusal, redeem_login_token

_REFUSALS = {
    Refusal.USED: "This sign-in link has already been used.",
    Refusal.EXPIRED: "This sign-in link has expired.",
    Refusal.UNKNOWN: "This sign-in link is not valid.",
}
_WHAT_TO_DO = (
    "Sign-in links from the desktop app work once, within a minute. Close the Backstop window and "
    "open the app again, or sign in with your email and password."
)


@get("/desktop-login/{token:str}", sync_to_thread=True)
def desktop_login(request: Request, db: DB, token: FromPath[str]) -> Template | Redirect:
    try:
        admin = redeem_login_token(db, token)
    except LoginTokenRefused as exc:
        return Template(
            "error.html",
            context={"status": 410, "title": _REFUSALS[exc.reason], "text": _WHAT_TO_DO},
            status_code=410,
        )
    session_token = admins.start_session(db, admin, request.headers.get("user-agent", ""))
    # Redirect so the token leaves the address bar and the window's history at once.
    response = Redirect("/")
    set_session_cookie(response, request, session_token)
    response.headers["Cache-Control"] = "no-store"
    return response
