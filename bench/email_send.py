"""Email throughput: emails rendered and queued per second, and sent per second through the SES
transport against a local moto_server.

    .venv/bin/python bench/email.py [--count 500]

A report, not a test: numbers depend on the machine (and moto is slower than SES).
"""

# ruff: noqa: E402 - the import path is fixed before the imports below
from __future__ import annotations

import sys
from pathlib import Path

# This file is called email.py: run as a script, its folder comes first on the import path and
# would hide the standard library's ``email`` package, so take that folder off first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import os
import socket
import subprocess
import tempfile
import time

import boto3
import httpx

from backstop.db import connect, migrate, write_transaction
from backstop.email import providers, sending
from backstop.email.kinds import KINDS
from backstop.email.messages import queue_email
from backstop.lib.crypto import SecretBox
from backstop.settings import Settings
from backstop.workspaces.admins import create_admin
from backstop.workspaces.workspaces import create_workspace

SENDER = "billing@shared.bench.test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    moto = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/moto-api/data.json", timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("moto_server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    count = parser.parse_args().count

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    process, url = start_moto()
    os.environ["AWS_ENDPOINT_URL_SES"] = url
    try:
        boto3.client("ses", endpoint_url=url).verify_email_identity(EmailAddress=SENDER)
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                data_dir=Path(tmp), secret_key="b" * 48, email_transport="ses", shared_sender=SENDER,
                base_url="https://backstop.bench.test",
            )  # fmt: skip
            migrate(settings.db_path)
            db = connect(settings.db_path)
            admin = create_admin(db, "bench@bench.test", "a long bench password")
            ws, _ = create_workspace(db, SecretBox(settings.secret_key), "Bench Co", admin, "bench")
            context = KINDS["dunning_1"].sample

            started = time.perf_counter()
            ids = []
            for i in range(count):
                with write_transaction(db):  # one transaction per cause, as callers do
                    queued = queue_email(
                        db, settings, workspace_id=ws.id, kind="dunning_1", to_email=f"customer{i}@bench.test",
                        to_name=f"Customer {i}", context=context, dedupe_key=f"bench:{i}",
                    )  # fmt: skip
                ids.append(queued.id)
            queued_s = time.perf_counter() - started

            mailer = providers.mailer_for(settings)
            started = time.perf_counter()
            outcomes = [sending.send_message(db, settings, message_id, mailer) for message_id in ids]
            sent_s = time.perf_counter() - started
            delivered = len(httpx.get(f"{url}/moto-api/data.json").json()["ses"].get("RawMessage", []))
    finally:
        process.terminate()
        process.wait()

    assert outcomes.count("sent") == count == delivered, (outcomes[:3], delivered)
    print(f"emails: {count} (dunning step 1, HTML + text, CSS inlined)")
    print(f"rendered + queued: {count / queued_s:,.0f}/s ({queued_s * 1000 / count:.2f} ms each)")
    print(f"sent through SES (moto_server): {count / sent_s:,.0f}/s ({sent_s * 1000 / count:.2f} ms each)")


if __name__ == "__main__":
    main()
