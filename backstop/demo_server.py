"""Starting ``backstop demo``: build Demo Co's sample data on its own data directory, put the
in-process Stripe stand-in behind the Stripe port, and run the server (see ``backstop.demo``)."""

from __future__ import annotations

import socket
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from backstop.demo import activate, demo_settings, prepare_dir
from backstop.demo.receiver import DemoReceiver
from backstop.demo.stand_in import DemoStripe, DemoTransport
from backstop.settings import Settings


def start(
    data_dir: Path, port: int, real_data_dir: Path | None = None, out=sys.stdout
) -> tuple[Settings, str]:
    """Build the demo and return its settings and the one-time sign-in URL (the server isn't
    started: ``run`` does that)."""
    from backstop import manifest
    from backstop.checks import run_startup_checks
    from backstop.connectors import dns, http
    from backstop.connectors.stripe import install_transport
    from backstop.db import connect, migrate
    from backstop.demo import seed
    from backstop.lib.crypto import SecretBox
    from backstop.workspaces.admins import get_admin
    from backstop.workspaces.login_tokens import issue_login_token

    prepare_dir(data_dir, real_data_dir)
    settings = run_startup_checks(demo_settings(data_dir, port), check_port=True)
    account, receiver = DemoStripe(), DemoReceiver()
    activate(account)
    install_transport(DemoTransport(account))  # before anything could build a Stripe client
    http.install_transport(receiver)  # webhook deliveries are recorded in the process, never sent
    dns.install_resolver(dns.Unreachable())  # a portal or send domain's check asks nobody
    manifest.load()
    migrate(settings.db_path)
    db = connect(settings.db_path)
    db.execute("PRAGMA synchronous=OFF")  # sample data: rebuilt on every start, speed over durability
    try:
        built = seed.build(db, SecretBox(settings.secret_key), settings, account, receiver)
        token = issue_login_token(db, get_admin(db, built.admin_id), lifetime=timedelta(minutes=30))
    finally:
        db.conn.close()
    return settings, f"{settings.public_url}/desktop-login/{token}"


def run(data_dir: Path, port: int, real_data_dir: Path | None = None) -> None:
    from backstop.server import serve

    began = time.monotonic()
    settings, url = start(data_dir, port, real_data_dir)

    def announce() -> None:
        # The link is printed once the server answers, so opening it at once always works.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection((settings.host, settings.port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        print(
            f"Demo Co is ready ({time.monotonic() - began:.1f} s): sample data in {data_dir}, "
            "no Stripe account involved."
        )
        print("Sign in with the link below (it works once, for 30 minutes). Ctrl-C stops the demo.")
        print(f"Open: {url}", flush=True)
        send_outbox(settings)

    threading.Thread(target=announce, name="demo-announce", daemon=True).start()
    serve(settings)


def send_outbox(settings: Settings) -> None:
    """Hand the replayed year's emails to the outbox (the same send path as any email), while the
    server starts: the pages don't wait for it."""
    from backstop.db import connect
    from backstop.email import providers, sending

    db = connect(settings.db_path)
    try:
        mailer = providers.mailer_for(settings)
        for (message_id,) in db.execute(
            "SELECT id FROM email_messages WHERE status = 'queued' ORDER BY id"
        ).fetchall():
            sending.send_message(db, settings, message_id, mailer)
    finally:
        db.conn.close()
