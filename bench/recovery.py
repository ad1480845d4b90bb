"""Recovery's figures: the cost of one scheduler tick, event-to-campaign and event-to-first-email latency.

1. Scheduler tick: a database with N open campaigns (each with its planned steps), of which D
   have a step due now. One tick is what the periodic ``recovery.run_due_steps`` task does: the
   due-steps query plus enqueuing a task per due step into a real jobs.db. Target: < 50 ms for
   100,000 open campaigns with 100 due.
2. Event to campaign visible: a real ``backstop serve`` (with its in-process jobs consumer),
   connected to the project's fake Stripe; a renewal fails in the fake, the signed
   invoice.payment_failed is posted to the server's webhook endpoint, and we time until
   GET /api/v1/campaigns lists the campaign. Target: p95 < 1 s.
3. Event to first dunning email handed to the transport: for the same events, until the campaign's
   first dunning email is handed to the configured transport (``sent_at`` set; the default
   ``outbox`` transport, so no mail leaves the machine). Target: p95 < 5 s.

    .venv/bin/python bench/recovery.py                  # both
    .venv/bin/python bench/recovery.py --campaigns 100000 --due 100 --latency-samples 30
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backstop import clock  # noqa: E402
from backstop.db import connect, migrate, write_transaction  # noqa: E402


def build_campaigns(db, workspace_id: int, count: int, due: int) -> None:
    now = clock.now()
    later = clock.iso(now + timedelta(days=3))
    past = clock.iso(now - timedelta(minutes=1))
    opened = clock.iso(now)
    with write_transaction(db):
        db.conn.executemany(
            "INSERT INTO campaigns (id, workspace_id, invoice_id, customer_id, subscription_id, amount_due, currency, "
            "decline_code, first_failed_at, opened_at) VALUES (?, ?, ?, ?, ?, 4900, 'usd', 'insufficient_funds', ?, ?)",
            [
                (i, workspace_id, f"in_{i}", f"cus_{i}", f"sub_{i}", opened, opened)
                for i in range(1, count + 1)
            ],
        )
        steps = []
        for i in range(1, count + 1):
            first_due = past if i <= due else later
            steps += [
                (i, workspace_id, "retry", 1, first_due),
                (i, workspace_id, "dunning", 2, later),
                (i, workspace_id, "dunning", 3, later),
                (i, workspace_id, "dunning", 4, later),
                (i, workspace_id, "terminal", 1, later),
            ]
        db.conn.executemany(
            "INSERT INTO recovery_steps (campaign_id, workspace_id, kind, seq, due_at) VALUES (?, ?, ?, ?, ?)",
            steps,
        )


def scheduler_tick(count: int, due: int, repeats: int) -> None:
    from backstop.recovery import steps
    from backstop.settings import Settings
    from jobs import queue
    from jobs.recovery import run_step

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), secret_key="b" * 48)
        migrate(settings.db_path)
        db = connect(settings.db_path)
        db.execute(
            "INSERT INTO workspaces (id, slug, name, embed_secret_enc, created_at) VALUES (1, 'bench', 'Bench', 'x', ?)",
            [clock.iso()],
        )
        started = time.perf_counter()
        build_campaigns(db, 1, count, due)
        print(
            f"built {count:,} open campaigns ({count * 5:,} planned steps, {due} due) in {time.perf_counter() - started:.1f} s"
        )
        queue.configure(settings)  # a real jobs.db: enqueuing is part of the tick's cost
        timings = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            ids = steps.due_step_ids(db)
            for step_id in ids:
                run_step(step_id)
            timings.append((time.perf_counter() - t0) * 1000)
            queue.huey.flush()
        query_only = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            steps.due_step_ids(db)
            query_only.append((time.perf_counter() - t0) * 1000)
        assert len(ids) == due, (len(ids), due)
        print(
            f"scheduler tick (query + enqueue {due} tasks): median {statistics.median(timings):.1f} ms, "
            f"max {max(timings):.1f} ms over {repeats} ticks   [target < 50 ms]"
        )
        print(f"  of which the due-steps query: median {statistics.median(query_only):.2f} ms")
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT s.id FROM recovery_steps s LEFT JOIN recovery_settings r "
            "ON r.workspace_id = s.workspace_id WHERE s.work_state = 'pending' AND s.due_at <= ? "
            "AND r.paused_at IS NULL ORDER BY s.due_at LIMIT 200",
            [clock.iso()],
        ).fetchall()
        print("  query plan: " + "; ".join(r[-1] for r in plan))
        db.conn.close()


def event_latency(samples: int) -> None:
    import httpx

    from backstop.stripe_sync.signature import signature_header
    from tests.fake_stripe import FakeStripe

    fake = FakeStripe()
    fake.start()
    tmp = tempfile.mkdtemp()
    data = Path(tmp) / "data"
    data.mkdir()
    env = {
        **os.environ,
        "BACKSTOP_DATA_DIR": str(data),
        "BACKSTOP_STRIPE_API_BASE": fake.url,
        "BACKSTOP_STRIPE_CONNECT_BASE": fake.url,
        "BACKSTOP_LOG_LEVEL": "warning",
    }
    for name in [
        n
        for n in env
        if n.startswith("BACKSTOP_")
        and n
        not in (
            "BACKSTOP_DATA_DIR",
            "BACKSTOP_STRIPE_API_BASE",
            "BACKSTOP_STRIPE_CONNECT_BASE",
            "BACKSTOP_LOG_LEVEL",
        )
    ]:
        env.pop(name)
    bin_dir = Path(sys.executable).parent
    whsec = "whsec_benchmark_secret_123456"
    created = json.loads(
        subprocess.run(
            [str(bin_dir / "backstop"), "workspace", "create", "--name", "Bench", "--json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    key = fake.add_key()
    from backstop.lib.crypto import SecretBox
    from backstop.settings import Settings, ensure_secret_key
    from backstop.stripe_sync import connection

    settings = ensure_secret_key(Settings(data_dir=data))
    db = connect(settings.db_path)
    ws_id = db.execute("SELECT id FROM workspaces WHERE slug = ?", [created["slug"]]).fetchone()[0]
    connection.save_key_connection(
        db, SecretBox(settings.secret_key), ws_id, key, False, webhook_secret=whsec, polling=False
    )
    db.conn.close()
    token = subprocess.run(
        [str(bin_dir / "backstop"), "token", "create", "--workspace", created["slug"], "--name", "bench"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env["BACKSTOP_PORT"] = str(port)
    server = subprocess.Popen([str(bin_dir / "backstop"), "serve"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        latencies = []
        to_email = []
        headers = {"Authorization": f"Bearer {token}"}
        watch = connect(settings.db_path)
        for i in range(samples):
            story = fake.customer_with_declining_card("insufficient_funds", email=f"bench{i}@example.com")
            fake.renewal_fails(story.subscription["id"])
            event = fake.events("invoice.payment_failed")[0]
            body = json.dumps(event).encode()
            t0 = time.perf_counter()
            r = httpx.post(
                f"{base}/stripe/webhooks/{created['slug']}",
                content=body,
                headers={
                    "Stripe-Signature": signature_header(whsec, body),
                    "Content-Type": "application/json",
                },
            )
            assert r.status_code == 200, r.text
            invoice_id = event["data"]["object"]["id"]
            while True:
                listed = httpx.get(f"{base}/api/v1/campaigns?limit=5", headers=headers).json()
                if any(
                    c.get("invoice_id") == invoice_id or c.get("invoice") == invoice_id
                    for c in listed.get("data", [])
                ):
                    break
                if time.perf_counter() - t0 > 15:
                    raise SystemExit("campaign never appeared")
                time.sleep(0.02)
            latencies.append(time.perf_counter() - t0)
            dedupe = f"dunning:{invoice_id}:1"
            while not watch.execute(
                "SELECT 1 FROM email_messages WHERE dedupe_key = ? AND sent_at IS NOT NULL", [dedupe]
            ).fetchone():
                if time.perf_counter() - t0 > 60:
                    raise SystemExit("the first dunning email was never handed to the transport")
                time.sleep(0.02)
            to_email.append(time.perf_counter() - t0)
        watch.conn.close()
        latencies.sort()
        to_email.sort()
        email_p95 = to_email[max(0, round(0.95 * len(to_email)) - 1)]
        p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
        print(
            f"event to campaign visible: p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {latencies[-1] * 1000:.0f} ms over {samples} events   [target p95 < 1 s]"
        )
        print(
            f"event to first dunning email handed to the transport: p50 {statistics.median(to_email) * 1000:.0f} ms, "
            f"p95 {email_p95 * 1000:.0f} ms, max {to_email[-1] * 1000:.0f} ms over {samples} events   "
            "[target p95 < 5 s]"
        )
    finally:
        server.terminate()
        server.wait(20)
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--campaigns", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--latency-samples", type=int, default=20)
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    scheduler_tick(args.campaigns, args.due, args.repeats)
    if not args.skip_latency:
        event_latency(args.latency_samples)


if __name__ == "__main__":
    main()
