"""A real `backstop serve` SIGKILLed while signed events pour in: no event that got a 200 is lost."""

from __future__ import annotations

import queue as queues
import signal
import threading
import time
from datetime import timedelta

import httpx
import time_machine

from backstop import clock
from backstop.db import connect as open_db
from backstop.db import migrate
from backstop.lib.crypto import SecretBox
from backstop.settings import Settings
from backstop.stripe_sync import connection
from backstop.workspaces.admins import create_admin
from backstop.workspaces.workspaces import create_workspace
from jobs import queue
from jobs.sweeper import sweep_once
from tests.conftest import start_live_server
from tests.stripe_sync.support import restricted_key

WHSEC = "whsec_acme_endpoint_secret_1234"
SECRET_KEY = "k" * 48
SENDERS = 8


def fake_activity(fake, stripe_client, customers: int) -> list[dict]:
    for n in range(customers):
        cus = fake.create_customer(email=f"k{n}@example.com", name=f"Kim {n}")
        stripe_client.v1.customers.update(cus["id"], params={"name": f"Kim {n} renamed"})
        stripe_client.v1.customers.update(cus["id"], params={"metadata": {"plan": "pro"}})
    return list(reversed(fake.events()))


def send_all(url: str, fake, events: list[dict], kill_after: int, server) -> dict[str, int]:
    """Post every event from several threads; SIGKILL the server once `kill_after` were acknowledged.
    Returns the status each event got (0: no answer)."""
    todo: queues.Queue = queues.Queue()
    for event in events:
        todo.put(event)
    answers: dict[str, int] = {}
    lock = threading.Lock()
    killed = threading.Event()

    def sender() -> None:
        with httpx.Client(timeout=10) as http:
            while True:
                try:
                    event = todo.get_nowait()
                except queues.Empty:
                    return
                body, headers = fake.webhooks.signed(event, WHSEC)
                try:
                    status = http.post(
                        f"{url}/stripe/webhooks/acme", content=body, headers=headers
                    ).status_code
                except httpx.HTTPError:
                    status = 0
                with lock:
                    answers[event["id"]] = status
                    acked = sum(1 for s in answers.values() if s == 200)
                if acked >= kill_after and not killed.is_set():
                    killed.set()
                    server.process.send_signal(signal.SIGKILL)

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return answers


def stored_events(settings: Settings) -> dict[str, dict]:
    db = open_db(settings.db_path)
    try:
        rows = db.execute("SELECT event_id, work_state, outcome FROM stripe_events").fetchall()
        return {r["event_id"]: dict(r) for r in rows}
    finally:
        db.conn.close()


def wait_until(predicate, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_a_kill_during_ingest_loses_no_acknowledged_event(tmp_path, fake_stripe, stripe_client):
    data_dir = tmp_path / "live-data"
    data_dir.mkdir()
    settings = Settings(data_dir=data_dir, secret_key=SECRET_KEY, stripe_api_base=fake_stripe.url)
    migrate(settings.db_path)
    db = open_db(settings.db_path)
    box = SecretBox(SECRET_KEY)
    olivia = create_admin(db, "olivia@acme.test", "olivia-owns-the-shop")
    acme, _ = create_workspace(db, box, "Acme Analytics", olivia, "acme")
    connection.save_key_connection(
        db, box, acme.id, restricted_key(fake_stripe), False, webhook_secret=WHSEC, polling=False
    )
    db.conn.close()
    env = {
        "BACKSTOP_SECRET_KEY": SECRET_KEY,
        "BACKSTOP_STRIPE_API_BASE": fake_stripe.url,
        "BACKSTOP_STRIPE_RATE_LIMIT": "1000",
        "BACKSTOP_LOG_LEVEL": "warning",
    }
    events = fake_activity(fake_stripe, stripe_client, 200)  # 600 events
    server = start_live_server(data_dir, env)
    try:
        answers = send_all(server.url, fake_stripe, events, kill_after=250, server=server)
    finally:
        server.stop()
    assert server.process.returncode == -signal.SIGKILL
    acked = {event_id for event_id, status in answers.items() if status == 200}
    unanswered = [e for e in events if answers.get(e["id"]) != 200]
    assert len(acked) >= 250 and unanswered, "the kill came too late to test anything"
    assert set(answers.values()) <= {0, 200}

    # Every acknowledged event survived the kill.
    after_kill = stored_events(settings)
    assert acked <= set(after_kill)

    # Back up: Stripe redelivers what got no 200; each event ends up stored once and processed.
    server = start_live_server(data_dir, env)
    try:
        again = send_all(server.url, fake_stripe, unanswered, kill_after=10**9, server=server)
        assert set(again.values()) == {200}
        everything = {e["id"] for e in events}

        def settled() -> bool:
            rows = stored_events(settings)
            return set(rows) == everything and all(
                r["work_state"] in ("done", "working") for r in rows.values()
            )

        assert wait_until(settled), (data_dir / "server.log").read_text()[-3000:]
    finally:
        server.stop()
    rows = stored_events(settings)
    assert len(rows) == len(events)
    # Rows the killed process had claimed wait for their lease to run out; then the sweeper takes them.
    held = [r for r in rows.values() if r["work_state"] == "working"]
    assert len(held) <= 2  # at most one per job worker of the killed process
    queue.configure(settings, immediate=True)
    with time_machine.travel(clock.now() + timedelta(minutes=3)):
        swept = sweep_once()
    assert swept.get("stripe_events", 0) == len(held)
    rows = stored_events(settings)
    assert {r["work_state"] for r in rows.values()} == {"done"}
    assert {r["outcome"] for r in rows.values()} == {"processed"}
