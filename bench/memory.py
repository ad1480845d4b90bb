"""Memory under load: resident size of `backstop serve` after a large backfill and a long burst.

Runs the fake Stripe in its own process, seeded with customers that each have a card, and
connects a workspace to it with a restricted key and a webhook signing secret in a temporary
data directory. Then starts the real `backstop serve` on it, which syncs every customer (the
backfill the connection starts, paced at `--rate` requests/s), and, once that is done, posts
`--events` signed `customer.updated` events of 2 to 5 KB from separate load processes (as
`bench/stripe_ingest.py` does, but each process builds and signs its events as it goes, so the
signatures stay fresh over a long run). It reads VmRSS / VmHWM from /proc after start-up, after
the sync, and after every event is processed, and checks that each event is stored once.
Target: RSS under 250 MB.

    .venv/bin/python bench/memory.py [--customers 10000] [--events 100000] [--rate 100]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import stripe_backfill  # noqa: E402 - the fake Stripe's process and its key
import stripe_ingest  # noqa: E402 - the events, their signing and the server start

TARGET_MB = 250
SECRET_KEY = "b" * 48


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def prepare(data_dir: Path, fake_url: str) -> None:
    sys.path.insert(0, str(ROOT))
    from backstop.db import migrate, opened
    from backstop.lib.crypto import SecretBox
    from backstop.settings import Settings
    from backstop.stripe_sync import service
    from backstop.workspaces.admins import create_admin
    from backstop.workspaces.workspaces import create_workspace

    settings = Settings(
        data_dir=data_dir, secret_key=SECRET_KEY, stripe_api_base=fake_url, stripe_connect_base=fake_url
    )
    migrate(settings.db_path)
    box = SecretBox(SECRET_KEY)
    with opened(settings.db_path) as db:
        owner = create_admin(db, "bench@example.com", "bench-password-123")
        ws, _ = create_workspace(db, box, "Bench", owner, stripe_ingest.SLUG)
        # Starts the backfill row that the server's jobs pick up when it starts.
        service.connect_restricted_key(
            db, box, settings, ws.id, stripe_ingest.SLUG, stripe_backfill.KEY, stripe_ingest.WHSEC
        )


def _sender(job: tuple[int, range, int]) -> tuple[int, int]:
    """One keep-alive connection: build, sign and send events in `numbers`; (sent, failures)."""
    port, numbers, seed = job
    rng = random.Random(seed)
    # Sixty-four bodies of 2 to 5 KB, each event given its own ids (same width) as it is sent.
    templates = [
        stripe_ingest.customer_event(0, rng.randint(2048, 5120), int(time.time())) for _ in range(64)
    ]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.connect()
    failures = 0
    for n in numbers:
        body = (
            templates[n % 64]
            .replace(b"evt_bench0000000000", b"evt_bench%010d" % n)
            .replace(b"req_bench0000000000", b"req_bench%010d" % n)
            .replace(b"cus_bench00000000", b"cus_bench%08d" % n)
        )
        conn.sock.sendall(stripe_ingest.signed_request(body, port))
        response = http.client.HTTPResponse(conn.sock, method="POST")
        response.begin()
        response.read()
        failures += response.status != 200
    conn.close()
    return len(numbers), failures


def _process(job: tuple[int, list[range], int]) -> tuple[int, int]:
    from concurrent.futures import ThreadPoolExecutor

    port, streams, seed = job
    with ThreadPoolExecutor(len(streams)) as threads:
        results = list(threads.map(_sender, [(port, s, seed + i) for i, s in enumerate(streams)]))
    return sum(r[0] for r in results), sum(r[1] for r in results)


def send_events(port: int, events: int, processes: int, connections: int) -> tuple[float, int, int]:
    streams = processes * connections
    ranges = [range(i, events, streams) for i in range(streams)]
    jobs = [(port, ranges[p * connections : (p + 1) * connections], p * 100) for p in range(processes)]
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(_process, jobs, chunksize=1)
    return time.perf_counter() - started, sum(r[0] for r in results), sum(r[1] for r in results)


def wait_for(db: sqlite3.Connection, sql: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.execute(sql).fetchone()[0]:
            return True
        time.sleep(0.5)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=100, help="Backstop's Stripe request rate (req/s)")
    parser.add_argument("--processes", type=int, default=2, help="load processes")
    parser.add_argument("--connections", type=int, default=4, help="keep-alive connections per process")
    args = parser.parse_args()

    parent, child = multiprocessing.Pipe()
    fake = multiprocessing.get_context("spawn").Process(
        target=stripe_backfill.run_fake, args=(child, args.customers, 0), daemon=True
    )
    fake.start()
    fake_url = parent.recv()
    data_dir = Path(tempfile.mkdtemp(prefix="backstop-bench-memory-"))
    prepare(data_dir, fake_url)
    port = stripe_ingest.free_port()
    os.environ.update(
        BACKSTOP_STRIPE_API_BASE=fake_url,
        BACKSTOP_STRIPE_CONNECT_BASE=fake_url,
        BACKSTOP_STRIPE_RATE_LIMIT=str(args.rate),
    )
    server = stripe_ingest.start_server(data_dir, port, SECRET_KEY, keep_env=("BACKSTOP_STRIPE_",))
    problems = []
    try:
        rows = [("started", *rss_mb(server.pid))]
        db = sqlite3.connect(data_dir / "backstop.db")
        started = time.perf_counter()
        if not wait_for(db, "SELECT count(*) FROM stripe_backfills WHERE work_state = 'done'", 1800):
            problems.append("the backfill did not finish")
        customers = db.execute("SELECT count(*) FROM stripe_customers").fetchone()[0]
        print(f"synced {customers:,} customers in {time.perf_counter() - started:.0f} s ({args.rate} req/s)")
        if customers < args.customers:
            problems.append(f"only {customers} of {args.customers} customers were synced")
        rows.append((f"{customers:,} customers synced", *rss_mb(server.pid)))

        elapsed, sent, failures = send_events(port, args.events, args.processes, args.connections)
        print(f"sent {sent:,} events in {elapsed:.0f} s ({sent / elapsed:,.0f}/s); failures {failures}")
        if not wait_for(db, "SELECT count(*) = 0 FROM stripe_events WHERE work_state != 'done'", 600):
            problems.append("processing did not catch up")
        stored, distinct = db.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM stripe_events"
        ).fetchone()
        if failures or stored != args.events or distinct != args.events:
            problems.append(
                f"{failures} failures, {stored} rows for {distinct} distinct of {args.events} events"
            )
        rows.append((f"+ {stored:,} events ingested and processed", *rss_mb(server.pid)))
        time.sleep(5)
        rows.append(("5 s later", *rss_mb(server.pid)))
        db.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        parent.send(("stop",))
        fake.join(timeout=10)

    print(f"{'':<40} {'RSS':>8} {'peak':>8}")
    for label, rss, peak in rows:
        print(f"{label:<40} {rss:>6.0f} MB {peak:>6.0f} MB")
    worst = max(peak for _, _, peak in rows)
    verdict = "meets" if worst < TARGET_MB else "misses"
    print(f"{verdict} the target (RSS < {TARGET_MB} MB at every point, peak included)")
    if problems:
        raise SystemExit("\n".join(problems))


if __name__ == "__main__":
    main()
