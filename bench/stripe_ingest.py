"""Stripe webhook ingest: verified events per second and acknowledgement latency, real HTTP.

Starts the real `backstop serve` (uvicorn, jobs consumer in-process) on a temporary data
directory with a workspace connected by restricted key and a webhook signing secret, then
posts signed Stripe events of 2 to 5 KB to `POST /stripe/webhooks/{slug}` from separate load
processes over keep-alive connections. Bodies are built and signed before the clock starts; the
load processes only send bytes and read answers. Every 200 means the event row was committed
(the endpoint answers after the commit), and the script checks afterwards that each event is in
`stripe_events` exactly once. Target: at least 1,000 events/s with p99 under 50 ms.

    .venv/bin/python bench/stripe_ingest.py [--events 10000] [--processes 2] [--connections 4]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BACKSTOP = Path(sys.executable).parent / "backstop"
WHSEC = "whsec_bench_endpoint_secret_0001"
SLUG = "bench"
TARGET_RATE = 1000
TARGET_P99_MS = 50


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(data_dir: Path, secret_key: str) -> None:
    """A workspace connected with a restricted key and a webhook secret, as after `stripe connect`."""
    sys.path.insert(0, str(ROOT))
    from backstop.db import migrate, opened
    from backstop.lib.crypto import SecretBox
    from backstop.stripe_sync import connection
    from backstop.workspaces.admins import create_admin
    from backstop.workspaces.workspaces import create_workspace

    db_path = data_dir / "backstop.db"
    migrate(db_path)
    box = SecretBox(secret_key)
    with opened(db_path) as db:
        owner = create_admin(db, "bench@example.com", "bench-password-123")
        ws, _ = create_workspace(db, box, "Bench", owner, SLUG)
        connection.save_key_connection(
            db, box, ws.id, "rk_test_benchRestrictedKey0001", False, webhook_secret=WHSEC, polling=False
        )


def customer_event(n: int, size: int, created: int) -> bytes:
    """A `customer.updated` event shaped like Stripe's, padded with metadata to about `size` bytes."""
    customer = {
        "id": f"cus_bench{n:08d}",
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": created - 86_400,
        "currency": "usd",
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": f"customer{n}@example.com",
        "invoice_prefix": f"B{n:07d}",
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": f"pm_bench{n:08d}",
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": f"Customer {n}",
        "next_invoice_sequence": 2,
        "phone": None,
        "preferred_locales": ["en"],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
    event = {
        "id": f"evt_bench{n:010d}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created,
        "data": {"object": customer, "previous_attributes": {"name": f"Old name {n}"}},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": f"req_bench{n:010d}", "idempotency_key": None},
        "type": "customer.updated",
    }
    body = json.dumps(event, indent=2)
    pad = 0
    while len(body) < size:
        customer["metadata"][f"note_{pad}"] = "x" * 80
        pad += 1
        body = json.dumps(event, indent=2)
    return body.encode()


def signed_request(body: bytes, port: int) -> bytes:
    t = int(time.time())
    digest = hmac.new(WHSEC.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    head = (
        f"POST /stripe/webhooks/{SLUG} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Stripe-Signature: t={t},v1={digest}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _send(job: tuple[int, list[bytes]]) -> tuple[list[float], int]:
    """One keep-alive connection sending its requests back to back; returns latencies and failures."""
    port, requests = job
    latencies: list[float] = []
    failures = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.connect()
    for raw in requests:
        started = time.perf_counter()
        conn.sock.sendall(raw)
        response = http.client.HTTPResponse(conn.sock, method="POST")
        response.begin()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200:
            failures += 1
    conn.close()
    return latencies, failures


def _send_streams(job: tuple[int, list[list[bytes]]]) -> tuple[list[float], int]:
    """One load process: a thread per keep-alive connection."""
    from concurrent.futures import ThreadPoolExecutor

    port, streams = job
    with ThreadPoolExecutor(len(streams)) as threads:
        results = list(threads.map(_send, [(port, stream) for stream in streams]))
    return [x for lat, _ in results for x in lat], sum(f for _, f in results)


def load(
    port: int, requests: list[bytes], processes: int, connections: int
) -> tuple[float, list[float], int]:
    streams = processes * connections
    split = [requests[i::streams] for i in range(streams)]
    jobs = [(port, split[p * connections : (p + 1) * connections]) for p in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.map(_warm, range(processes))  # every load process is up before the clock starts
        started = time.perf_counter()
        results = pool.map(_send_streams, jobs, chunksize=1)
        elapsed = time.perf_counter() - started
    return elapsed, [x for lat, _ in results for x in lat], sum(f for _, f in results)


def _warm(_: int) -> None:
    time.sleep(0.2)


def start_server(data_dir: Path, port: int, secret_key: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKSTOP_")}
    env.update(
        BACKSTOP_DATA_DIR=str(data_dir),
        BACKSTOP_PORT=str(port),
        BACKSTOP_SECRET_KEY=secret_key,
        BACKSTOP_LOG_LEVEL="warning",
    )
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen([str(BACKSTOP), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the server did not start:\n" + (data_dir / "server.log").read_text())


def percentile(sorted_ms: list[float], p: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, max(0, round(p / 100 * len(sorted_ms)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2, help="load processes")
    parser.add_argument("--connections", type=int, default=4, help="keep-alive connections per process")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and print it")
    args = parser.parse_args()

    secret_key = "b" * 48
    tmp = tempfile.mkdtemp(prefix="backstop-bench-ingest-")
    data_dir = Path(tmp)
    prepare(data_dir, secret_key)
    port = free_port()
    rng = random.Random(7)
    now = int(time.time())
    bodies = [customer_event(n, rng.randint(2048, 5120), now) for n in range(args.events)]
    server = start_server(data_dir, port, secret_key)
    try:
        requests = [signed_request(body, port) for body in bodies]
        elapsed, latencies, failures = load(port, requests, args.processes, args.connections)
        load_end = time.perf_counter()
        drain_s = None
        deadline = time.monotonic() + 300
        with sqlite3.connect(data_dir / "backstop.db") as db:
            stored, distinct = db.execute(
                "SELECT count(*), count(DISTINCT event_id) FROM stripe_events"
            ).fetchone()
            while time.monotonic() < deadline:
                left = db.execute("SELECT count(*) FROM stripe_events WHERE work_state != 'done'").fetchone()[
                    0
                ]
                if left == 0:
                    drain_s = time.perf_counter() - load_end
                    break
                time.sleep(0.1)
            processed = db.execute(
                "SELECT count(*) FROM stripe_events WHERE outcome = 'processed'"
            ).fetchone()[0]
    finally:
        server.terminate()
        server.wait(timeout=30)

    ms = sorted(x * 1000 for x in latencies)
    sizes = [len(b) for b in bodies]
    rate = len(latencies) / elapsed
    print(
        f"{len(latencies)} signed events ({min(sizes) // 1024}–{max(sizes) // 1024} KB, mean "
        f"{statistics.mean(sizes) / 1024:.1f} KB) from {args.processes} processes × {args.connections} "
        f"keep-alive connections"
    )
    print(f"acknowledged: {rate:,.0f} events/s over {elapsed:.2f} s; failures {failures}")
    print(
        f"latency: p50 {percentile(ms, 50):.1f} ms, p90 {percentile(ms, 90):.1f} ms, "
        f"p99 {percentile(ms, 99):.1f} ms, max {ms[-1]:.1f} ms"
    )
    print(f"stored: {stored} rows, {distinct} distinct events; processed {processed}")
    if drain_s is not None:
        print(f"processing: every event processed {drain_s:.1f} s after the last acknowledgement")
    verdict = "meets" if rate >= TARGET_RATE and percentile(ms, 99) < TARGET_P99_MS else "misses"
    print(f"{verdict} the target (≥ {TARGET_RATE} events/s, p99 < {TARGET_P99_MS} ms)")
    if args.keep:
        print(f"data directory: {data_dir}")


if __name__ == "__main__":
    main()
