"""Stripe webhook ingest: verified events per second and acknowledgement latency, real HTTP.

Starts the real `backstop serve` (uvicorn, jobs consumer in-process) on a temporary data
directory with a workspace connected by restricted key and a webhook signing secret, then
posts signed Stripe events of 2 to 5 KB to `POST /stripe/webhooks/{slug}` from separate load
processes over keep-alive connections. Bodies are built and signed before the clock starts; the
load processes only send bytes and read answers. Every 200 means the event row was committed
(the endpoint answers after the commit), and the script checks afterwards that each event is in
`stripe_events` exactly once, how many were still unprocessed at the last 200 and how long
processing took to catch up. In the same run, before Backstop, the same events go to
`bench/ingest_ceiling.py` (a bare Litestar app that only verifies and inserts, on uvicorn with
httptools and uvloop): Backstop should reach at least 80 % of its rate. Exits non-zero when an
event is refused, lost or stored twice, never on timing.

    .venv/bin/python bench/stripe_ingest.py [--events 10000] [--processes 2] [--connections 4]
        [--no-ceiling] [--profile FILE]
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
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BACKSTOP = Path(sys.executable).parent / "backstop"
WHSEC = "whsec_bench_endpoint_secret_0001"
SLUG = "bench"
TARGET_RATE = 1000
TARGET_P99_MS = 50
TARGET_RATIO = 0.80


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


def start_server(
    data_dir: Path, port: int, secret_key: str, keep_env: tuple[str, ...] = ()
) -> subprocess.Popen:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("BACKSTOP_") or k.startswith(keep_env or "\0")
    }
    env.update(
        BACKSTOP_DATA_DIR=str(data_dir),
        BACKSTOP_PORT=str(port),
        BACKSTOP_SECRET_KEY=secret_key,
        BACKSTOP_LOG_LEVEL="warning",
    )
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen([str(BACKSTOP), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    wait_healthy(process, port, data_dir / "server.log")
    return process


def start_ceiling(data_dir: Path, port: int) -> subprocess.Popen:
    log = open(data_dir / "ceiling.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "ingest_ceiling.py"),
            str(data_dir / "ceiling.db"),
            str(port),
            WHSEC,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_healthy(process, port, data_dir / "ceiling.log")
    return process


def wait_healthy(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the server did not start:\n" + log.read_text())


def percentile(sorted_ms: list[float], p: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, max(0, round(p / 100 * len(sorted_ms)) - 1))]


@dataclass
class Run:
    name: str
    elapsed: float
    latencies_ms: list[float]
    failures: int
    stored: int
    distinct: int
    backlog: int | None = None  # events stored but not yet processed when the last 200 arrived
    drain_s: float | None = None  # from the last 200 to every event processed
    processed: int | None = None

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.elapsed

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


def run_ceiling(data_dir: Path, bodies: list[bytes], args) -> Run:
    port = free_port()
    server = start_ceiling(data_dir, port)
    try:
        requests = [signed_request(body, port) for body in bodies]
        elapsed, latencies, failures = load(port, requests, args.processes, args.connections)
    finally:
        server.terminate()
        server.wait(timeout=30)
    with sqlite3.connect(data_dir / "ceiling.db") as db:
        stored, distinct = db.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone()
    return Run("ceiling", elapsed, sorted(x * 1000 for x in latencies), failures, stored, distinct)


def run_backstop(data_dir: Path, bodies: list[bytes], args, secret_key: str) -> Run:
    port = free_port()
    server = start_server(data_dir, port, secret_key)
    profiler = None
    try:
        requests = [signed_request(body, port) for body in bodies]
        if args.profile:
            profiler = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--pid",
                    str(server.pid),
                    "--format",
                    "raw",
                    "--output",
                    args.profile,
                    "--threads",
                    "--nonblocking",
                    "--rate",
                    "1000",
                ],
                stdout=subprocess.DEVNULL,
            )
        elapsed, latencies, failures = load(port, requests, args.processes, args.connections)
        load_end = time.perf_counter()
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=30)
        drain_s = None
        deadline = time.monotonic() + 300
        with sqlite3.connect(data_dir / "backstop.db") as db:
            stored, distinct = db.execute(
                "SELECT count(*), count(DISTINCT event_id) FROM stripe_events"
            ).fetchone()
            backlog = left = db.execute(
                "SELECT count(*) FROM stripe_events WHERE work_state != 'done'"
            ).fetchone()[0]
            while time.monotonic() < deadline:
                if left == 0:
                    drain_s = time.perf_counter() - load_end
                    break
                time.sleep(0.1)
                left = db.execute("SELECT count(*) FROM stripe_events WHERE work_state != 'done'").fetchone()[
                    0
                ]
            processed = db.execute(
                "SELECT count(*) FROM stripe_events WHERE outcome = 'processed'"
            ).fetchone()[0]
    finally:
        server.terminate()
        server.wait(timeout=30)
    return Run(
        "Backstop",
        elapsed,
        sorted(x * 1000 for x in latencies),
        failures,
        stored,
        distinct,
        backlog=backlog,
        drain_s=drain_s,
        processed=processed,
    )


def report(run: Run, expected: int) -> list[str]:
    """Print one run; return what is wrong with it (lost, duplicated or refused events)."""
    ms = run.latencies_ms
    print(
        f"{run.name:>9}: {run.rate:,.0f} events/s over {run.elapsed:.2f} s; p50 {run.p(50):.1f} ms, "
        f"p90 {run.p(90):.1f} ms, p99 {run.p(99):.1f} ms, max {ms[-1]:.1f} ms; failures {run.failures}; "
        f"stored {run.stored} rows, {run.distinct} distinct"
    )
    if run.backlog is not None:
        drained = (
            f"drained {run.drain_s:.1f} s after the last 200" if run.drain_s is not None else "NOT drained"
        )
        print(
            f"{'':>9}  backlog {run.backlog} unprocessed at the last 200, {drained}; processed {run.processed}"
        )
    problems = []
    if run.failures:
        problems.append(f"{run.name}: {run.failures} deliveries were not answered 200")
    if run.distinct != expected:
        problems.append(f"{run.name}: {expected - run.distinct} acknowledged events are missing")
    if run.stored != run.distinct:
        problems.append(f"{run.name}: {run.stored - run.distinct} events were stored twice")
    if run.processed is not None and run.drain_s is None:
        problems.append(f"{run.name}: processing did not catch up")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000, help="events per run")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="ceiling and Backstop runs, alternated (a shared machine drifts)",
    )
    parser.add_argument("--processes", type=int, default=2, help="load processes")
    parser.add_argument("--connections", type=int, default=4, help="keep-alive connections per process")
    parser.add_argument("--no-ceiling", action="store_true", help="run Backstop only")
    parser.add_argument(
        "--profile", metavar="FILE", help="sample backstop serve with py-spy during the load (folded stacks)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data directories and print them")
    args = parser.parse_args()

    secret_key = "b" * 48
    rng = random.Random(7)
    now = int(time.time())
    problems: list[str] = []
    pairs: list[tuple[Run | None, Run]] = []
    for round_no in range(args.rounds):
        data_dir = Path(tempfile.mkdtemp(prefix="backstop-bench-ingest-"))
        prepare(data_dir, secret_key)
        first = round_no * args.events
        bodies = [customer_event(n, rng.randint(2048, 5120), now) for n in range(first, first + args.events)]
        if round_no == 0:
            sizes = [len(b) for b in bodies]
            print(
                f"{args.rounds} × {len(bodies)} signed events ({min(sizes) // 1024}–{max(sizes) // 1024} KB, "
                f"mean {statistics.mean(sizes) / 1024:.1f} KB) from {args.processes} processes × "
                f"{args.connections} keep-alive connections"
            )
        print(f"round {round_no + 1}")
        ceiling = None if args.no_ceiling else run_ceiling(data_dir, bodies, args)
        if ceiling is not None:
            problems += report(ceiling, len(bodies))
        backstop = run_backstop(data_dir, bodies, args, secret_key)
        problems += report(backstop, len(bodies))
        if ceiling is not None:
            print(f"{'':>9}  Backstop / ceiling {backstop.rate / ceiling.rate:.0%}")
        pairs.append((ceiling, backstop))
        if args.keep:
            print(f"data directory: {data_dir}")

    rates = [b.rate for _, b in pairs]
    p99s = [b.p(99) for _, b in pairs]
    print(
        f"Backstop, median of {len(pairs)}: {statistics.median(rates):,.0f} events/s, "
        f"p50 {statistics.median(b.p(50) for _, b in pairs):.1f} ms, p99 {statistics.median(p99s):.1f} ms; "
        f"backlog at the last 200 {statistics.median(b.backlog or 0 for _, b in pairs):,.0f}, drained in "
        f"{statistics.median(b.drain_s or 0 for _, b in pairs):.1f} s"
    )
    if not args.no_ceiling:
        ceilings = [c.rate for c, _ in pairs if c is not None]
        print(
            f" ceiling, median of {len(pairs)}: {statistics.median(ceilings):,.0f} events/s, "
            f"p50 {statistics.median(c.p(50) for c, _ in pairs if c):.1f} ms, "
            f"p99 {statistics.median(c.p(99) for c, _ in pairs if c):.1f} ms"
        )
        ratio = statistics.median(b.rate / c.rate for c, b in pairs if c is not None)
        verdict = "meets" if ratio >= TARGET_RATIO else "misses"
        print(
            f"Backstop / ceiling, median of the rounds: {ratio:.0%} ({verdict} the target, ≥ {TARGET_RATIO:.0%})"
        )
    verdict = (
        "meets"
        if statistics.median(rates) >= TARGET_RATE and statistics.median(p99s) < TARGET_P99_MS
        else "misses"
    )
    print(f"Backstop {verdict} the absolute target (≥ {TARGET_RATE} events/s, p99 < {TARGET_P99_MS} ms)")
    if problems:
        # Timing never fails this script; a lost, doubled or refused event does.
        raise SystemExit("\n".join(problems))


if __name__ == "__main__":
    main()
