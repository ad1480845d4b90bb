"""The demo's own pages: “Try it with sample data” on the first-run page, and “Simulate a failed
renewal”, inside the demo and in Stripe test mode."""

from __future__ import annotations

import atexit
import hmac
import logging
import socket
import subprocess
import sys
import threading
import time

from litestar import Request, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from backstop.web.admin.common import render
from backstop.web.admin.recovery_pages import recovery_list
from backstop.web.deps import DB, CurrentSession, CurrentWorkspace, Form
from backstop.web.state import app_state
from backstop.workspaces import admins
from backstop.workspaces import workspaces as ws_domain
from backstop.workspaces.errors import ValidationError

log = logging.getLogger("backstop.demo")

_started: list[subprocess.Popen] = []
_lock = threading.Lock()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _command(port: int, data_dir: str) -> list[str]:
    args = ["demo", "--port", str(port), "--data-dir", data_dir]
    if getattr(sys, "frozen", False):  # the packaged app is the backstop command itself
        return [sys.executable, *args]
    return [sys.executable, "-c", "from backstop.cli import main; main()", *args]


def _start_demo(data_dir: str, timeout: float = 60.0) -> str:
    """Start ``backstop demo`` beside this server and return the sign-in URL it prints."""
    port = _free_port()
    process = subprocess.Popen(
        _command(port, data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if not _started:
        atexit.register(stop_demos)
    _started.append(process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline() if process.stdout else ""
        if not line and process.poll() is not None:
            break
        if line.startswith("Open: "):
            threading.Thread(target=_drain, args=(process,), daemon=True).start()
            return line.removeprefix("Open: ").strip()
    process.kill()
    raise ValidationError("The demo didn't start. Run `backstop demo` in a terminal to see why.")


def _drain(process: subprocess.Popen) -> None:
    for _ in process.stdout or ():
        pass


def stop_demos() -> None:
    """Stop any demo this server started (on shutdown)."""
    for process in _started:
        if process.poll() is None:
            process.terminate()


@post("/setup/demo", sync_to_thread=True)
def try_demo(request: Request, db: DB) -> Template | Redirect:
    """From the first-run page: start a demo next to this install and open it. Only for someone
    at this machine: on a server anyone can reach, the page says how to run it instead."""
    if admins.any_admin_exists(db):
        return Redirect("/login")
    client = request.client.host if request.client else ""
    if client not in ("127.0.0.1", "::1", "localhost"):
        return render(
            request,
            "admin/setup.html",
            form={},
            errors={
                "form": "The demo starts only from this computer. On the machine running Backstop, run: backstop demo"
            },
            status_code=403,
        )
    data_dir = str(app_state(request).settings.data_dir.expanduser().resolve().parent / "demo-data")
    with _lock:
        try:
            url = _start_demo(data_dir)
        except ValidationError as exc:
            return render(request, "admin/setup.html", form={}, errors={"form": exc.message}, status_code=503)
    # A page of this site that moves on to the demo's own address: the CSP's form-action covers
    # redirects, so the form's answer can't redirect the browser to another origin itself.
    return render(request, "admin/demo_ready.html", url=url)


@post("/w/{slug:str}/recovery/simulate-failure", sync_to_thread=True)
def simulate_failure(
    request: Request,
    slug: FromPath[str],
    db: DB,
    session: CurrentSession,
    workspace: CurrentWorkspace,
    data: Form,
) -> Redirect | Template:
    """A renewal fails end to end: in the demo's stand-in, or in the workspace's Stripe test
    account. Refused in live mode, before any Stripe call."""
    from backstop import demo
    from backstop.lib.crypto import SecretBox
    from backstop.recovery import rehearsal

    settings = app_state(request).settings
    base = f"/w/{workspace.slug}/recovery"
    account = demo.account()
    if settings.demo and account is not None:
        from backstop.demo.simulate import failed_renewal
        from jobs.stripe import ask_for_processing

        try:
            name = failed_renewal(db, workspace.id, account)
        except ValidationError as exc:
            log.info("simulate: %s", exc.message)
            return Redirect(f"{base}?simulated=none")
        ask_for_processing()
        log.info("simulated a failed renewal for %s", name)
        return Redirect(f"{base}?simulated=1")
    ws_domain.require_owner(workspace)
    try:
        done = rehearsal.fail_a_renewal(
            db, SecretBox(settings.secret_key), settings, workspace.id, nonce=str(data.get("nonce") or "")
        )
    except ValidationError as exc:
        code = 403 if isinstance(exc, rehearsal.LiveModeRefused) else 409
        return recovery_list(request, db, session, workspace, simulate_error=exc.message, status_code=code)
    log.info("simulated a failed renewal in Stripe test mode: %s", done.subscription_id)
    return Redirect(f"{base}?simulated=test&customer={done.customer_id}")


@post("/demo-stripe/v1/setup_intents/{intent_id:str}/confirm", sync_to_thread=True, status_code=200)
def demo_confirm_card(request: Request, intent_id: FromPath[str], data: Form) -> Response:
    """The demo card form's “confirm this SetupIntent with a test card”, answered by the demo's
    Stripe stand-in the way Stripe answers Stripe.js: authorised by the publishable key and the
    intent's client secret. Only in ``backstop demo``."""
    from backstop import demo
    from backstop.demo.stand_in import DEMO_PUBLISHABLE_KEY

    account = demo.account()
    if not app_state(request).settings.demo or account is None:
        raise NotFoundException()
    supplied = (request.headers.get("authorization") or "")[:200]
    if not hmac.compare_digest(supplied, f"Bearer {DEMO_PUBLISHABLE_KEY}"):
        error = {
            "type": "invalid_request_error",
            "message": "The demo card form needs the demo's publishable key.",
        }
        return Response({"error": error}, status_code=401, media_type="application/json")
    status, body = account.confirm_setup_intent(
        intent_id, str(data.get("client_secret") or ""), str(data.get("payment_method") or "")
    )
    return Response(
        body, status_code=status, media_type="application/json", headers={"Cache-Control": "no-store"}
    )


handlers = [try_demo, simulate_failure, demo_confirm_card]
