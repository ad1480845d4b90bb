"""First-run setup, sign in and sign out."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from backstop.db import write_transaction
from backstop.lib import passwords
from backstop.web.admin.common import render, safe_next, session_token, set_session_cookie
from backstop.web.deps import DB, Form
from backstop.web.state import app_state, client_ip
from backstop.workspaces import admins
from backstop.workspaces.errors import ValidationError
from backstop.workspaces.workspaces import create_workspace, workspace_name_problem


def _signed_in_redirect(request: Request, db: DB, admin: admins.Admin, target: str) -> Redirect:
    token = admins.start_session(db, admin, request.headers.get("user-agent", ""))
    response = Redirect(target)
    set_session_cookie(response, request, token)
    return response


@get("/setup", sync_to_thread=True)
def setup_page(request: Request, db: DB) -> Template | Redirect:
    if admins.any_admin_exists(db):
        return Redirect("/login")
    return render(request, "admin/setup.html", form={}, errors={})


def _setup_problems(data: dict[str, str]) -> dict[str, str]:
    """Every problem with the setup form at once, each under the field it belongs to."""
    problems: dict[str, str] = {}
    email, password = data.get("email", ""), data.get("password", "")
    try:
        email = admins.normalise_email(email)
    except ValidationError as exc:
        problems["email"] = exc.message
    problem = passwords.password_problem(password, email)
    if problem:
        problems["password"] = problem
    if password != data.get("password_confirm", ""):
        problems["password_confirm"] = "The two passwords don't match."  # noqa: S105
    problem = workspace_name_problem(data.get("workspace_name", ""))
    if problem:
        problems["workspace_name"] = problem
    return problems


@post("/setup", sync_to_thread=True)
def setup_submit(request: Request, db: DB, data: Form) -> Template | Redirect:
    if admins.any_admin_exists(db):
        return Redirect("/login")
    errors = _setup_problems(data)
    if not errors:
        try:
            with write_transaction(db):
                # Checked again inside the transaction: two browsers racing make one owner.
                if admins.any_admin_exists(db):
                    return Redirect("/login")
                admin = admins.create_admin(db, data.get("email", ""), data.get("password", ""))
                ws, _ = create_workspace(db, app_state(request).box, data.get("workspace_name", ""), admin)
        except ValidationError as exc:
            # The form has no slug field: a workspace's name and slug problems show by its name.
            field = "workspace_name" if exc.field in ("name", "slug") else exc.field
            errors[field or "form"] = exc.message
    if errors:
        form = {k: v for k, v in data.items() if "password" not in k}
        return render(request, "admin/setup.html", form=form, errors=errors, status_code=400)
    return _signed_in_redirect(request, db, admin, f"/w/{ws.slug}/overview")


@get("/login", sync_to_thread=True)
def login_page(request: Request, db: DB, next: FromQuery[str] = "/") -> Template | Redirect:
    if not admins.any_admin_exists(db):
        return Redirect("/setup")
    if admins.resolve_session(db, session_token(request)):
        return Redirect(safe_next(next))
    return render(request, "admin/login.html", form={"next": safe_next(next)}, error=None)


@post("/login", sync_to_thread=True)
def login_submit(request: Request, db: DB, data: Form) -> Template | Redirect:
    email = data.get("email", "").strip()
    target = safe_next(data.get("next"))
    form = {"email": email, "next": target}
    if not email or not data.get("password"):
        return render(
            request, "admin/login.html", form=form, error="Enter your email and password.", status_code=400
        )
    try:
        admin = admins.authenticate(db, email, data.get("password", ""), client_ip(request))
    except admins.LoginThrottled as exc:
        page = render(
            request,
            "admin/login.html",
            form=form,
            status_code=429,
            error=f"Too many failed sign-ins from here. Wait {_duration(exc.retry_after_seconds)} and try again.",
        )
        page.headers["Retry-After"] = str(exc.retry_after_seconds)
        return page
    if admin is None:
        return render(
            request,
            "admin/login.html",
            form=form,
            status_code=400,
            error="That email and password don't match an admin.",
        )
    return _signed_in_redirect(request, db, admin, target)


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = (seconds + 59) // 60
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@post("/logout", sync_to_thread=True)
def logout(request: Request, db: DB) -> Redirect:
    admins.end_session(db, session_token(request))
    response = Redirect("/login")
    set_session_cookie(response, request, None)
    return response
