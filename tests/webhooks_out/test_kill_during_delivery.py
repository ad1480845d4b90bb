"""A server killed with SIGKILL while a delivery is in flight: after a restart the delivery is
made again and completed. The receiver gets the event at most once more (it may have processed
the first request, which is why receivers dedupe by id), and never loses it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
import stripe

from backstop.db import connect, migrate, write_transaction
from backstop.lib.crypto import SecretBox
from backstop.settings import Settings, ensure_secret_key
from backstop.webhooks_out import delivery, endpoints
from backstop.workspaces.admins import create_admin
from backstop.workspaces.tokens import create_token
from backstop.workspaces.workspaces import create_workspace
from tests.conftest import ROOT, LiveServer, free_port, start_live_server


def wait_for(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def serve_later(data_dir, seconds: float) -> LiveServer:
    port = free_port()
    env = {
        **os.environ,
        "BACKSTOP_DATA_DIR": str(data_dir),
        "BACKSTOP_PORT": str(port),
        "BACKSTOP_HOST": "127.0.0.1",
        "BACKSTOP_WEBHOOKS_ALLOW_PRIVATE": "true",
    }
    log = open(data_dir / "server-2.log", "wb")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.webhooks_out.serve_later", str(seconds)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    server = LiveServer(url, process, data_dir, env)
    wait_for(lambda: _healthy(url, process), "the restarted server")
    return server


def _healthy(url, process) -> bool:
    if process.poll() is not None:
        raise RuntimeError("the server exited")
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_delivery_cut_off_by_kill_9_is_delivered_after_restart(tmp_path, receiver):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = ensure_secret_key(Settings(data_dir=data_dir))
    migrate(settings.db_path)
    db = connect(settings.db_path)
    box = SecretBox(settings.secret_key)
    admin = create_admin(db, "olivia@acme.test", "olivia-owns-the-shop")
    ws, _ = create_workspace(db, box, "Acme", admin, "acme")
    _, token = create_token(db, ws.id, "backend", livemode=False)
    with write_transaction(db):
        endpoint, secret = endpoints.create_endpoint(
            db, box, ws.id, url=receiver.url, events=["recovery.opened"], allow_private=True
        )
    receiver.hang = threading.Event()  # the first request is held open: the server waits on it

    first = start_live_server(data_dir, {"BACKSTOP_WEBHOOKS_ALLOW_PRIVATE": "true"})
    second = None
    try:
        answer = httpx.post(
            f"{first.url}/api/v1/webhook_endpoints/{endpoint.public_id}/test",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 202, answer.text
        event_id = answer.json()["id"]
        assert receiver.arrived.wait(20), "the delivery never started"
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=20)
        receiver.hang.set()  # the receiver answers, to a process that is gone
        (row,) = delivery.deliveries_for(db, endpoint.id)
        assert (row["work_state"], row["status"]) == ("working", "pending")  # claimed, never finished

        # Restarted after the dead worker's lease (30 s) has run out; the start-up sweep finds it.
        second = serve_later(data_dir, delivery.LEASE.total_seconds() + 5)
        wait_for(
            lambda: delivery.deliveries_for(db, endpoint.id)[0]["status"] == "delivered", "the redelivery"
        )
    finally:
        for server in (first, second):
            if server is not None:
                server.stop()
    (row,) = delivery.deliveries_for(db, endpoint.id)
    assert row["work_state"] == "done" and row["attempts"] == 2
    assert len(receiver.requests) == 2  # once more, not more
    for got in receiver.requests:
        event = stripe.Webhook.construct_event(got.body, got.headers["x-backstop-signature"], secret)
        assert event["id"] == event_id
    assert receiver.requests[0].body == receiver.requests[1].body
    db.conn.close()
